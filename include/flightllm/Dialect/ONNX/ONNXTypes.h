//===- ONNXTypes.h - ONNX element types <-> MLIR types ----------*- C++ -*-===//
//
// ONNX TensorProto.DataType codes and the MLIR element types the onnx dialect
// uses for them. Kept free of the ONNX protobuf headers so that passes and the
// dialect can use it without linking libonnx.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_ONNX_ONNXTYPES_H
#define FLIGHTLLM_DIALECT_ONNX_ONNXTYPES_H

#include "mlir/IR/Types.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace flightllm::onnxir {

/// ONNX TensorProto.DataType values (onnx.proto, stable across versions).
enum class DataType : int {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

/// The MLIR element type for an ONNX data type code, or null when the type
/// has no counterpart in the dialect (strings, complex numbers, unknown codes).
mlir::Type getElementType(mlir::MLIRContext *ctx, int64_t dataType);

/// The ONNX data type code for an MLIR element type, if it has one.
std::optional<DataType> getDataType(mlir::Type elementType);

/// The ONNX spelling of a data type code ("float", "int64", ..., and the
/// float8/int4 codes newer ONNX versions added), or "" for unknown codes.
llvm::StringRef getDataTypeName(int64_t dataType);

/// Size in bytes of one element of a data type code the dialect supports, or
/// 0 when unsupported (bool takes one byte as in ONNX raw data).
unsigned getDataTypeSize(int64_t dataType);

} // namespace flightllm::onnxir

#endif // FLIGHTLLM_DIALECT_ONNX_ONNXTYPES_H
