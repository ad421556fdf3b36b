//===- FuzzSupport.h - What the libFuzzer targets share ---------*- C++ -*-===//
//
// A fresh MLIRContext per input (uniqued attributes and resource blobs of one
// input must not pile up over millions of runs) with diagnostics swallowed:
// a fuzz input is expected to be refused, only crashes, sanitizer reports,
// leaks and time-outs are findings.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_FUZZ_FUZZSUPPORT_H
#define FLIGHTLLM_FUZZ_FUZZSUPPORT_H

#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Import/ONNXImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace flightllm::fuzz {

/// The dialects of the import and the raising (the flight dialect and the
/// lowering are not linked: the fuzzers stop at the llm program).
inline const mlir::DialectRegistry &registry() {
  static mlir::DialectRegistry *r = [] {
    auto *reg = new mlir::DialectRegistry();
    reg->insert<mlir::func::FuncDialect, mlir::tensor::TensorDialect,
                onnxir::ONNXDialect, llm::LLMDialect>();
    return reg;
  }();
  return *r;
}

/// A single-threaded context with every dialect loaded and diagnostics
/// dropped (FLIGHTLLM_FUZZ_VERBOSE=1 prints them, to see why an input is
/// refused).
struct FuzzContext {
  mlir::MLIRContext context{registry(), mlir::MLIRContext::Threading::DISABLED};
  mlir::ScopedDiagnosticHandler handler{
      &context, [](mlir::Diagnostic &d) {
        return mlir::success(!std::getenv("FLIGHTLLM_FUZZ_VERBOSE"));
      }};
  FuzzContext() {
    context.loadAllAvailableDialects();
    context.printOpOnDiagnostic(false);
  }
};

/// Drops an input's error (prints it with FLIGHTLLM_FUZZ_VERBOSE=1).
inline void refused(llvm::Error e) {
  if (std::getenv("FLIGHTLLM_FUZZ_VERBOSE"))
    llvm::errs() << "refused: " << llvm::toString(std::move(e)) << "\n";
  else
    llvm::consumeError(std::move(e));
}

inline llvm::StringRef asText(const uint8_t *data, size_t size) {
  return {reinterpret_cast<const char *>(data), size};
}

/// Inputs above this size are not run (libFuzzer keeps them out of the
/// corpus): they add time per run, not coverage. Raised when the
/// importer's size limits themselves are the target.
inline constexpr size_t kMaxModelBytes = 1 << 20;

/// The importer's --max-memory in the fuzzers: a fuzzed shape must not make
/// the process allocate gigabytes (libFuzzer would report an OOM).
inline constexpr uint64_t kImportBudgetBytes = 64ull << 20;

/// Imports a model held in `data` as the tools import a file, with the
/// fuzzers' memory budget and no external data (the model's directory does
/// not exist).
inline mlir::OwningOpRef<mlir::ModuleOp>
importModel(const uint8_t *data, size_t size, FuzzContext &fc,
            ONNXInputFormat format) {
  auto buffer = llvm::MemoryBuffer::getMemBuffer(
      asText(data, size), "fuzz-model", /*RequiresNullTerminator=*/false);
  ONNXImportOptions options;
  options.maxMemoryBytes = kImportBudgetBytes;
  return importONNXBuffer(*buffer, "/nonexistent-flightllm-fuzz", &fc.context,
                          options, format);
}

} // namespace flightllm::fuzz

#endif // FLIGHTLLM_FUZZ_FUZZSUPPORT_H
