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

namespace onnx {
class TensorProto;
} // namespace onnx

namespace flightllm {

class TensorImporter {
public:
  TensorImporter(mlir::MLIRContext *ctx, llvm::StringRef baseDir,
                 uint64_t denseAttrMaxBytes)
      : ctx(ctx), baseDir(baseDir.str()), denseAttrMaxBytes(denseAttrMaxBytes) {}

  /// Converts `tensor` (whose raw_data it may take over). `what` names the
  /// tensor in diagnostics. Returns null after emitting an error.
  mlir::ElementsAttr importTensor(onnx::TensorProto &tensor, mlir::Location loc,
                                  const std::string &what);

private:
  /// Maps an external data file once; blobs keep the mapping alive.
  std::shared_ptr<llvm::MemoryBuffer> mapFile(const std::string &location,
                                              mlir::Location loc,
                                              const std::string &what);

  mlir::MLIRContext *ctx;
  std::string baseDir;
  uint64_t denseAttrMaxBytes;
  llvm::StringMap<std::shared_ptr<llvm::MemoryBuffer>> mappedFiles;
};

} // namespace flightllm

#endif // FLIGHTLLM_LIB_IMPORT_TENSORIMPORT_H
