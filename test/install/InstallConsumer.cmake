# cmake -P script behind the install-consumer test (see CMakeLists.txt).
#   FLIGHTLLM_BINARY_DIR  the FlightLLM build tree to install
#   CONSUMER_SOURCE_DIR   the consumer project
#   WORK_DIR              scratch directory, wiped first
#   GENERATOR, CXX_COMPILER, CXX_COMPILER_LAUNCHER, BUILD_TYPE  for the consumer
cmake_minimum_required(VERSION 3.25)

foreach(_var FLIGHTLLM_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "install-consumer: ${_var} is not set")
  endif()
endforeach()

set(_prefix ${WORK_DIR}/prefix)
set(_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step name)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "install-consumer: ${name} failed (${_rc})\n"
      "command: ${ARGN}\n${_out}\n${_err}")
  endif()
  set(STEP_OUTPUT "${_out}" PARENT_SCOPE)
endfunction()

# 1. Install the build tree.
run_step("cmake --install" ${CMAKE_COMMAND} --install ${FLIGHTLLM_BINARY_DIR}
  --prefix ${_prefix})
foreach(_path
    bin/flightllm-opt
    include/flightllm/InitAll.h
    include/flightllm/Dialect/Flight/FlightOps.td
    include/flightllm/Dialect/Flight/FlightOps.h.inc
    include/flightllm/Dialect/ONNX/ONNXOps.h.inc
    lib/libFlightLLMInitAll.a
    lib/cmake/FlightLLM/FlightLLMConfig.cmake
    lib/cmake/FlightLLM/FlightLLMConfigVersion.cmake
    lib/cmake/FlightLLM/FlightLLMTargets.cmake)
  if(NOT EXISTS ${_prefix}/${_path})
    message(FATAL_ERROR "install-consumer: ${_prefix}/${_path} was not installed")
  endif()
endforeach()
file(GLOB_RECURSE _headers RELATIVE ${_prefix}/include ${_prefix}/include/*)
foreach(_header IN LISTS _headers)
  if(NOT _header MATCHES "^flightllm/.*\\.(h|td|inc|def)$")
    message(FATAL_ERROR "install-consumer: unexpected file include/${_header}")
  endif()
endforeach()

# 2. The installed tool runs on its own (its RPATH finds libMLIR).
file(WRITE ${WORK_DIR}/input.mlir
  "func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
  "  %0 = \"onnx.Relu\"(%a) : (tensor<4xf32>) -> tensor<4xf32>\n"
  "  return %0 : tensor<4xf32>\n}\n")
run_step("installed flightllm-opt" ${_prefix}/bin/flightllm-opt
  ${WORK_DIR}/input.mlir)
if(NOT STEP_OUTPUT MATCHES "onnx.Relu")
  message(FATAL_ERROR "install-consumer: flightllm-opt printed:\n${STEP_OUTPUT}")
endif()

# 2b. The Python package (when built: FLIGHTLLM_BUILD_PYTHON) imports from the
# prefix alone, its extension finding libMLIR by RPATH, and flightllm-report
# finds it next to itself.
file(GLOB _python_package ${_prefix}/lib/python3*/dist-packages/flightllm/__init__.py)
if(_python_package)
  get_filename_component(_site ${_python_package} DIRECTORY)
  get_filename_component(_site ${_site} DIRECTORY)
  run_step("installed flightllm package" ${CMAKE_COMMAND} -E env PYTHONPATH=${_site}
    /usr/bin/python3 -c "print(sorted(o for o in __import__('flightllm').compile_options() if o.startswith('b')))")
  if(NOT STEP_OUTPUT MATCHES "buckets")
    message(FATAL_ERROR "install-consumer: the installed package printed:\n${STEP_OUTPUT}")
  endif()
  run_step("installed flightllm-report" ${_prefix}/bin/flightllm-report --help)
endif()

# 3. Configure, build and run the consumer against the prefix alone.
set(_configure ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${_build}
  -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${_prefix})
if(CXX_COMPILER)
  list(APPEND _configure -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(CXX_COMPILER_LAUNCHER)
  list(APPEND _configure -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER})
endif()
if(BUILD_TYPE)
  list(APPEND _configure -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
run_step("consumer configure" ${_configure})
run_step("consumer build" ${CMAKE_COMMAND} --build ${_build})
run_step("consumer run" ${_build}/flightllm-consumer)
message(STATUS "consumer output:\n${STEP_OUTPUT}")
foreach(_expected "\"onnx.Add\"" "flight.alloc act offset 128"
    "FlightLLM dialects: flight llm onnx" "buffer bits: 16384")
  string(FIND "${STEP_OUTPUT}" "${_expected}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "install-consumer: consumer output lacks '${_expected}'")
  endif()
endforeach()

message(STATUS "install-consumer: PASS")
