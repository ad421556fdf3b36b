# add_flightllm_library(name SRCS... [LINK_LIBS ...] [DEPENDS ...])
# A static library of ours, linked against the shared libMLIR.so (never the
# static MLIR archives), exported for find_package(FlightLLM).
function(add_flightllm_library name)
  cmake_parse_arguments(ARG "" "" "LINK_LIBS;DEPENDS" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  target_compile_options(${name} PRIVATE ${FLIGHTLLM_WARNING_FLAGS})
  target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS} MLIR LLVM)
  # A sanitizer build's libraries need the sanitizer runtimes wherever they
  # are linked (cmake/FlightLLMSanitizers.cmake).
  if(FLIGHTLLM_EXPORTED_LINK_OPTIONS)
    target_link_options(${name} INTERFACE ${FLIGHTLLM_EXPORTED_LINK_OPTIONS})
  endif()
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  set_property(GLOBAL APPEND PROPERTY FLIGHTLLM_EXPORTED_LIBS ${name})
endfunction()

# add_flightllm_tool(name SRCS... [LINK_LIBS ...])
function(add_flightllm_tool name)
  cmake_parse_arguments(ARG "" "" "LINK_LIBS" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_compile_options(${name} PRIVATE ${FLIGHTLLM_WARNING_FLAGS})
  target_link_libraries(${name} PRIVATE ${ARG_LINK_LIBS} MLIR LLVM)
  set_property(GLOBAL APPEND PROPERTY FLIGHTLLM_TOOLS ${name})
endfunction()
