//===- HostTensor.cpp - Owning host tensors -------------------------------===//

#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Alignment.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace flightllm::reference;

//===----------------------------------------------------------------------===//
// f16 / bf16
//===----------------------------------------------------------------------===//

float flightllm::reference::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f)
    return llvm::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float v = std::ldexp(float(mantissa), -24);
    return sign ? -v : v;
  }
  return llvm::bit_cast<float>(sign | ((exponent + 112) << 23) |
                               (mantissa << 13));
}

uint16_t flightllm::reference::floatToHalf(float value) {
  uint32_t x = llvm::bit_cast<uint32_t>(value);
  uint16_t sign = uint16_t((x >> 16) & 0x8000);
  uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) // Inf or NaN (kept quiet, top payload bits kept).
    return sign | 0x7c00 |
           (abs > 0x7f800000u ? uint16_t(0x200 | ((abs >> 13) & 0x3ff)) : 0);
  if (abs >= 0x477ff000u) // >= 65520 rounds to infinity.
    return sign | 0x7c00;
  if (abs >= 0x38800000u) {
    // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits
    // to nearest even; a carry moves into the exponent as it should.
    uint32_t rounded = abs - 0x38000000u + 0xfffu + ((abs >> 13) & 1);
    return sign | uint16_t(rounded >> 13);
  }
  if (abs <= 0x33000000u) // <= 2^-25 rounds to zero (the tie goes to even).
    return sign;
  // Subnormal result: round(m * 2^(e - 150) / 2^-24) = round(m >> (126 - e)).
  uint32_t exponent = abs >> 23;
  uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  uint32_t shift = 126 - exponent;
  uint32_t result = mantissa >> shift;
  uint32_t rest = mantissa & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (result & 1)))
    ++result;
  return sign | uint16_t(result);
}

float flightllm::reference::bfloat16ToFloat(uint16_t bits) {
  return llvm::bit_cast<float>(uint32_t(bits) << 16);
}

uint16_t flightllm::reference::floatToBFloat16(float value) {
  uint32_t x = llvm::bit_cast<uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a (quiet) NaN.
    return uint16_t((x >> 16) | 0x40);
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

static uint16_t roundDouble(double value, const llvm::fltSemantics &sem) {
  llvm::APFloat f(value);
  bool losesInfo = false;
  f.convert(sem, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return uint16_t(f.bitcastToAPInt().getZExtValue());
}

uint16_t flightllm::reference::doubleToHalf(double value) {
  return roundDouble(value, llvm::APFloat::IEEEhalf());
}

uint16_t flightllm::reference::doubleToBFloat16(double value) {
  return roundDouble(value, llvm::APFloat::BFloat());
}

//===----------------------------------------------------------------------===//
// Element kinds
//===----------------------------------------------------------------------===//

bool flightllm::reference::isFloatKind(ElementKind kind) {
  return kind == ElementKind::F32 || kind == ElementKind::F64 ||
         kind == ElementKind::F16 || kind == ElementKind::BF16;
}

bool flightllm::reference::isSignedIntegerKind(ElementKind kind) {
  return kind == ElementKind::I8 || kind == ElementKind::I16 ||
         kind == ElementKind::I32 || kind == ElementKind::I64;
}

bool flightllm::reference::isUnsignedIntegerKind(ElementKind kind) {
  return kind == ElementKind::UI8 || kind == ElementKind::UI16 ||
         kind == ElementKind::UI32 || kind == ElementKind::UI64;
}

unsigned flightllm::reference::getElementKindSize(ElementKind kind) {
  return dispatchElementKind(kind, [](auto v) { return unsigned(sizeof(v)); });
}

StringRef flightllm::reference::getElementKindName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return "f32";
  case ElementKind::F64:
    return "f64";
  case ElementKind::F16:
    return "f16";
  case ElementKind::BF16:
    return "bf16";
  case ElementKind::I1:
    return "i1";
  case ElementKind::I8:
    return "i8";
  case ElementKind::I16:
    return "i16";
  case ElementKind::I32:
    return "i32";
  case ElementKind::I64:
    return "i64";
  case ElementKind::UI8:
    return "ui8";
  case ElementKind::UI16:
    return "ui16";
  case ElementKind::UI32:
    return "ui32";
  case ElementKind::UI64:
    return "ui64";
  }
  llvm_unreachable("unknown element kind");
}

std::optional<ElementKind> flightllm::reference::getElementKind(Type type) {
  if (type.isF32())
    return ElementKind::F32;
  if (type.isF64())
    return ElementKind::F64;
  if (type.isF16())
    return ElementKind::F16;
  if (type.isBF16())
    return ElementKind::BF16;
  auto it = dyn_cast<IntegerType>(type);
  if (!it)
    return std::nullopt;
  if (it.getWidth() == 1)
    return it.isSignless() ? std::optional(ElementKind::I1) : std::nullopt;
  bool isUnsigned = it.isUnsigned();
  switch (it.getWidth()) {
  case 8:
    return isUnsigned ? ElementKind::UI8 : ElementKind::I8;
  case 16:
    return isUnsigned ? ElementKind::UI16 : ElementKind::I16;
  case 32:
    return isUnsigned ? ElementKind::UI32 : ElementKind::I32;
  case 64:
    return isUnsigned ? ElementKind::UI64 : ElementKind::I64;
  default:
    return std::nullopt;
  }
}

Type flightllm::reference::getMLIRElementType(MLIRContext *ctx,
                                              ElementKind kind) {
  Builder b(ctx);
  switch (kind) {
  case ElementKind::F32:
    return b.getF32Type();
  case ElementKind::F64:
    return b.getF64Type();
  case ElementKind::F16:
    return b.getF16Type();
  case ElementKind::BF16:
    return b.getBF16Type();
  case ElementKind::I1:
    return b.getI1Type();
  case ElementKind::I8:
  case ElementKind::I16:
  case ElementKind::I32:
  case ElementKind::I64:
    return b.getIntegerType(getElementKindSize(kind) * 8);
  case ElementKind::UI8:
  case ElementKind::UI16:
  case ElementKind::UI32:
  case ElementKind::UI64:
    return b.getIntegerType(getElementKindSize(kind) * 8, /*isSigned=*/false);
  }
  llvm_unreachable("unknown element kind");
}

int64_t flightllm::reference::getNumElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

//===----------------------------------------------------------------------===//
// Scalar conversions (ONNX Cast semantics)
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// HostTensor
//===----------------------------------------------------------------------===//

template <typename T> static std::string printToString(const T &value) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << value;
  return s;
}

HostTensor::HostTensor(ElementKind kind, ArrayRef<int64_t> shape,
                       std::nullptr_t)
    : kind(kind), shape(shape.begin(), shape.end()) {
  numElements = 1;
  for (int64_t d : shape) {
    assert(d >= 0 && "negative dimension");
    numElements *= d;
  }
}

HostTensor::HostTensor(ElementKind kind, ArrayRef<int64_t> shape)
    : HostTensor(kind, shape, nullptr) {
  storage.reset(new unsigned char[std::max<size_t>(getNumBytes(), 1)]());
}

HostTensor HostTensor::borrow(ElementKind kind, ArrayRef<int64_t> shape,
                              ArrayRef<char> bytes) {
  HostTensor t(kind, shape, nullptr);
  assert(bytes.size() == t.getNumBytes() && "size mismatch");
  if (t.getNumBytes() &&
      llvm::isAddrAligned(llvm::Align(t.getElementSize()), bytes.data())) {
    t.borrowed = reinterpret_cast<const unsigned char *>(bytes.data());
    return t;
  }
  // Misaligned (or empty): an owned copy.
  t.storage.reset(new unsigned char[std::max<size_t>(t.getNumBytes(), 1)]);
  if (t.getNumBytes())
    std::memcpy(t.storage.get(), bytes.data(), t.getNumBytes());
  return t;
}

void HostTensor::detach() {
  storage.reset(new unsigned char[std::max<size_t>(getNumBytes(), 1)]);
  std::memcpy(storage.get(), borrowed, getNumBytes());
  borrowed = nullptr;
}

HostTensor::HostTensor(const HostTensor &other)
    : kind(other.kind), shape(other.shape), numElements(other.numElements),
      borrowed(other.borrowed) {
  if (borrowed || !other.storage)
    return;
  storage.reset(new unsigned char[std::max<size_t>(getNumBytes(), 1)]);
  if (getNumBytes())
    std::memcpy(storage.get(), other.storage.get(), getNumBytes());
}

HostTensor::HostTensor(HostTensor &&other) noexcept
    : kind(other.kind), shape(std::move(other.shape)),
      numElements(other.numElements), storage(std::move(other.storage)),
      borrowed(other.borrowed) {
  other.shape = {0};
  other.numElements = 0;
  other.borrowed = nullptr;
}

HostTensor &HostTensor::operator=(const HostTensor &other) {
  if (this != &other)
    *this = HostTensor(other);
  return *this;
}

HostTensor &HostTensor::operator=(HostTensor &&other) noexcept {
  kind = other.kind;
  shape = std::move(other.shape);
  numElements = other.numElements;
  storage = std::move(other.storage);
  borrowed = other.borrowed;
  other.shape = {0};
  other.numElements = 0;
  other.borrowed = nullptr;
  return *this;
}

double HostTensor::getDouble(int64_t i) const {
  return dispatchElementKind(kind, [&](auto tag) -> double {
    using T = decltype(tag);
    return convertElement<double>(getValues<T>()[i]);
  });
}

int64_t HostTensor::getInt(int64_t i) const {
  return dispatchElementKind(kind, [&](auto tag) -> int64_t {
    using T = decltype(tag);
    return convertElement<int64_t>(getValues<T>()[i]);
  });
}

SmallVector<int64_t> HostTensor::toInt64Vector() const {
  SmallVector<int64_t> out;
  out.reserve(numElements);
  for (int64_t i = 0; i < numElements; ++i)
    out.push_back(getInt(i));
  return out;
}

HostTensor HostTensor::reshaped(ArrayRef<int64_t> newShape) const {
  assert(reference::getNumElements(newShape) == numElements &&
         "reshape changes the element count");
  HostTensor t = *this;
  t.shape.assign(newShape.begin(), newShape.end());
  return t;
}

HostTensor HostTensor::bitcastTo(ElementKind newKind) const {
  assert(getElementKindSize(newKind) == getElementSize() &&
         "bitcast changes the element size");
  HostTensor t = *this;
  t.kind = newKind;
  return t;
}

HostTensor HostTensor::castTo(ElementKind to) const {
  HostTensor out(to, shape);
  dispatchElementKind(kind, [&](auto fromTag) {
    using From = decltype(fromTag);
    dispatchElementKind(to, [&](auto toTag) {
      using To = decltype(toTag);
      ArrayRef<From> src = getValues<From>();
      MutableArrayRef<To> dst = out.getMutableValues<To>();
      for (int64_t i = 0; i < numElements; ++i)
        dst[i] = convertElement<To>(src[i]);
    });
  });
  return out;
}

RankedTensorType HostTensor::getType(MLIRContext *ctx) const {
  return RankedTensorType::get(shape, getMLIRElementType(ctx, kind));
}

std::string HostTensor::describeType() const {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + getElementKindName(kind).str() + ">";
}

llvm::Expected<HostTensor> HostTensor::fromElementsAttr(ElementsAttr attr,
                                                        Constant mode) {
  auto type = dyn_cast<RankedTensorType>(attr.getShapedType());
  if (!type || !type.hasStaticShape())
    return llvm::createStringError("constant of type " +
                                   printToString(attr.getShapedType()) +
                                   " has no static shape");
  std::optional<ElementKind> kind = getElementKind(type.getElementType());
  if (!kind)
    return llvm::createStringError("unsupported element type " +
                                   printToString(type.getElementType()));
  bool borrow = mode == Constant::Borrow;
  // Owned storage is allocated only where the data is copied.
  HostTensor t(*kind, type.getShape(), nullptr);
  if (t.numElements == 0)
    return HostTensor(*kind, type.getShape());
  auto own = [&]() -> MutableArrayRef<char> {
    t.storage.reset(new unsigned char[t.getNumBytes()]());
    return t.getMutableRawData();
  };

  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (*kind == ElementKind::I1) {
      (void)own(); // allocates; getMutableValues writes it
      llvm::copy(dense.getValues<bool>(), t.getMutableValues<bool>().begin());
      return t;
    }
    ArrayRef<char> raw = dense.getRawData();
    size_t elemSize = t.getElementSize();
    if (dense.isSplat()) {
      if (raw.size() < elemSize)
        return llvm::createStringError("malformed splat constant");
      MutableArrayRef<char> dst = own();
      for (size_t off = 0; off < dst.size(); off += elemSize)
        std::memcpy(dst.data() + off, raw.data(), elemSize);
      return t;
    }
    if (raw.size() != t.getNumBytes())
      return llvm::createStringError(
          "dense constant holds " + std::to_string(raw.size()) +
          " bytes, expected " + std::to_string(t.getNumBytes()));
    if (borrow)
      return HostTensor::borrow(*kind, type.getShape(), raw);
    std::memcpy(own().data(), raw.data(), raw.size());
    return t;
  }

  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return llvm::createStringError("resource blob '" +
                                     resource.getRawHandle().getKey().str() +
                                     "' holds no data (was it elided?)");
    ArrayRef<char> data = blob->getData();
    if (*kind == ElementKind::I1) {
      if (int64_t(data.size()) != t.numElements)
        return llvm::createStringError("bool resource blob has the wrong size");
      (void)own();
      MutableArrayRef<bool> out = t.getMutableValues<bool>();
      for (int64_t i = 0; i < t.numElements; ++i)
        out[i] = data[i] != 0;
      return t;
    }
    if (data.size() != t.getNumBytes())
      return llvm::createStringError(
          "resource blob '" + resource.getRawHandle().getKey().str() +
          "' holds " + std::to_string(data.size()) + " bytes, expected " +
          std::to_string(t.getNumBytes()));
    if (borrow)
      return HostTensor::borrow(*kind, type.getShape(), data);
    std::memcpy(own().data(), data.data(), data.size());
    return t;
  }

  // Any other ElementsAttr (sparse, ...): copy the bit patterns its APFloat
  // or APInt iterators give.
  auto copyBits = [&](auto values, auto toBits) -> llvm::Expected<HostTensor> {
    if (!values)
      return llvm::createStringError("cannot read the constant's values");
    MutableArrayRef<char> dst = own();
    size_t size = t.getElementSize(), offset = 0;
    for (const auto &v : *values) {
      uint64_t bits = toBits(v); // Little-endian: the low bytes come first.
      std::memcpy(dst.data() + offset, &bits, size);
      offset += size;
    }
    return std::move(t);
  };
  if (isFloatKind(*kind))
    return copyBits(attr.tryGetValues<APFloat>(), [](const APFloat &v) {
      return v.bitcastToAPInt().getZExtValue();
    });
  return copyBits(attr.tryGetValues<APInt>(),
                  [](const APInt &v) { return v.getZExtValue(); });
}

DenseElementsAttr HostTensor::toDenseElementsAttr(MLIRContext *ctx) const {
  RankedTensorType type = getType(ctx);
  if (kind == ElementKind::I1)
    return DenseElementsAttr::get(type, getValues<bool>());
  // Uniform values become a splat, as DenseElementsAttr::get would make.
  ArrayRef<char> raw = getRawData();
  size_t size = getElementSize();
  bool splat = numElements > 1;
  for (size_t off = size; splat && off < raw.size(); off += size)
    splat = std::memcmp(raw.data(), raw.data() + off, size) == 0;
  return DenseElementsAttr::getFromRawBuffer(type, splat ? raw.take_front(size)
                                                         : raw);
}

//===----------------------------------------------------------------------===//
// Comparison
//===----------------------------------------------------------------------===//

/// Enough digits to tell any two doubles apart.
static std::string formatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::optional<std::string>
flightllm::reference::compareTensors(const HostTensor &actual,
                                     const HostTensor &expected, double rtol,
                                     double atol) {
  if (actual.getKind() != expected.getKind() ||
      actual.getShape() != expected.getShape())
    return "got " + actual.describeType() + ", expected " +
           expected.describeType();
  auto index = [&](int64_t linear) {
    std::string s = "[";
    SmallVector<int64_t> idx(expected.getRank());
    for (int64_t d = expected.getRank() - 1; d >= 0; --d) {
      int64_t dim = expected.getDim(d);
      idx[d] = dim ? linear % dim : 0;
      linear = dim ? linear / dim : 0;
    }
    for (auto [i, v] : llvm::enumerate(idx))
      s += (i ? ", " : "") + std::to_string(v);
    return s + "]";
  };
  int64_t n = expected.getNumElements();
  int64_t mismatches = 0;
  std::optional<std::string> first;
  bool isFloat = isFloatKind(expected.getKind());
  for (int64_t i = 0; i < n; ++i) {
    bool ok;
    std::string a, e;
    if (isFloat) {
      double x = actual.getDouble(i), y = expected.getDouble(i);
      if (std::isnan(x) || std::isnan(y))
        ok = std::isnan(x) && std::isnan(y);
      else if (std::isinf(x) || std::isinf(y))
        ok = x == y;
      else
        ok = std::fabs(x - y) <= atol + rtol * std::fabs(y);
      if (!ok) {
        a = formatDouble(x);
        e = formatDouble(y);
      }
    } else {
      // Compare the raw element bytes: exact for every integer kind.
      size_t size = expected.getElementSize();
      ok = std::memcmp(actual.getRawData().data() + i * size,
                       expected.getRawData().data() + i * size, size) == 0;
      if (!ok) {
        bool isU64 = expected.getKind() == ElementKind::UI64;
        a = isU64 ? std::to_string(uint64_t(actual.getInt(i)))
                  : std::to_string(actual.getInt(i));
        e = isU64 ? std::to_string(uint64_t(expected.getInt(i)))
                  : std::to_string(expected.getInt(i));
      }
    }
    if (!ok && !mismatches++)
      first = "at " + index(i) + ": got " + a + ", expected " + e;
  }
  if (!mismatches)
    return std::nullopt;
  return std::to_string(mismatches) + " of " + std::to_string(n) +
         " elements differ; first " + *first;
}
