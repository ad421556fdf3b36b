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

# Tests run 5-40x slower in a sanitizer build (ASan + UBSan at -O1; measured
# in docs/testing.md), so every TIMEOUT is multiplied by
# FLIGHTLLM_TEST_TIMEOUT_SCALE there (1 elsewhere): the test directories call
# flightllm_scale_test_timeouts() once, which rescales their tests' TIMEOUTs
# when the directory is done; gtest cases take FLIGHTLLM_GTEST_TIMEOUT.
# scripts/check_test_timeouts.py checks the result against the measured times.
if(NOT FLIGHTLLM_SANITIZE STREQUAL "")
  set(_default_scale 10)
else()
  set(_default_scale 1)
endif()
set(FLIGHTLLM_TEST_TIMEOUT_SCALE ${_default_scale} CACHE STRING
  "Factor for every test TIMEOUT (10 in sanitizer builds)")
math(EXPR FLIGHTLLM_GTEST_TIMEOUT "300 * ${FLIGHTLLM_TEST_TIMEOUT_SCALE}")

function(flightllm_rescale_test_timeouts_now)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property(${test} TIMEOUT timeout)
    if(timeout)
      math(EXPR timeout "${timeout} * ${FLIGHTLLM_TEST_TIMEOUT_SCALE}")
      set_tests_properties(${test} PROPERTIES TIMEOUT ${timeout})
    endif()
  endforeach()
endfunction()

macro(flightllm_scale_test_timeouts)
  if(NOT FLIGHTLLM_TEST_TIMEOUT_SCALE EQUAL 1)
    cmake_language(DEFER CALL flightllm_rescale_test_timeouts_now)
  endif()
endmacro()
