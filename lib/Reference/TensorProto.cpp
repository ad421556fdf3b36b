//===- TensorProto.cpp - ONNX TensorProto -> HostTensor -------------------===//
//
// Kept apart from HostTensor.cpp: the only part of the reference library that
// needs the ONNX protobuf definitions.
//===----------------------------------------------------------------------===//

#include "flightllm/Reference/HostTensor.h"

#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"

#include "onnx/onnx_pb.h"

#include <climits>
#include <cstring>

using namespace flightllm;
using namespace flightllm::reference;

namespace {

std::optional<ElementKind> kindOfDataType(int dataType) {
  using DT = onnxir::DataType;
  switch (static_cast<DT>(dataType)) {
  case DT::Float:
    return ElementKind::F32;
  case DT::Double:
    return ElementKind::F64;
  case DT::Float16:
    return ElementKind::F16;
  case DT::BFloat16:
    return ElementKind::BF16;
  case DT::Bool:
    return ElementKind::I1;
  case DT::Int8:
    return ElementKind::I8;
  case DT::Int16:
    return ElementKind::I16;
  case DT::Int32:
    return ElementKind::I32;
  case DT::Int64:
    return ElementKind::I64;
  case DT::UInt8:
    return ElementKind::UI8;
  case DT::UInt16:
    return ElementKind::UI16;
  case DT::UInt32:
    return ElementKind::UI32;
  case DT::UInt64:
    return ElementKind::UI64;
  default:
    return std::nullopt;
  }
}

/// Copies a repeated typed field into `t`, converting each value with
/// `convert`; fails on a count mismatch.
template <typename Field, typename Convert>
llvm::Error fillFrom(HostTensor &t, const Field &field, const char *fieldName,
                     Convert convert) {
  if (int64_t(field.size()) != t.getNumElements())
    return llvm::createStringError(
        "tensor has " + std::to_string(field.size()) + " values in " +
        fieldName + ", expected " + std::to_string(t.getNumElements()));
  dispatchElementKind(t.getKind(), [&](auto tag) {
    using T = decltype(tag);
    llvm::MutableArrayRef<T> out = t.getMutableValues<T>();
    for (int64_t i = 0; i < t.getNumElements(); ++i)
      convert(out[i], field.Get(int(i)));
  });
  return llvm::Error::success();
}

} // namespace

llvm::Expected<HostTensor>
HostTensor::fromTensorProtoBytes(llvm::StringRef bytes, std::string *name) {
  static_assert(llvm::sys::IsLittleEndianHost,
                "ONNX raw data is little-endian; big-endian hosts need swaps");
  onnx::TensorProto proto;
  if (bytes.size() > size_t(INT_MAX) ||
      !proto.ParseFromArray(bytes.data(), int(bytes.size())))
    return llvm::createStringError("not a valid ONNX TensorProto");
  if (name)
    *name = proto.name();
  std::optional<ElementKind> kind = kindOfDataType(proto.data_type());
  if (!kind) {
    llvm::StringRef typeName = onnxir::getDataTypeName(proto.data_type());
    return llvm::createStringError("unsupported element type " +
                                   (typeName.empty()
                                        ? std::to_string(proto.data_type())
                                        : typeName.str()));
  }
  if (proto.data_location() == onnx::TensorProto::EXTERNAL)
    return llvm::createStringError("external tensor data is not supported");
  llvm::SmallVector<int64_t> shape;
  for (int64_t d : proto.dims()) {
    if (d < 0)
      return llvm::createStringError("negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  HostTensor t(*kind, shape);

  if (proto.has_raw_data()) {
    const std::string &raw = proto.raw_data();
    if (raw.size() != t.getNumBytes())
      return llvm::createStringError(
          "tensor has " + std::to_string(raw.size()) +
          " bytes of raw data, expected " + std::to_string(t.getNumBytes()) +
          " for " + t.describeType());
    if (*kind == ElementKind::I1) {
      llvm::MutableArrayRef<bool> out = t.getMutableValues<bool>();
      for (size_t i = 0; i < raw.size(); ++i)
        out[i] = raw[i] != 0;
    } else if (!raw.empty()) {
      std::memcpy(t.getMutableRawData().data(), raw.data(), raw.size());
    }
    return t;
  }

  auto assign = [](auto &out, auto v) {
    using T = std::remove_reference_t<decltype(out)>;
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
      out = T{uint16_t(v)}; // int32_data holds the bit patterns.
    else
      out = T(v);
  };
  llvm::Error err = llvm::Error::success();
  switch (*kind) {
  case ElementKind::F32:
    err = fillFrom(t, proto.float_data(), "float_data", assign);
    break;
  case ElementKind::F64:
    err = fillFrom(t, proto.double_data(), "double_data", assign);
    break;
  case ElementKind::I64:
    err = fillFrom(t, proto.int64_data(), "int64_data", assign);
    break;
  case ElementKind::UI32:
  case ElementKind::UI64:
    err = fillFrom(t, proto.uint64_data(), "uint64_data", assign);
    break;
  default:
    // int32_data carries the narrower integers, bool and the f16/bf16 bits.
    err = fillFrom(t, proto.int32_data(), "int32_data",
                   [&](auto &out, int32_t v) {
                     using T = std::remove_reference_t<decltype(out)>;
                     if constexpr (std::is_same_v<T, bool>)
                       out = v != 0;
                     else
                       assign(out, v);
                   });
    break;
  }
  if (err)
    return llvm::Expected<HostTensor>(std::move(err));
  return t;
}

llvm::Expected<HostTensor> HostTensor::fromTensorProtoFile(llvm::StringRef path,
                                                           std::string *name) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError())
    return llvm::createStringError(ec, "cannot open '" + path.str() +
                                           "': " + ec.message());
  auto tensor = fromTensorProtoBytes((*buffer)->getBuffer(), name);
  if (!tensor)
    return llvm::createStringError(path.str() + ": " +
                                   llvm::toString(tensor.takeError()));
  return tensor;
}
