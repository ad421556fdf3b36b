//===- TensorImport.h - ONNX TensorProto -> ElementsAttr --------*- C++ -*-===//
//
// Converts tensors without copying weight bytes where it can: large tensors
// become resource blobs over memory-mapped external data, or take over the
// protobuf's raw_data string; small ones become DenseElementsAttr.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_IMPORT_TENSORIMPORT_H
#define FLIGHTLLM_LIB_IMPORT_TENSORIMPORT_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>
#include <vector>

namespace onnx {
class TensorProto;
} // namespace onnx

namespace flightllm {

/// "unsupported element type NAME" for an ONNX data type code the dialect
/// has no type for, with why for the codes added after ONNX 1.12.
std::string unsupportedElementType(int64_t dataType);

class TensorImporter {
public:
  /// `externalDataFiles`, when set, receives the path of each external data
  /// file the tensors read. `maxMemoryBytes` (0: none) bounds the sum of the
  /// tensors' sizes (ONNXImportOptions::maxMemoryBytes).
  TensorImporter(mlir::MLIRContext *ctx, llvm::StringRef baseDir,
                 uint64_t denseAttrMaxBytes,
                 std::vector<std::string> *externalDataFiles = nullptr,
                 uint64_t maxMemoryBytes = 0)
      : ctx(ctx), baseDir(baseDir.str()), denseAttrMaxBytes(denseAttrMaxBytes),
        externalDataFiles(externalDataFiles), maxMemoryBytes(maxMemoryBytes) {}

  /// Converts `tensor` (whose raw_data it may take over). `what` names the
  /// tensor in diagnostics. Returns null after emitting an error.
  mlir::ElementsAttr importTensor(onnx::TensorProto &tensor, mlir::Location loc,
                                  const std::string &what);

private:
  /// An external data file: checked once, mapped once (when a tensor's range
  /// in it has been checked); blobs keep the mapping alive.
  struct ExternalFile {
    std::string path;
    uint64_t size = 0;
    std::shared_ptr<llvm::MemoryBuffer> mapping;
  };
  /// The file `location` names, after checking that it is a regular file
  /// inside the model's directory (no `..`, no absolute path, no symlink
  /// that leaves it). Null after emitting an error naming `what`.
  ExternalFile *resolveFile(const std::string &location, mlir::Location loc,
                            const std::string &what);
  /// Maps `file` (once).
  std::shared_ptr<llvm::MemoryBuffer> mapFile(ExternalFile &file,
                                              mlir::Location loc,
                                              const std::string &what);

  mlir::MLIRContext *ctx;
  std::string baseDir;
  uint64_t denseAttrMaxBytes;
  std::vector<std::string> *externalDataFiles;
  uint64_t maxMemoryBytes;
  /// The declared bytes of the tensors imported so far.
  uint64_t importedBytes = 0;
  llvm::StringMap<ExternalFile> externalFiles;
};

} // namespace flightllm

#endif // FLIGHTLLM_LIB_IMPORT_TENSORIMPORT_H
