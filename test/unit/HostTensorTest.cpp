//===- HostTensorTest.cpp - Host tensors, conversions, I/O ----------------===//

#include "flightllm/Reference/HostTensor.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/bit.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace flightllm::reference;

namespace {

uint16_t apfloatRound(float v, const llvm::fltSemantics &sem) {
  llvm::APFloat f(v);
  bool lost;
  f.convert(sem, llvm::APFloat::rmNearestTiesToEven, &lost);
  return uint16_t(f.bitcastToAPInt().getZExtValue());
}

bool isHalfNaN(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

} // namespace

TEST(HostTensor, HalfToFloatIsExactForEveryPattern) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    llvm::APFloat ref(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits));
    float got = halfToFloat(uint16_t(bits));
    if (ref.isNaN()) {
      EXPECT_TRUE(std::isnan(got)) << bits;
      continue;
    }
    bool lost;
    ref.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
                &lost);
    EXPECT_EQ(llvm::bit_cast<uint32_t>(got),
              llvm::bit_cast<uint32_t>(ref.convertToFloat()))
        << bits;
  }
}

TEST(HostTensor, FloatToHalfRoundsToNearestEven) {
  // Every f16 value, every midpoint between neighbours and a nudge either
  // side, plus a sweep of f32 patterns across the whole range.
  std::vector<float> samples = {
      0.0f,     -0.0f,
      65504.0f, 65519.99f,
      65520.0f, 1e-8f,
      2.98e-8f, 2.9802322e-8f,
      5.96e-8f, std::numeric_limits<float>::infinity()};
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    float v = halfToFloat(uint16_t(bits));
    float next = halfToFloat(uint16_t(bits + 1));
    float mid = (v + next) / 2;
    samples.insert(samples.end(), {v, mid, std::nextafter(mid, 0.0f),
                                   std::nextafter(mid, 1e9f), -mid});
  }
  for (uint64_t bits = 0; bits < 0x80000000ull; bits += 0x1237)
    samples.push_back(llvm::bit_cast<float>(uint32_t(bits)));
  for (float v : samples) {
    uint16_t got = floatToHalf(v),
             ref = apfloatRound(v, llvm::APFloat::IEEEhalf());
    if (std::isnan(v))
      EXPECT_TRUE(isHalfNaN(got));
    else
      EXPECT_EQ(got, ref) << v;
  }
  EXPECT_TRUE(isHalfNaN(floatToHalf(std::nanf(""))));
}

TEST(HostTensor, BFloat16RoundsToNearestEven) {
  for (uint64_t bits = 0; bits < 0x100000000ull; bits += 0x10101) {
    float v = llvm::bit_cast<float>(uint32_t(bits));
    uint16_t got = floatToBFloat16(v);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(bfloat16ToFloat(got))) << bits;
      continue;
    }
    EXPECT_EQ(got, apfloatRound(v, llvm::APFloat::BFloat())) << bits;
  }
  // A tie goes to the even neighbour; a NaN with low payload stays NaN.
  EXPECT_EQ(floatToBFloat16(llvm::bit_cast<float>(0x3f808000u)), 0x3f80);
  EXPECT_EQ(floatToBFloat16(llvm::bit_cast<float>(0x3f818000u)), 0x3f82);
  EXPECT_TRUE(std::isnan(
      bfloat16ToFloat(floatToBFloat16(llvm::bit_cast<float>(0x7f800001u)))));
}

TEST(HostTensor, CastFollowsONNXRules) {
  HostTensor f =
      HostTensor::get<float>({6}, {-2.7f, 2.7f, NAN, 1e20f, -1.0f, 300.0f});
  // Float -> int truncates toward zero; NaN -> 0; out of range saturates to
  // 64 bits, then wraps to the target width.
  EXPECT_EQ(f.castTo(ElementKind::I64).toInt64Vector(),
            (SmallVector<int64_t>{-2, 2, 0, INT64_MAX, -1, 300}));
  HostTensor u8Tensor = f.castTo(ElementKind::UI8);
  auto u8 = u8Tensor.getValues<uint8_t>();
  EXPECT_EQ(SmallVector<uint8_t>(u8.begin(), u8.end()),
            (SmallVector<uint8_t>{254, 2, 0, 255, 255, 44}));
  // Anything -> bool is != 0 (NaN is true).
  HostTensor bTensor = f.castTo(ElementKind::I1);
  auto b = bTensor.getValues<bool>();
  EXPECT_EQ(SmallVector<bool>(b.begin(), b.end()),
            (SmallVector<bool>{true, true, true, true, true, true}));
  HostTensor ints = HostTensor::get<int32_t>({3}, {-1, 0, 70000});
  HostTensor i16Tensor = ints.castTo(ElementKind::I16);
  auto i16 = i16Tensor.getValues<int16_t>();
  EXPECT_EQ(SmallVector<int16_t>(i16.begin(), i16.end()),
            (SmallVector<int16_t>{-1, 0, 4464}));
  EXPECT_EQ(ints.castTo(ElementKind::UI64).getValues<uint64_t>()[0],
            UINT64_MAX);
  auto back = ints.castTo(ElementKind::F16).castTo(ElementKind::F32);
  EXPECT_EQ(back.getValues<float>()[2], INFINITY); // Beyond f16's range.
  HostTensor big = HostTensor::get<double>({1}, {1.8446744073709552e19});
  EXPECT_EQ(big.castTo(ElementKind::UI64).getValues<uint64_t>()[0], UINT64_MAX);
}

TEST(HostTensor, ElementsAttrRoundTrip) {
  MLIRContext ctx;
  Builder b(&ctx);
  auto type = RankedTensorType::get({2, 3}, b.getF16Type());
  HostTensor t(ElementKind::F16, {2, 3});
  for (auto [i, v] : llvm::enumerate(t.getMutableValues<Half>()))
    v = Half{floatToHalf(float(i) - 2.5f)};
  DenseElementsAttr attr = t.toDenseElementsAttr(&ctx);
  EXPECT_EQ(attr.getType(), type);
  auto back = HostTensor::fromElementsAttr(cast<ElementsAttr>(attr));
  ASSERT_TRUE(bool(back));
  EXPECT_FALSE(compareTensors(*back, t, 0, 0).has_value());

  // Splats (including i1, which MLIR packs to bits) expand.
  auto splat = DenseElementsAttr::get(
      RankedTensorType::get({4}, b.getI32Type()), b.getI32IntegerAttr(7));
  auto s = HostTensor::fromElementsAttr(cast<ElementsAttr>(splat));
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->toInt64Vector(), (SmallVector<int64_t>{7, 7, 7, 7}));
  bool bits[] = {true, false, false, true, true, false, true, true, false};
  auto mask = DenseElementsAttr::get(RankedTensorType::get({9}, b.getI1Type()),
                                     ArrayRef<bool>(bits));
  auto m = HostTensor::fromElementsAttr(cast<ElementsAttr>(mask));
  ASSERT_TRUE(bool(m));
  EXPECT_EQ(m->toInt64Vector(),
            (SmallVector<int64_t>{1, 0, 0, 1, 1, 0, 1, 1, 0}));
  EXPECT_EQ(m->toDenseElementsAttr(&ctx), mask);

  // Unsigned types keep their signedness.
  HostTensor u = HostTensor::get<uint8_t>({2}, {200, 3});
  EXPECT_EQ(u.toDenseElementsAttr(&ctx).getType().getElementType(),
            b.getIntegerType(8, /*isSigned=*/false));
}

TEST(HostTensor, ReadsResourceBlobs) {
  MLIRContext ctx;
  Builder b(&ctx);
  auto type = RankedTensorType::get({3}, b.getI64Type());
  int64_t values[] = {5, -6, 7};
  auto attr = DenseResourceElementsAttr::get(
      type, "weights",
      HeapAsmResourceBlob::allocateAndCopyInferAlign(
          ArrayRef<int64_t>(values)));
  auto t = HostTensor::fromElementsAttr(cast<ElementsAttr>(attr));
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->toInt64Vector(), (SmallVector<int64_t>{5, -6, 7}));
}

TEST(HostTensor, BorrowedStorageIsCopyOnWrite) {
  alignas(4) float data[6] = {1, 2, 3, 4, 5, 6};
  ArrayRef<char> bytes(reinterpret_cast<const char *>(data), sizeof(data));
  HostTensor t = HostTensor::borrow(ElementKind::F32, {2, 3}, bytes);
  ASSERT_TRUE(t.isBorrowed());
  EXPECT_EQ(t.getValues<float>().data(), data); // A view, not a copy.

  // Copies, reshapes and bitcasts keep viewing the same bytes.
  HostTensor copy = t;
  EXPECT_TRUE(copy.isBorrowed());
  EXPECT_EQ(copy.getValues<float>().data(), data);
  HostTensor flat = t.reshaped({6});
  EXPECT_TRUE(flat.isBorrowed());
  EXPECT_EQ(flat.getValues<float>().data(), data);
  EXPECT_EQ(flat.getRank(), 1);
  EXPECT_EQ(flat.getDim(0), 6);
  HostTensor bits = t.bitcastTo(ElementKind::I32);
  EXPECT_TRUE(bits.isBorrowed());
  EXPECT_EQ(bits.getInt(1), int64_t(llvm::bit_cast<int32_t>(2.0f)));

  // The first mutable access detaches: the borrowed bytes never change.
  copy.getMutableValues<float>()[0] = 42;
  EXPECT_FALSE(copy.isBorrowed());
  EXPECT_EQ(data[0], 1.0f);
  EXPECT_EQ(copy.getValues<float>()[0], 42.0f);
  EXPECT_EQ(copy.getValues<float>()[5], 6.0f);
  EXPECT_TRUE(t.isBorrowed());
  EXPECT_EQ(t.getValues<float>()[0], 1.0f);
  flat.getMutableRawData()[0] = 0;
  EXPECT_FALSE(flat.isBorrowed());
  EXPECT_EQ(data[0], 1.0f);

  // Moves carry the view and leave an empty tensor.
  HostTensor moved = std::move(t);
  EXPECT_TRUE(moved.isBorrowed());
  EXPECT_EQ(moved.getValues<float>().data(), data);
  EXPECT_FALSE(t.isBorrowed());
  EXPECT_EQ(t.getNumElements(), 0);
  HostTensor assigned;
  assigned = std::move(moved);
  EXPECT_TRUE(assigned.isBorrowed());
  EXPECT_FALSE(moved.isBorrowed());
  // Assigning an owned tensor over a borrowed one owns again.
  assigned = HostTensor::get<float>({1}, {9});
  EXPECT_FALSE(assigned.isBorrowed());
  EXPECT_EQ(assigned.getValues<float>()[0], 9.0f);
  EXPECT_EQ(data[0], 1.0f);
}

TEST(HostTensor, OwnedCopiesAreDeep) {
  HostTensor t = HostTensor::get<int32_t>({3}, {1, 2, 3});
  EXPECT_FALSE(t.isBorrowed());
  HostTensor copy = t;
  EXPECT_NE(copy.getValues<int32_t>().data(), t.getValues<int32_t>().data());
  copy.getMutableValues<int32_t>()[0] = 7;
  EXPECT_EQ(t.getValues<int32_t>()[0], 1);
  HostTensor view = t.reshaped({1, 3});
  view.getMutableValues<int32_t>()[2] = 9;
  EXPECT_EQ(t.getValues<int32_t>()[2], 3);
}

TEST(HostTensor, MisalignedBytesAreCopied) {
  alignas(8) char buffer[1 + 3 * sizeof(float)] = {};
  float values[3] = {1.5f, -2, 3};
  std::memcpy(buffer + 1, values, sizeof(values));
  HostTensor t = HostTensor::borrow(
      ElementKind::F32, {3}, ArrayRef<char>(buffer + 1, sizeof(values)));
  EXPECT_FALSE(t.isBorrowed());
  EXPECT_EQ(t.getValues<float>()[0], 1.5f);
  EXPECT_EQ(t.getValues<float>()[2], 3.0f);
  // Byte elements are always aligned.
  HostTensor bytes = HostTensor::borrow(ElementKind::I8, {3},
                                        ArrayRef<char>(buffer + 1, 3));
  EXPECT_TRUE(bytes.isBorrowed());
}

TEST(HostTensor, BorrowsConstantsOnRequest) {
  MLIRContext ctx;
  Builder b(&ctx);
  auto type = RankedTensorType::get({3}, b.getF32Type());
  float values[] = {0.5f, -6, 7};
  auto resource = cast<ElementsAttr>(DenseResourceElementsAttr::get(
      type, "weights",
      HeapAsmResourceBlob::allocateAndCopyInferAlign(ArrayRef<float>(values))));
  ArrayRef<char> blob = cast<DenseResourceElementsAttr>(resource)
                            .getRawHandle()
                            .getBlob()
                            ->getData();
  auto borrowed =
      HostTensor::fromElementsAttr(resource, HostTensor::Constant::Borrow);
  ASSERT_TRUE(bool(borrowed));
  EXPECT_TRUE(borrowed->isBorrowed());
  EXPECT_EQ(borrowed->getRawData().data(), blob.data());
  EXPECT_EQ(borrowed->getValues<float>()[1], -6.0f);
  auto copied = HostTensor::fromElementsAttr(resource);
  ASSERT_TRUE(bool(copied));
  EXPECT_FALSE(copied->isBorrowed());
  EXPECT_NE(copied->getRawData().data(), blob.data());

  auto dense = cast<ElementsAttr>(
      DenseElementsAttr::get(type, ArrayRef<float>(values)));
  auto d = HostTensor::fromElementsAttr(dense, HostTensor::Constant::Borrow);
  ASSERT_TRUE(bool(d));
  EXPECT_TRUE(d->isBorrowed());
  EXPECT_EQ(d->getRawData().data(),
            cast<DenseElementsAttr>(dense).getRawData().data());
  // Splats and packed bools have no elements to view: they are expanded.
  auto splat = cast<ElementsAttr>(
      DenseElementsAttr::get(type, Attribute(b.getF32FloatAttr(2.0f))));
  auto s = HostTensor::fromElementsAttr(splat, HostTensor::Constant::Borrow);
  ASSERT_TRUE(bool(s));
  EXPECT_FALSE(s->isBorrowed());
  EXPECT_EQ(s->getValues<float>()[2], 2.0f);
  bool bits[] = {true, false, true};
  auto mask = cast<ElementsAttr>(DenseElementsAttr::get(
      RankedTensorType::get({3}, b.getI1Type()), ArrayRef<bool>(bits)));
  auto m = HostTensor::fromElementsAttr(mask, HostTensor::Constant::Borrow);
  ASSERT_TRUE(bool(m));
  EXPECT_FALSE(m->isBorrowed());
  EXPECT_EQ(m->toInt64Vector(), (SmallVector<int64_t>{1, 0, 1}));
}

TEST(HostTensor, RejectsUnsupportedElementTypes) {
  MLIRContext ctx;
  Builder b(&ctx);
  auto attr =
      DenseElementsAttr::get(RankedTensorType::get({1}, b.getIntegerType(4)),
                             b.getIntegerAttr(b.getIntegerType(4), 1));
  auto t = HostTensor::fromElementsAttr(cast<ElementsAttr>(attr));
  ASSERT_FALSE(bool(t));
  EXPECT_NE(llvm::toString(t.takeError()).find("unsupported element type"),
            std::string::npos);
}

TEST(HostTensor, ParsesTensorProtos) {
  onnx::TensorProto raw;
  raw.set_name("x");
  raw.set_data_type(onnx::TensorProto::FLOAT);
  raw.add_dims(2);
  float values[] = {1.5f, -2.0f};
  raw.set_raw_data(std::string(reinterpret_cast<char *>(values), 8));
  std::string name;
  auto t = HostTensor::fromTensorProtoBytes(raw.SerializeAsString(), &name);
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(name, "x");
  EXPECT_EQ(t->getValues<float>()[1], -2.0f);

  onnx::TensorProto half;
  half.set_data_type(onnx::TensorProto::FLOAT16);
  half.add_int32_data(floatToHalf(0.5f)); // f16 bit patterns in int32_data.
  auto h = HostTensor::fromTensorProtoBytes(half.SerializeAsString());
  ASSERT_TRUE(bool(h));
  EXPECT_EQ(h->getRank(), 0);
  EXPECT_EQ(h->getDouble(0), 0.5);

  onnx::TensorProto bools;
  bools.set_data_type(onnx::TensorProto::BOOL);
  bools.add_dims(3);
  bools.set_raw_data(std::string("\x01\x00\x02", 3));
  auto bt = HostTensor::fromTensorProtoBytes(bools.SerializeAsString());
  ASSERT_TRUE(bool(bt));
  EXPECT_EQ(bt->toInt64Vector(), (SmallVector<int64_t>{1, 0, 1}));

  onnx::TensorProto u32;
  u32.set_data_type(onnx::TensorProto::UINT32);
  u32.add_dims(1);
  u32.add_uint64_data(4000000000u);
  auto ut = HostTensor::fromTensorProtoBytes(u32.SerializeAsString());
  ASSERT_TRUE(bool(ut));
  EXPECT_EQ(ut->getValues<uint32_t>()[0], 4000000000u);

  onnx::TensorProto wrong;
  wrong.set_data_type(onnx::TensorProto::INT64);
  wrong.add_dims(2);
  wrong.add_int64_data(1);
  auto w = HostTensor::fromTensorProtoBytes(wrong.SerializeAsString());
  ASSERT_FALSE(bool(w));
  EXPECT_NE(llvm::toString(w.takeError()).find("1 values in int64_data"),
            std::string::npos);

  onnx::TensorProto str;
  str.set_data_type(onnx::TensorProto::STRING);
  auto s = HostTensor::fromTensorProtoBytes(str.SerializeAsString());
  ASSERT_FALSE(bool(s));
  EXPECT_NE(llvm::toString(s.takeError()).find("string"), std::string::npos);
}

TEST(HostTensor, CompareUsesBackendTolerance) {
  auto f = [](std::initializer_list<float> v) {
    return HostTensor::get<float>({int64_t(v.size())}, v);
  };
  EXPECT_FALSE(compareTensors(f({1000.0f, NAN, 0.0f}), f({1000.9f, NAN, 1e-8f}))
                   .has_value());
  auto mismatch = compareTensors(f({1.0f, 2.0f}), f({1.0f, 2.01f}));
  ASSERT_TRUE(mismatch.has_value());
  EXPECT_NE(mismatch->find("at [1]"), std::string::npos) << *mismatch;
  EXPECT_TRUE(compareTensors(f({NAN}), f({1.0f})).has_value());
  EXPECT_TRUE(compareTensors(f({INFINITY}), f({-INFINITY})).has_value());
  EXPECT_TRUE(compareTensors(HostTensor::get<int32_t>({1}, {3}),
                             HostTensor::get<int32_t>({1}, {4}))
                  .has_value());
  auto shape =
      compareTensors(f({1.0f, 2.0f}), f({1.0f, 2.0f}).reshaped({2, 1}));
  ASSERT_TRUE(shape.has_value());
  EXPECT_NE(shape->find("tensor<2x1xf32>"), std::string::npos) << *shape;
}
