//===- TensorImport.cpp - ONNX TensorProto -> ElementsAttr ----------------===//

#include "TensorImport.h"

#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Alignment.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SwapByteOrder.h"

#include "onnx/onnx_pb.h"

#include <cstring>
#include <vector>

using namespace mlir;
using namespace flightllm;

namespace {

/// Resource keys print as bare identifiers: keep [A-Za-z0-9_.].
std::string blobKey(const std::string &name) {
  std::string key;
  for (char c : name)
    key += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')
               ? c
               : '_';
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0])))
    key = "t_" + key;
  return key;
}

/// Appends the typed-field payload of `t` (float_data, int32_data, ...) as
/// little-endian bytes of the element type. Returns the element count.
int64_t typedFieldBytes(const onnx::TensorProto &t, unsigned elemSize,
                        std::vector<char> &out) {
  auto put = [&](const void *p) {
    const char *c = static_cast<const char *>(p);
    out.insert(out.end(), c, c + elemSize);
  };
  using DT = onnxir::DataType;
  switch (static_cast<DT>(t.data_type())) {
  case DT::Float:
    for (float v : t.float_data())
      put(&v);
    return t.float_data_size();
  case DT::Double:
    for (double v : t.double_data())
      put(&v);
    return t.double_data_size();
  case DT::Int64:
    for (int64_t v : t.int64_data())
      put(&v);
    return t.int64_data_size();
  case DT::UInt32:
  case DT::UInt64:
    for (uint64_t v : t.uint64_data()) {
      uint32_t narrow = uint32_t(v);
      put(elemSize == 4 ? static_cast<const void *>(&narrow) : &v);
    }
    return t.uint64_data_size();
  default:
    // int32_data carries every narrower integer type, bool, and the bit
    // patterns of float16 / bfloat16.
    for (int32_t v : t.int32_data()) {
      int8_t i8 = int8_t(v);
      int16_t i16 = int16_t(v);
      put(elemSize == 1   ? static_cast<const void *>(&i8)
          : elemSize == 2 ? static_cast<const void *>(&i16)
                          : &v);
    }
    return t.int32_data_size();
  }
}

} // namespace

TensorImporter::ExternalFile *
TensorImporter::resolveFile(const std::string &location, Location loc,
                            const std::string &what) {
  auto it = externalFiles.find(location);
  if (it != externalFiles.end())
    return &it->second;
  // ONNX external data lives beside the model; refuse paths that leave it.
  auto outside = [&]() -> ExternalFile * {
    emitError(loc) << what << ": external data location '" << location
                   << "' must be a relative path inside the model's directory";
    return nullptr;
  };
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      llvm::sys::path::has_root_name(location))
    return outside();
  for (llvm::StringRef part : llvm::make_range(
           llvm::sys::path::begin(location), llvm::sys::path::end(location)))
    if (part == "..")
      return outside();

  llvm::SmallString<256> path(baseDir);
  llvm::sys::path::append(path, location);
  // Symbolic links may point anywhere: the resolved file must still be
  // inside the model's (resolved) directory.
  llvm::SmallString<256> realDir, realPath;
  if (std::error_code ec = llvm::sys::fs::real_path(path, realPath)) {
    emitError(loc) << what << ": cannot open external data file '" << path
                   << "': " << ec.message();
    return nullptr;
  }
  if (std::error_code ec = llvm::sys::fs::real_path(baseDir, realDir)) {
    emitError(loc) << what << ": cannot resolve the model's directory '"
                   << baseDir << "': " << ec.message();
    return nullptr;
  }
  llvm::StringRef inside(realPath);
  if (!inside.consume_front(realDir) ||
      !(realDir.ends_with("/") || inside.starts_with("/"))) {
    emitError(loc) << what << ": external data location '" << location
                   << "' resolves to '" << realPath
                   << "', outside the model's directory '" << realDir << "'";
    return nullptr;
  }
  // Only regular files: a FIFO would block the compiler and a device has no
  // size to check the tensor against.
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(realPath, status)) {
    emitError(loc) << what << ": cannot open external data file '" << path
                   << "': " << ec.message();
    return nullptr;
  }
  if (!llvm::sys::fs::is_regular_file(status)) {
    emitError(loc) << what << ": external data file '" << path
                   << "' is not a regular file";
    return nullptr;
  }
  ExternalFile &file = externalFiles[location];
  file.path = std::string(realPath);
  file.size = status.getSize();
  if (externalDataFiles)
    externalDataFiles->push_back(file.path);
  return &file;
}

std::shared_ptr<llvm::MemoryBuffer>
TensorImporter::mapFile(ExternalFile &file, Location loc,
                        const std::string &what) {
  if (file.mapping)
    return file.mapping;
  auto buffer = llvm::MemoryBuffer::getFile(file.path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError()) {
    emitError(loc) << what << ": cannot open external data file '"
                   << file.path << "': " << ec.message();
    return nullptr;
  }
  if ((*buffer)->getBufferSize() != file.size) {
    emitError(loc) << what << ": external data file '" << file.path
                   << "' changed size while it was read";
    return nullptr;
  }
  file.mapping = std::shared_ptr<llvm::MemoryBuffer>(std::move(*buffer));
  return file.mapping;
}

std::string flightllm::unsupportedElementType(int64_t dataType) {
  llvm::StringRef name = onnxir::getDataTypeName(dataType);
  std::string text = "unsupported element type " +
                     (name.empty() ? std::to_string(dataType) : name.str());
  // float8 (opset 19), uint4/int4 (opset 21), float4 (opset 23).
  if (dataType > onnx::TensorProto::BFLOAT16 && !name.empty())
    text += " (newer than the ONNX 1.12 library this build uses; a 4-bit "
            "weight is accepted as com.microsoft MatMulNBits)";
  return text;
}

ElementsAttr TensorImporter::importTensor(onnx::TensorProto &t, Location loc,
                                          const std::string &what) {
  static_assert(llvm::sys::IsLittleEndianHost,
                "ONNX raw data is little-endian; big-endian hosts need swaps");
  Type elementType = onnxir::getElementType(ctx, t.data_type());
  if (!elementType) {
    emitError(loc) << what << " has " << unsupportedElementType(t.data_type());
    return {};
  }
  unsigned elemSize = onnxir::getDataTypeSize(t.data_type());

  llvm::SmallVector<int64_t> shape;
  uint64_t numel = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) {
      emitError(loc) << what << " has a negative dimension " << d;
      return {};
    }
    if (d && numel > (uint64_t(1) << 50) / uint64_t(d)) {
      emitError(loc) << what << " has too many elements";
      return {};
    }
    numel *= uint64_t(d);
    shape.push_back(d);
  }
  auto type = RankedTensorType::get(shape, elementType);
  uint64_t nbytes = numel * elemSize;
  // The budget is checked on the declared size, before any byte is read,
  // converted or mapped.
  if (maxMemoryBytes && nbytes > maxMemoryBytes - importedBytes) {
    emitError(loc) << what << " (" << type << ") needs " << nbytes
                   << " bytes; with the " << importedBytes
                   << " bytes imported before it, the import would exceed "
                      "--max-memory="
                   << maxMemoryBytes;
    return {};
  }
  importedBytes += nbytes;

  llvm::ArrayRef<char> bytes;
  std::shared_ptr<llvm::MemoryBuffer> mapping;
  std::vector<char> converted;
  bool fromRawData = false;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0, length = nbytes;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset" || kv.key() == "length") {
        uint64_t v;
        // Decimal digits only (strtoull would take "-1" and wrap it).
        if (llvm::StringRef(kv.value()).getAsInteger(10, v) ||
            !llvm::all_of(kv.value(), llvm::isDigit)) {
          emitError(loc) << what << ": external data " << kv.key() << " '"
                         << kv.value() << "' is not a number";
          return {};
        }
        (kv.key() == "offset" ? offset : length) = v;
      }
    }
    ExternalFile *file = resolveFile(location, loc, what);
    if (!file)
      return {};
    if (length != nbytes) {
      emitError(loc) << what << ": external data length " << length
                     << " does not match the " << nbytes << " bytes of "
                     << type;
      return {};
    }
    // Checked before mapping, without overflow.
    if (offset > file->size || length > file->size - offset) {
      emitError(loc) << what << ": external data [" << offset << ", "
                     << (offset > UINT64_MAX - length
                             ? std::string("overflow")
                             : std::to_string(offset + length))
                     << ") lies outside '" << location << "' (" << file->size
                     << " bytes)";
      return {};
    }
    mapping = mapFile(*file, loc, what);
    if (!mapping)
      return {};
    bytes = {mapping->getBufferStart() + offset, size_t(length)};
  } else if (t.has_raw_data()) {
    if (t.raw_data().size() != nbytes) {
      emitError(loc) << what << " has " << t.raw_data().size()
                     << " bytes of raw data, expected " << nbytes << " for "
                     << type;
      return {};
    }
    bytes = {t.raw_data().data(), t.raw_data().size()};
    fromRawData = true;
  } else {
    int64_t count = typedFieldBytes(t, elemSize, converted);
    if (uint64_t(count) != numel) {
      emitError(loc) << what << " has " << count << " values, expected "
                     << numel << " for " << type;
      return {};
    }
    bytes = converted;
  }

  // Bools stay dense: the masks they hold are read by pattern matchers, and
  // DenseElementsAttr packs them to a bit each.
  if (elementType.isInteger(1)) {
    llvm::SmallVector<bool> v;
    v.reserve(numel);
    for (char c : bytes)
      v.push_back(c != 0);
    return DenseElementsAttr::get(type, llvm::ArrayRef<bool>(v));
  }
  if (nbytes <= denseAttrMaxBytes)
    return DenseElementsAttr::getFromRawBuffer(type, bytes);

  std::string key = blobKey(t.name().empty() ? what : t.name());
  bool aligned = llvm::isAddrAligned(llvm::Align(elemSize), bytes.data());
  if (mapping && aligned) {
    AsmResourceBlob blob(
        bytes, elemSize, [mapping](void *, size_t, size_t) {},
        /*dataIsMutable=*/false);
    return DenseResourceElementsAttr::get(type, key, std::move(blob));
  }
  if (fromRawData && aligned) {
    // Take over the protobuf's string rather than copying the weights.
    auto *owned = new std::string();
    owned->swap(*t.mutable_raw_data());
    AsmResourceBlob blob(
        llvm::ArrayRef<char>(owned->data(), owned->size()), elemSize,
        [owned](void *, size_t, size_t) { delete owned; },
        /*dataIsMutable=*/false);
    return DenseResourceElementsAttr::get(type, key, std::move(blob));
  }
  return DenseResourceElementsAttr::get(
      type, key, HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, elemSize));
}
