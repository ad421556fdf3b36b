//===- ONNXImporter.h - ONNX model -> onnx dialect --------------*- C++ -*-===//
//
// Reads an ONNX model (binary protobuf, or the ONNX text syntax) and builds a
// module holding one `func.func` of onnx dialect ops.
//
// Weights are not copied into the MLIR context element by element: tensors
// above a small size become DenseResourceElementsAttr blobs that point into
// the memory-mapped external data files (or take over the protobuf's raw
// bytes), so importing a model costs about its weight size in address space.
//
// All problems are reported as MLIR diagnostics on the given context; the
// locations are ONNX node names (with a line number for the text syntax).
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_IMPORT_ONNXIMPORTER_H
#define FLIGHTLLM_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llvm {
class MemoryBuffer;
} // namespace llvm

namespace flightllm {

struct ONNXImportOptions {
  /// Tensors with more bytes than this become resource blobs; smaller ones
  /// (shape constants, scalars) become plain dense attributes that folders
  /// can read cheaply.
  uint64_t denseAttrMaxBytes = 4096;
  /// Run ONNX shape inference to type intermediate values.
  bool inferShapes = true;
  /// When set, receives the path of every external data file the model's
  /// tensors read (once each), so that tools can refuse outputs naming them.
  std::vector<std::string> *externalDataFiles = nullptr;
  /// A memory budget in bytes (0: none; flightllm-compile --max-memory):
  /// a binary model, which is read into memory with its embedded weights,
  /// and the sum of its tensors (initializers and constants, at their
  /// declared sizes) must each fit in it. The file or the tensor that would exceed it is refused by name
  /// before anything is allocated for it.
  uint64_t maxMemoryBytes = 0;
};

enum class ONNXInputFormat { Auto, Binary, Text };

/// Imports the model in `path`. External data files are resolved relative to
/// the model's directory. Returns null after emitting diagnostics on failure.
mlir::OwningOpRef<mlir::ModuleOp>
importONNXFile(llvm::StringRef path, mlir::MLIRContext *context,
               const ONNXImportOptions &options = {},
               ONNXInputFormat format = ONNXInputFormat::Auto);

/// Imports a model held in memory. `buffer`'s identifier names the model in
/// diagnostics; `baseDir` resolves external data. The buffer must outlive the
/// returned module only when it is the source of no resource blob, which the
/// importer guarantees by copying protobuf-owned bytes out of it.
mlir::OwningOpRef<mlir::ModuleOp>
importONNXBuffer(const llvm::MemoryBuffer &buffer, llvm::StringRef baseDir,
                 mlir::MLIRContext *context,
                 const ONNXImportOptions &options = {},
                 ONNXInputFormat format = ONNXInputFormat::Auto);

/// The opset range of the default ONNX domain the importer accepts.
constexpr int kMinONNXOpset = 13;
constexpr int kMaxONNXOpset = 21;

} // namespace flightllm

#endif // FLIGHTLLM_IMPORT_ONNXIMPORTER_H
