# Install tree: tools, headers (source and TableGen-generated), libraries and a
# CMake package so that another project can find_package(FlightLLM):
#
#   <prefix>/bin/flightllm-opt ...
#   <prefix>/include/flightllm/...        .h, .td and generated .h.inc/.cpp.inc/.td
#   <prefix>/lib/libFlightLLM*.a
#   <prefix>/lib/cmake/FlightLLM/FlightLLM{Config,ConfigVersion,Targets}.cmake
#
# Included at the end of the top-level CMakeLists.txt, once every library and
# tool has registered itself through add_flightllm_library/add_flightllm_tool.
# test/install checks the tree with a separate consumer project.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_flightllm_libs GLOBAL PROPERTY FLIGHTLLM_EXPORTED_LIBS)
get_property(_flightllm_tools GLOBAL PROPERTY FLIGHTLLM_TOOLS)

# Consumers compile our headers, which need C++17 like MLIR's.
foreach(_lib IN LISTS _flightllm_libs)
  target_compile_features(${_lib} PUBLIC cxx_std_17)
endforeach()

install(TARGETS ${_flightllm_libs}
  EXPORT FlightLLMTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The tools link the shared libMLIR/libLLVM outside the default library path
# (/usr/lib/llvm-22/lib): keep that directory in the installed RPATH.
if(_flightllm_tools)
  set_target_properties(${_flightllm_tools} PROPERTIES
    INSTALL_RPATH_USE_LINK_PATH TRUE)
  install(TARGETS ${_flightllm_tools} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/flightllm
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${PROJECT_BINARY_DIR}/include/flightllm
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.inc" PATTERN "*.td" PATTERN "*.h"
  PATTERN "CMakeFiles" EXCLUDE)

set(FLIGHTLLM_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/FlightLLM)
install(EXPORT FlightLLMTargets NAMESPACE FlightLLM::
  DESTINATION ${FLIGHTLLM_CMAKE_INSTALL_DIR})

# Substituted into FlightLLMConfig.cmake.
set(FLIGHTLLM_CONFIG_LIBS ${_flightllm_libs})
set(FLIGHTLLM_CONFIG_TOOLS ${_flightllm_tools})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/FlightLLMConfig.cmake.in
  ${PROJECT_BINARY_DIR}/FlightLLMConfig.cmake
  INSTALL_DESTINATION ${FLIGHTLLM_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/FlightLLMConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/FlightLLMConfig.cmake
  ${PROJECT_BINARY_DIR}/FlightLLMConfigVersion.cmake
  DESTINATION ${FLIGHTLLM_CMAKE_INSTALL_DIR})
