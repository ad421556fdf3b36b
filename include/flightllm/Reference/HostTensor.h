//===- HostTensor.h - Host tensors for reference execution ------*- C++ -*-===//
//
// A small tensor used by the reference evaluators (the onnx dialect
// evaluator, constant folding, the backend test runner, the fp32 interpreter
// of the llm dialect): an element kind, a shape and contiguous little-endian
// row-major storage.
//
// Storage is owned, or borrowed: a read-only view of constant data that
// outlives the tensor (a weight's resource blob, often a mapped file), so
// evaluating a 7B model does not copy its 27 GB of weights. Copies of a
// borrowed tensor borrow too; the first mutable access copies the data
// (copy-on-write), so a borrowed tensor behaves as an owned one.
//
// Storage per element kind: f32 `float`, f64 `double`, f16 and bf16 their
// 16-bit patterns (`Half`, `BFloat16`), i1 one byte holding 0 or 1 (`bool`),
// the integer kinds their fixed-width C++ types.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_REFERENCE_HOSTTENSOR_H
#define FLIGHTLLM_REFERENCE_HOSTTENSOR_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

namespace flightllm::reference {

enum class ElementKind : uint8_t {
  F32,
  F64,
  F16,
  BF16,
  I1,
  I8,
  I16,
  I32,
  I64,
  UI8,
  UI16,
  UI32,
  UI64,
};

/// IEEE half and bfloat16 elements, stored as their bit patterns.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

/// Exact widening conversions and round-to-nearest-even narrowing ones
/// (NaN stays NaN, overflow becomes infinity).
float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
float bfloat16ToFloat(uint16_t bits);
uint16_t floatToBFloat16(float value);
/// Rounds a double once (no double rounding through f32).
uint16_t doubleToHalf(double value);
uint16_t doubleToBFloat16(double value);

/// The C++ storage type of each kind.
template <typename T> struct ElementKindOf;
#define FLIGHTLLM_ELEMENT_KIND_OF(TYPE, KIND)                                  \
  template <> struct ElementKindOf<TYPE> {                                     \
    static constexpr ElementKind value = ElementKind::KIND;                    \
  };
FLIGHTLLM_ELEMENT_KIND_OF(float, F32)
FLIGHTLLM_ELEMENT_KIND_OF(double, F64)
FLIGHTLLM_ELEMENT_KIND_OF(Half, F16)
FLIGHTLLM_ELEMENT_KIND_OF(BFloat16, BF16)
FLIGHTLLM_ELEMENT_KIND_OF(bool, I1)
FLIGHTLLM_ELEMENT_KIND_OF(int8_t, I8)
FLIGHTLLM_ELEMENT_KIND_OF(int16_t, I16)
FLIGHTLLM_ELEMENT_KIND_OF(int32_t, I32)
FLIGHTLLM_ELEMENT_KIND_OF(int64_t, I64)
FLIGHTLLM_ELEMENT_KIND_OF(uint8_t, UI8)
FLIGHTLLM_ELEMENT_KIND_OF(uint16_t, UI16)
FLIGHTLLM_ELEMENT_KIND_OF(uint32_t, UI32)
FLIGHTLLM_ELEMENT_KIND_OF(uint64_t, UI64)
#undef FLIGHTLLM_ELEMENT_KIND_OF

/// Calls `fn(T{})` with T the storage type of `kind`.
template <typename Fn>
decltype(auto) dispatchElementKind(ElementKind kind, Fn &&fn) {
  switch (kind) {
  case ElementKind::F32:
    return fn(float{});
  case ElementKind::F64:
    return fn(double{});
  case ElementKind::F16:
    return fn(Half{});
  case ElementKind::BF16:
    return fn(BFloat16{});
  case ElementKind::I1:
    return fn(bool{});
  case ElementKind::I8:
    return fn(int8_t{});
  case ElementKind::I16:
    return fn(int16_t{});
  case ElementKind::I32:
    return fn(int32_t{});
  case ElementKind::I64:
    return fn(int64_t{});
  case ElementKind::UI8:
    return fn(uint8_t{});
  case ElementKind::UI16:
    return fn(uint16_t{});
  case ElementKind::UI32:
    return fn(uint32_t{});
  case ElementKind::UI64:
    return fn(uint64_t{});
  }
  llvm_unreachable("unknown element kind");
}

/// Whether T is the storage type of a floating-point kind.
template <typename T> constexpr bool isFloatStorage() {
  return std::is_same_v<T, float> || std::is_same_v<T, double> ||
         std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
}

/// The value of a floating-point element, exactly.
template <typename T> inline double floatValue(T v) {
  if constexpr (std::is_same_v<T, Half>)
    return halfToFloat(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>)
    return bfloat16ToFloat(v.bits);
  else
    return double(v);
}

/// Float to integer: truncate toward zero, NaN -> 0, saturate to the 64-bit
/// range (of uint64 for a uint64 target), then wrap to the target width.
template <typename To> inline To floatToInteger(double d) {
  if (std::isnan(d))
    return To(0);
  double t = std::trunc(d);
  constexpr double two63 = 9223372036854775808.0;
  if constexpr (std::is_same_v<To, uint64_t>) {
    if (t >= 2 * two63)
      return std::numeric_limits<uint64_t>::max();
    if (t >= two63)
      return uint64_t(t);
  }
  int64_t i;
  if (t >= two63)
    i = std::numeric_limits<int64_t>::max();
  else if (t < -two63)
    i = std::numeric_limits<int64_t>::min();
  else
    i = int64_t(t);
  return To(uint64_t(i));
}

/// Converts one element with ONNX Cast semantics (see HostTensor::castTo).
template <typename To, typename From> inline To convertElement(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (isFloatStorage<From>())
      return floatValue(v) != 0.0;
    else
      return v != 0;
  } else if constexpr (isFloatStorage<From>()) {
    double d = floatValue(v);
    if constexpr (std::is_same_v<To, float> || std::is_same_v<To, double>)
      return To(d); // Exact or a single round-to-nearest-even.
    else if constexpr (std::is_same_v<To, Half>)
      return Half{std::is_same_v<From, double> ? doubleToHalf(d)
                                               : floatToHalf(float(d))};
    else if constexpr (std::is_same_v<To, BFloat16>)
      return BFloat16{std::is_same_v<From, double> ? doubleToBFloat16(d)
                                                   : floatToBFloat16(float(d))};
    else
      return floatToInteger<To>(d);
  } else {
    // From an integer or bool.
    if constexpr (std::is_same_v<To, float> || std::is_same_v<To, double>)
      return To(v);
    else if constexpr (std::is_same_v<To, Half>)
      return Half{doubleToHalf(double(v))};
    else if constexpr (std::is_same_v<To, BFloat16>)
      return BFloat16{doubleToBFloat16(double(v))};
    else if constexpr (std::is_signed_v<From>)
      return To(uint64_t(int64_t(v))); // Two's complement wrap.
    else
      return To(uint64_t(v));
  }
}

bool isFloatKind(ElementKind kind);
bool isSignedIntegerKind(ElementKind kind); // i8..i64 (not i1)
bool isUnsignedIntegerKind(ElementKind kind);
unsigned getElementKindSize(ElementKind kind);
llvm::StringRef getElementKindName(ElementKind kind); // "f32", "ui8", ...

/// The kind of an MLIR element type (signless integers are signed, `i1` is
/// bool), if it has one.
std::optional<ElementKind> getElementKind(mlir::Type type);
mlir::Type getMLIRElementType(mlir::MLIRContext *ctx, ElementKind kind);

/// Number of elements of a static shape (1 for a scalar).
int64_t getNumElements(llvm::ArrayRef<int64_t> shape);

class HostTensor {
public:
  /// An empty (shape [0]) f32 tensor; a placeholder.
  HostTensor() = default;
  /// A zero-filled tensor. Dimensions must be non-negative.
  HostTensor(ElementKind kind, llvm::ArrayRef<int64_t> shape);
  HostTensor(const HostTensor &other);
  HostTensor(HostTensor &&other) noexcept;
  HostTensor &operator=(const HostTensor &other);
  HostTensor &operator=(HostTensor &&other) noexcept;

  template <typename T>
  static HostTensor get(llvm::ArrayRef<int64_t> shape,
                        llvm::ArrayRef<T> values) {
    HostTensor t(ElementKindOf<T>::value, shape);
    assert(int64_t(values.size()) == t.getNumElements() && "size mismatch");
    llvm::copy(values, t.getMutableValues<T>().begin());
    return t;
  }
  template <typename T>
  static HostTensor get(llvm::ArrayRef<int64_t> shape,
                        std::initializer_list<T> values) {
    return get<T>(shape, llvm::ArrayRef<T>(values));
  }
  /// A rank-0 tensor.
  template <typename T> static HostTensor scalar(T value) {
    return get<T>({}, llvm::ArrayRef<T>(value));
  }

  ElementKind getKind() const { return kind; }
  llvm::ArrayRef<int64_t> getShape() const { return shape; }
  int64_t getRank() const { return int64_t(shape.size()); }
  int64_t getDim(int64_t i) const { return shape[i]; }
  int64_t getNumElements() const { return numElements; }
  unsigned getElementSize() const { return getElementKindSize(kind); }
  size_t getNumBytes() const { return size_t(numElements) * getElementSize(); }

  /// Whether the data is a read-only view of memory the tensor does not own.
  bool isBorrowed() const { return borrowed != nullptr; }

  llvm::ArrayRef<char> getRawData() const {
    return {reinterpret_cast<const char *>(data()), getNumBytes()};
  }
  /// Mutable accessors make a borrowed tensor own a copy of its data first.
  llvm::MutableArrayRef<char> getMutableRawData() {
    return {reinterpret_cast<char *>(mutableData()), getNumBytes()};
  }

  template <typename T> llvm::ArrayRef<T> getValues() const {
    assert(ElementKindOf<T>::value == kind && "element type mismatch");
    return llvm::ArrayRef<T>(reinterpret_cast<const T *>(data()),
                             size_t(numElements));
  }
  template <typename T> llvm::MutableArrayRef<T> getMutableValues() {
    assert(ElementKindOf<T>::value == kind && "element type mismatch");
    return llvm::MutableArrayRef<T>(reinterpret_cast<T *>(mutableData()),
                                    size_t(numElements));
  }

  /// Element `i` (row-major) as a double / as an integer. Floats convert to
  /// integers by truncation; bools are 0 or 1.
  double getDouble(int64_t i) const;
  int64_t getInt(int64_t i) const;
  /// All elements as int64 (any kind; see getInt).
  llvm::SmallVector<int64_t> toInt64Vector() const;

  /// Same data, new shape with the same element count.
  HostTensor reshaped(llvm::ArrayRef<int64_t> newShape) const;

  /// Same bytes seen as `kind`, which must have the same element size.
  HostTensor bitcastTo(ElementKind kind) const;

  /// Converts every element to `to` with ONNX Cast semantics: floats round to
  /// nearest even, floats to integers truncate toward zero (NaN gives 0, the
  /// result saturates to the 64-bit range and then wraps to the target width
  /// like numpy's astype), integers wrap, anything to bool is `!= 0`.
  HostTensor castTo(ElementKind to) const;

  /// The RankedTensorType of this tensor.
  mlir::RankedTensorType getType(mlir::MLIRContext *ctx) const;

  /// A tensor viewing `bytes` (`getNumBytes()` of them, little-endian
  /// row-major) without copying them; they must stay alive and unchanged as
  /// long as this tensor or a copy of it reads them. Data misaligned for the
  /// element type is copied instead.
  static HostTensor borrow(ElementKind kind, llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<char> bytes);

  /// How fromElementsAttr holds the constant's data.
  enum class Constant {
    /// Copies it: the tensor may outlive the attribute (or its blob).
    Copy,
    /// Borrows it where the attribute's storage holds the elements as they
    /// are (non-splat dense data, resource blobs), copies otherwise. The
    /// attribute, and its resource blob, must outlive the tensor.
    Borrow,
  };
  /// Reads any ElementsAttr with a supported element type: dense (splats and
  /// bit-packed i1 included), dense resource blobs, and any other
  /// implementation through its APInt/APFloat iterators. Fails with a message
  /// for unsupported element types or dropped resource blobs.
  static llvm::Expected<HostTensor>
  fromElementsAttr(mlir::ElementsAttr attr, Constant mode = Constant::Copy);
  /// A DenseElementsAttr with this tensor's type and values.
  mlir::DenseElementsAttr toDenseElementsAttr(mlir::MLIRContext *ctx) const;

  /// Parses a serialized ONNX TensorProto (raw_data or typed fields; no
  /// external data). `name`, if given, receives the tensor's name.
  static llvm::Expected<HostTensor>
  fromTensorProtoBytes(llvm::StringRef bytes, std::string *name = nullptr);
  /// Reads a TensorProto .pb file such as an ONNX backend test's input_0.pb.
  static llvm::Expected<HostTensor>
  fromTensorProtoFile(llvm::StringRef path, std::string *name = nullptr);

  /// "tensor<2x3xf32>"-style description.
  std::string describeType() const;

private:
  /// A tensor with no storage yet (borrow() fills it in).
  HostTensor(ElementKind kind, llvm::ArrayRef<int64_t> shape, std::nullptr_t);
  const unsigned char *data() const {
    return borrowed ? borrowed : storage.get();
  }
  unsigned char *mutableData() {
    if (borrowed)
      detach();
    return storage.get();
  }
  /// Replaces the borrowed view by an owned copy.
  void detach();

  ElementKind kind = ElementKind::F32;
  llvm::SmallVector<int64_t, 4> shape = {0};
  int64_t numElements = 0;
  /// Owned data, from new[], hence aligned for every storage type; objects of
  /// the element type live in it. Null while the data is borrowed.
  std::unique_ptr<unsigned char[]> storage;
  /// Borrowed read-only data (aligned for the element type), or null.
  const unsigned char *borrowed = nullptr;
};

/// Compares `actual` with `expected` the way the ONNX backend tests do:
/// same element kind and shape, floats within |a - e| <= atol + rtol * |e|
/// (NaN equals NaN, infinities must match), integers and bools exactly.
/// Returns a description of the first mismatch, or nullopt when they agree.
std::optional<std::string> compareTensors(const HostTensor &actual,
                                          const HostTensor &expected,
                                          double rtol = 1e-3,
                                          double atol = 1e-7);

} // namespace flightllm::reference

#endif // FLIGHTLLM_REFERENCE_HOSTTENSOR_H
