# Sanitizer and fuzzing configurations (issue 17; docs/testing.md).
#
#   -DFLIGHTLLM_SANITIZE=address,undefined   every target of ours built with
#       these sanitizers (gcc or clang), errors fatal; the whole ctest suite
#       runs in such a build. MLIR, LLVM, ONNX and protobuf stay
#       uninstrumented (Debian's libraries).
#   -DFLIGHTLLM_FUZZ=ON   (clang only) also instruments everything for
#       libFuzzer's coverage and builds the targets under fuzz/; implies
#       FLIGHTLLM_SANITIZE=address,undefined unless set otherwise.
#
# Both belong in a build directory of their own: the flags apply to every
# object, so ccache keeps them apart from the Release build's.

set(FLIGHTLLM_SANITIZE "" CACHE STRING
  "Sanitizers for every FlightLLM target, as -fsanitize= takes them (e.g. address,undefined)")
option(FLIGHTLLM_FUZZ "Build the libFuzzer targets under fuzz/ (clang)" OFF)

if(FLIGHTLLM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FLIGHTLLM_FUZZ needs clang (libFuzzer): configure "
      "with -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22")
  endif()
  if(FLIGHTLLM_SANITIZE STREQUAL "")
    set(FLIGHTLLM_SANITIZE "address,undefined" CACHE STRING "" FORCE)
  endif()
endif()

if(NOT FLIGHTLLM_SANITIZE STREQUAL "")
  # Every report is an error that stops the process (a test that only logs a
  # report would pass); frame pointers give whole stacks.
  set(FLIGHTLLM_SANITIZER_FLAGS
    -fsanitize=${FLIGHTLLM_SANITIZE} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_compile_options(${FLIGHTLLM_SANITIZER_FLAGS})
  add_link_options(${FLIGHTLLM_SANITIZER_FLAGS})
  # Static libraries of ours carry the flags to whoever links them (the
  # find_package(FlightLLM) consumer of test/install).
  set(FLIGHTLLM_EXPORTED_LINK_OPTIONS ${FLIGHTLLM_SANITIZER_FLAGS})
  message(STATUS "FlightLLM: sanitizers ${FLIGHTLLM_SANITIZE}")
endif()

if(FLIGHTLLM_FUZZ)
  # Coverage feedback for libFuzzer in every object; the fuzz targets alone
  # link libFuzzer's main (fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
  list(APPEND FLIGHTLLM_EXPORTED_LINK_OPTIONS -fsanitize=fuzzer-no-link)
endif()

if(NOT FLIGHTLLM_SANITIZE STREQUAL "")
  # Every executable of ours gets the runtime defaults of
  # cmake/SanitizerDefaultOptions.c (why: that file), added once all
  # directories are configured so no add_executable call needs to know.
  function(flightllm_add_sanitizer_defaults dir)
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target IN LISTS targets)
      get_target_property(type ${target} TYPE)
      if(type STREQUAL "EXECUTABLE")
        target_sources(${target} PRIVATE
          ${PROJECT_SOURCE_DIR}/cmake/SanitizerDefaultOptions.c)
      endif()
    endforeach()
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    foreach(subdir IN LISTS subdirs)
      flightllm_add_sanitizer_defaults(${subdir})
    endforeach()
  endfunction()
  cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR}
    CALL flightllm_add_sanitizer_defaults ${PROJECT_SOURCE_DIR})
endif()
