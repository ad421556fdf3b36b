//===- Npy.h - numpy .npy files <-> HostTensor ------------------*- C++ -*-===//
//
// The tests compare against onnxruntime outputs saved as .npy, and the tools
// dump logits as .npy: version 1.0, little-endian, C order.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_REFERENCE_NPY_H
#define FLIGHTLLM_REFERENCE_NPY_H

#include "flightllm/Reference/HostTensor.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace flightllm::reference {

/// Reads a .npy file of a supported dtype (f2 f4 f8 i1..i8 u1..u8 b1).
llvm::Expected<HostTensor> readNpy(llvm::StringRef path);
/// Parses the bytes of a .npy file; `name` appears in error messages.
llvm::Expected<HostTensor> parseNpy(llvm::StringRef bytes, llvm::StringRef name);

/// Writes `t` as a .npy file (bf16 has no numpy dtype and is refused).
llvm::Error writeNpy(llvm::raw_ostream &os, const HostTensor &t);

} // namespace flightllm::reference

#endif // FLIGHTLLM_REFERENCE_NPY_H
