//===- main.cpp - flightllm-compile ---------------------------------------===//
//
//   flightllm-compile MODEL.onnx -o model.flb [--target=u280] [--report=r.json]
//   flightllm-compile MODEL.onnx --emit=flight --buckets=decode:16
//   flightllm-compile MODEL.onnx --emit=llm|onnx|summary
//   flightllm-compile EXPORT_DIR -o model.flb   (an optimum export directory)
//
// The driver itself (options, phases, outputs) is flightllm-compile.cpp, a
// library shared with the Python API.
//===----------------------------------------------------------------------===//

#include "flightllm/Driver/Compile.h"

#include "llvm/Support/InitLLVM.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  return flightllm::driver::compileMain(argc, argv);
}
