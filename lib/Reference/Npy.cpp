//===- Npy.cpp - numpy .npy files <-> HostTensor --------------------------===//

#include "flightllm/Reference/Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;
using namespace flightllm::reference;

namespace {

struct DType {
  const char *descr; // without the byte-order character
  ElementKind kind;
};

const DType dtypes[] = {
    {"f4", ElementKind::F32},  {"f8", ElementKind::F64},
    {"f2", ElementKind::F16},  {"i1", ElementKind::I8},
    {"i2", ElementKind::I16},  {"i4", ElementKind::I32},
    {"i8", ElementKind::I64},  {"u1", ElementKind::UI8},
    {"u2", ElementKind::UI16}, {"u4", ElementKind::UI32},
    {"u8", ElementKind::UI64}, {"b1", ElementKind::I1},
};

Error malformed(StringRef name, const Twine &why) {
  return createStringError(inconvertibleErrorCode(),
                           name + ": not a supported .npy file: " + why);
}

/// The value of `key` in the header dict, e.g. `'<f4'`, `False`, `(2, 3)`.
std::optional<StringRef> headerValue(StringRef header, StringRef key) {
  size_t at = header.find(("'" + key + "'").str());
  if (at == StringRef::npos)
    return std::nullopt;
  StringRef rest = header.drop_front(at + key.size() + 2).ltrim();
  if (!rest.consume_front(":"))
    return std::nullopt;
  rest = rest.ltrim();
  if (rest.starts_with("("))
    return rest.take_until([](char c) { return c == ')'; }).drop_front();
  return rest.take_until([](char c) { return c == ',' || c == '}'; }).trim();
}

} // namespace

Expected<HostTensor> flightllm::reference::parseNpy(StringRef bytes,
                                                    StringRef name) {
  if (!bytes.starts_with("\x93NUMPY") || bytes.size() < 10)
    return malformed(name, "no NUMPY magic");
  unsigned major = uint8_t(bytes[6]);
  size_t headerLength, headerStart;
  if (major == 1) {
    headerLength = support::endian::read16le(bytes.data() + 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return malformed(name, "truncated header");
    headerLength = support::endian::read32le(bytes.data() + 8);
    headerStart = 12;
  } else {
    return malformed(name, "version " + Twine(major));
  }
  if (headerStart + headerLength > bytes.size())
    return malformed(name, "truncated header");
  StringRef header = bytes.substr(headerStart, headerLength);

  std::optional<StringRef> descr = headerValue(header, "descr");
  std::optional<StringRef> order = headerValue(header, "fortran_order");
  std::optional<StringRef> shapeText = headerValue(header, "shape");
  if (!descr || !order || !shapeText)
    return malformed(name, "header lacks descr, fortran_order or shape");
  if (*order != "False")
    return malformed(name, "Fortran order");
  StringRef d = descr->trim("'\"");
  if (d.size() != 3 || (d[0] != '<' && d[0] != '|'))
    return malformed(name, "dtype " + d + " (little-endian only)");
  const DType *dtype = nullptr;
  for (const DType &candidate : dtypes)
    if (d.drop_front() == candidate.descr)
      dtype = &candidate;
  if (!dtype)
    return malformed(name, "dtype " + d);

  SmallVector<int64_t> shape;
  SmallVector<StringRef> dims;
  shapeText->split(dims, ',', -1, /*KeepEmpty=*/false);
  for (StringRef dim : dims) {
    int64_t v;
    if (dim.trim().getAsInteger(10, v) || v < 0)
      return malformed(name, "shape (" + *shapeText + ")");
    shape.push_back(v);
  }
  HostTensor t(dtype->kind, shape);
  StringRef data = bytes.drop_front(headerStart + headerLength);
  if (data.size() != t.getNumBytes())
    return malformed(name, "holds " + Twine(data.size()) + " data bytes, expected " +
                               Twine(t.getNumBytes()));
  std::memcpy(t.getMutableRawData().data(), data.data(), data.size());
  return t;
}

Expected<HostTensor> flightllm::reference::readNpy(StringRef path) {
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read '" + path + "': " +
                                 buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

Error flightllm::reference::writeNpy(raw_ostream &os, const HostTensor &t) {
  const DType *dtype = nullptr;
  for (const DType &candidate : dtypes)
    if (candidate.kind == t.getKind())
      dtype = &candidate;
  if (!dtype)
    return createStringError(inconvertibleErrorCode(),
                             "no .npy dtype for " + getElementKindName(t.getKind()));
  // Python tuple syntax: "(5, 16)", "(16,)", "()".
  std::string dims;
  for (int64_t d : t.getShape())
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  if (t.getRank() == 1)
    dims += ",";
  std::string header = std::string("{'descr': '") +
                       (t.getElementSize() == 1 ? "|" : "<") + dtype->descr +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic, version, length and header padded to a multiple of 64 bytes.
  size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  os << "\x93NUMPY" << char(1) << char(0);
  char length[2];
  support::endian::write16le(length, uint16_t(header.size()));
  os.write(length, 2);
  os << header;
  os.write(t.getRawData().data(), t.getRawData().size());
  return Error::success();
}
