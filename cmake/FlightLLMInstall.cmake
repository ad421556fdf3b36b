# Install tree: tools, headers (source and TableGen-generated), libraries and a
# CMake package so that another project can find_package(FlightLLM).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_flightllm_libs GLOBAL PROPERTY FLIGHTLLM_EXPORTED_LIBS)
get_property(_flightllm_tools GLOBAL PROPERTY FLIGHTLLM_TOOLS)

install(TARGETS ${_flightllm_libs}
  EXPORT FlightLLMTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${_flightllm_tools} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(DIRECTORY include/flightllm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${PROJECT_BINARY_DIR}/include/flightllm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.inc" PATTERN "*.td" PATTERN "*.h"
  PATTERN "CMakeFiles" EXCLUDE)

set(FLIGHTLLM_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/FlightLLM)
install(EXPORT FlightLLMTargets NAMESPACE FlightLLM::
  DESTINATION ${FLIGHTLLM_CMAKE_INSTALL_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/FlightLLMConfig.cmake.in
  ${PROJECT_BINARY_DIR}/FlightLLMConfig.cmake
  INSTALL_DESTINATION ${FLIGHTLLM_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/FlightLLMConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/FlightLLMConfig.cmake
  ${PROJECT_BINARY_DIR}/FlightLLMConfigVersion.cmake
  DESTINATION ${FLIGHTLLM_CMAKE_INSTALL_DIR})
