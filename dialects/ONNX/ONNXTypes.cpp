//===- ONNXTypes.cpp - ONNX element types <-> MLIR types ------------------===//

#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace flightllm::onnxir {

Type getElementType(MLIRContext *ctx, int64_t dataType) {
  Builder b(ctx);
  switch (static_cast<DataType>(dataType)) {
  case DataType::Float:
    return b.getF32Type();
  case DataType::Double:
    return b.getF64Type();
  case DataType::Float16:
    return b.getF16Type();
  case DataType::BFloat16:
    return b.getBF16Type();
  case DataType::Int8:
    return b.getIntegerType(8);
  case DataType::Int16:
    return b.getIntegerType(16);
  case DataType::Int32:
    return b.getIntegerType(32);
  case DataType::Int64:
    return b.getIntegerType(64);
  case DataType::UInt8:
    return b.getIntegerType(8, /*isSigned=*/false);
  case DataType::UInt16:
    return b.getIntegerType(16, /*isSigned=*/false);
  case DataType::UInt32:
    return b.getIntegerType(32, /*isSigned=*/false);
  case DataType::UInt64:
    return b.getIntegerType(64, /*isSigned=*/false);
  case DataType::Bool:
    return b.getI1Type();
  default:
    return {};
  }
}

std::optional<DataType> getDataType(Type t) {
  if (t.isF32())
    return DataType::Float;
  if (t.isF64())
    return DataType::Double;
  if (t.isF16())
    return DataType::Float16;
  if (t.isBF16())
    return DataType::BFloat16;
  if (auto it = dyn_cast<IntegerType>(t)) {
    if (it.getWidth() == 1 && it.isSignless())
      return DataType::Bool;
    bool isUnsigned = it.isUnsigned();
    if (it.isSigned())
      return std::nullopt; // The dialect uses signless for signed ONNX types.
    switch (it.getWidth()) {
    case 8:
      return isUnsigned ? DataType::UInt8 : DataType::Int8;
    case 16:
      return isUnsigned ? DataType::UInt16 : DataType::Int16;
    case 32:
      return isUnsigned ? DataType::UInt32 : DataType::Int32;
    case 64:
      return isUnsigned ? DataType::UInt64 : DataType::Int64;
    default:
      return std::nullopt;
    }
  }
  return std::nullopt;
}

llvm::StringRef getDataTypeName(int64_t dataType) {
  static const char *names[] = {"undefined", "float",   "uint8",  "int8",
                                "uint16",    "int16",   "int32",  "int64",
                                "string",    "bool",    "float16", "double",
                                "uint32",    "uint64",  "complex64",
                                "complex128", "bfloat16",
                                // Added after ONNX 1.12 (opsets 19-23).
                                "float8e4m3fn", "float8e4m3fnuz", "float8e5m2",
                                "float8e5m2fnuz", "uint4", "int4",
                                "float4e2m1"};
  if (dataType < 0 || dataType >= int64_t(std::size(names)))
    return "";
  return names[dataType];
}

unsigned getDataTypeSize(int64_t dataType) {
  switch (static_cast<DataType>(dataType)) {
  case DataType::Bool:
  case DataType::Int8:
  case DataType::UInt8:
    return 1;
  case DataType::Int16:
  case DataType::UInt16:
  case DataType::Float16:
  case DataType::BFloat16:
    return 2;
  case DataType::Float:
  case DataType::Int32:
  case DataType::UInt32:
    return 4;
  case DataType::Double:
  case DataType::Int64:
  case DataType::UInt64:
    return 8;
  default:
    return 0;
  }
}

} // namespace flightllm::onnxir
