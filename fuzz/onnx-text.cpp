//===- onnx-text.cpp - Fuzz: the ONNX text syntax importer ----------------===//
//
// flightllm-compile MODEL.onnxtxt --emit=onnx, in process: ONNX's text
// parser, the line map of the diagnostics and the importer (shape
// inference, the onnx dialect's verifiers).
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

using namespace flightllm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > fuzz::kMaxModelBytes)
    return -1;
  fuzz::FuzzContext fc;
  (void)fuzz::importModel(data, size, fc, ONNXInputFormat::Text);
  return 0;
}
