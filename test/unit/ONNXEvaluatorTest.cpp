//===- ONNXEvaluatorTest.cpp - Reference semantics of onnx ops ------------===//
//
// Each test writes a one-op function in the generic syntax, evaluates it on
// host tensors and checks the tricky corners of the ONNX semantics.
//===----------------------------------------------------------------------===//

#include "flightllm/Reference/ONNXEvaluator.h"
#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Reference/HostTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;

namespace {

template <typename T>
HostTensor tensor(ArrayRef<int64_t> shape, std::initializer_list<T> values) {
  return HostTensor::get<T>(shape, values);
}
HostTensor i64s(std::initializer_list<int64_t> values) {
  return tensor<int64_t>({int64_t(values.size())}, values);
}
HostTensor f32s(ArrayRef<int64_t> shape, std::initializer_list<float> values) {
  return tensor<float>(shape, values);
}

std::vector<double> doubles(const HostTensor &t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.getNumElements(); ++i)
    v.push_back(t.getDouble(i));
  return v;
}

class ONNXEvaluatorTest : public ::testing::Test {
protected:
  ONNXEvaluatorTest() {
    ctx.loadDialect<func::FuncDialect, onnxir::ONNXDialect>();
  }

  /// Evaluates `body` (which defines %r from %a0, %a1, ...) on `args`;
  /// `results` are the types of %r (or %r#0, %r#1, ...). On failure returns
  /// nothing and leaves the diagnostics in `diagnostics`.
  std::optional<SmallVector<HostTensor>>
  eval(ArrayRef<HostTensor> args, StringRef body, ArrayRef<std::string> results,
       const EvaluatorOptions &options = {}, bool verify = true) {
    std::string src = "func.func @f(";
    for (auto [i, a] : llvm::enumerate(args))
      src += (i ? ", %a" : "%a") + std::to_string(i) + ": " + a.describeType();
    src += ") -> (" + llvm::join(results, ", ") + ") {\n  " + body.str() +
           "\n  return ";
    for (size_t i = 0; i < results.size(); ++i)
      src += (i ? ", %r" : "%r") +
             (results.size() > 1 ? "#" + std::to_string(i) : std::string());
    src += " : " + llvm::join(results, ", ") + "\n}\n";

    diagnostics.clear();
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diagnostics += d.str() + "\n";
      return success();
    });
    ParserConfig config(&ctx, /*verifyAfterParse=*/verify);
    OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(src, config);
    if (!module) {
      ADD_FAILURE() << "cannot parse:\n" << src << diagnostics;
      return std::nullopt;
    }
    auto func = module->lookupSymbol<func::FuncOp>("f");
    auto r = evaluateFunction(func, args, options);
    if (failed(r))
      return std::nullopt;
    return std::move(*r);
  }

  /// Single-result convenience: the result, or a failed test.
  HostTensor eval1(ArrayRef<HostTensor> args, StringRef body,
                   std::string result) {
    auto r = eval(args, body, {result});
    if (!r) {
      ADD_FAILURE() << "evaluation failed: " << diagnostics;
      return HostTensor();
    }
    return std::move((*r)[0]);
  }

  /// Expects evaluation to fail with a diagnostic containing `message`.
  void expectError(ArrayRef<HostTensor> args, StringRef body,
                   std::string result, StringRef message) {
    EXPECT_FALSE(eval(args, body, {result}).has_value());
    EXPECT_NE(diagnostics.find(message.str()), std::string::npos)
        << "diagnostics: " << diagnostics;
  }

  MLIRContext ctx;
  std::string diagnostics;
};

} // namespace

TEST_F(ONNXEvaluatorTest, AddBroadcastsLikeNumpy) {
  // [2, 1, 3] + [4, 1] -> [2, 4, 3].
  HostTensor a = f32s({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor b = f32s({4, 1}, {10, 20, 30, 40});
  HostTensor r = eval1(
      {a, b},
      R"(%r = "onnx.Add"(%a0, %a1) : (tensor<2x1x3xf32>, tensor<4x1xf32>) -> tensor<2x4x3xf32>)",
      "tensor<2x4x3xf32>");
  ASSERT_EQ(r.getShape(), (ArrayRef<int64_t>{2, 4, 3}));
  EXPECT_EQ(r.getValues<float>()[0], 11);
  EXPECT_EQ(r.getValues<float>()[5], 23);  // [0, 1, 2]: 3 + 20
  EXPECT_EQ(r.getValues<float>()[23], 46); // [1, 3, 2]: 6 + 40
  expectError(
      {a, f32s({2}, {1, 2})},
      R"(%r = "onnx.Add"(%a0, %a1) : (tensor<2x1x3xf32>, tensor<2xf32>) -> tensor<?x?x?xf32>)",
      "tensor<?x?x?xf32>", "not broadcastable");
}

TEST_F(ONNXEvaluatorTest, UInt8ArithmeticWraps) {
  HostTensor a = tensor<uint8_t>({2}, {250, 3});
  HostTensor b = tensor<uint8_t>({2}, {10, 5});
  HostTensor r = eval1(
      {a, b},
      R"(%r = "onnx.Sub"(%a1, %a0) : (tensor<2xui8>, tensor<2xui8>) -> tensor<2xui8>)",
      "tensor<2xui8>");
  EXPECT_EQ(r.getValues<uint8_t>()[0], 16); // 10 - 250 mod 256
  EXPECT_EQ(r.getValues<uint8_t>()[1], 2);
}

TEST_F(ONNXEvaluatorTest, Float16RoundsEachResult) {
  // 2048 + 1 is not representable in f16: the tie rounds to even (2048).
  HostTensor a = HostTensor::get<Half>(
      {2}, {Half{floatToHalf(2048)}, Half{floatToHalf(2049.5f)}});
  HostTensor b = HostTensor::get<Half>({1}, {Half{floatToHalf(1)}});
  HostTensor r = eval1(
      {a, b},
      R"(%r = "onnx.Add"(%a0, %a1) : (tensor<2xf16>, tensor<1xf16>) -> tensor<2xf16>)",
      "tensor<2xf16>");
  EXPECT_EQ(doubles(r), (std::vector<double>{2048, 2052}));
}

TEST_F(ONNXEvaluatorTest, IntegerDivTruncatesTowardZero) {
  HostTensor a = tensor<int32_t>({4}, {7, -7, 7, INT32_MIN});
  HostTensor b = tensor<int32_t>({4}, {2, 2, -2, -1});
  HostTensor r = eval1(
      {a, b},
      R"(%r = "onnx.Div"(%a0, %a1) : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>)",
      "tensor<4xi32>");
  EXPECT_EQ(r.toInt64Vector(), (SmallVector<int64_t>{3, -3, -3, INT32_MIN}));
  expectError(
      {a, tensor<int32_t>({1}, {0})},
      R"(%r = "onnx.Div"(%a0, %a1) : (tensor<4xi32>, tensor<1xi32>) -> tensor<4xi32>)",
      "tensor<4xi32>", "integer division by zero");
}

TEST_F(ONNXEvaluatorTest, PowWithIntegerExponents) {
  // Float base, int64 exponent; int base, int exponent (exact, wrapping);
  // int base, float exponent (truncated).
  HostTensor r1 = eval1(
      {f32s({3}, {2, -3, 0.5}), i64s({3, 3, -2})},
      R"(%r = "onnx.Pow"(%a0, %a1) : (tensor<3xf32>, tensor<3xi64>) -> tensor<3xf32>)",
      "tensor<3xf32>");
  EXPECT_EQ(doubles(r1), (std::vector<double>{8, -27, 4}));
  HostTensor r2 = eval1(
      {tensor<int64_t>({3}, {3, -2, 3}), i64s({40, 3, 0})},
      R"(%r = "onnx.Pow"(%a0, %a1) : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>)",
      "tensor<3xi64>");
  EXPECT_EQ(r2.toInt64Vector(),
            (SmallVector<int64_t>{int64_t(12157665459056928801ull), -8, 1}));
  HostTensor r3 = eval1(
      {tensor<int32_t>({2}, {2, 10}), f32s({2}, {0.5, -1})},
      R"(%r = "onnx.Pow"(%a0, %a1) : (tensor<2xi32>, tensor<2xf32>) -> tensor<2xi32>)",
      "tensor<2xi32>");
  EXPECT_EQ(r3.toInt64Vector(), (SmallVector<int64_t>{1, 0}));
}

TEST_F(ONNXEvaluatorTest, ReshapeZeroAndMinusOne) {
  HostTensor x(ElementKind::F32, {2, 3, 4});
  HostTensor r = eval1(
      {x, i64s({0, -1})},
      R"(%r = "onnx.Reshape"(%a0, %a1) : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<2x12xf32>)",
      "tensor<2x12xf32>");
  EXPECT_EQ(r.getShape(), (ArrayRef<int64_t>{2, 12}));
  // allowzero = 1 makes 0 a real (empty) dimension.
  HostTensor empty(ElementKind::F32, {0, 3});
  HostTensor z = eval1(
      {empty, i64s({3, 0})},
      R"(%r = "onnx.Reshape"(%a0, %a1) <{allowzero = 1 : i64}> : (tensor<0x3xf32>, tensor<2xi64>) -> tensor<3x0xf32>)",
      "tensor<3x0xf32>");
  EXPECT_EQ(z.getShape(), (ArrayRef<int64_t>{3, 0}));
  expectError(
      {x, i64s({-1, -1})},
      R"(%r = "onnx.Reshape"(%a0, %a1) : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>)",
      "tensor<?x?xf32>", "more than one -1");
  expectError(
      {x, i64s({5, -1})},
      R"(%r = "onnx.Reshape"(%a0, %a1) : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<?x?xf32>)",
      "tensor<?x?xf32>", "cannot infer the -1 dimension");
  expectError(
      {x, i64s({0, 0, 0, 0})},
      R"(%r = "onnx.Reshape"(%a0, %a1) : (tensor<2x3x4xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>)",
      "tensor<?x?x?x?xf32>", "rank 3");
}

TEST_F(ONNXEvaluatorTest, SliceEdgeCases) {
  HostTensor x = tensor<int64_t>({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Negative axis, negative step from an out-of-range start, INT64_MIN end:
  // the whole row reversed.
  HostTensor r = eval1(
      {x, i64s({100}), i64s({INT64_MIN}), i64s({-1}), i64s({-1})},
      R"(%r = "onnx.Slice"(%a0, %a1, %a2, %a3, %a4) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}> : (tensor<2x5xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x5xi64>)",
      "tensor<2x5xi64>");
  EXPECT_EQ(r.toInt64Vector(),
            (SmallVector<int64_t>{4, 3, 2, 1, 0, 9, 8, 7, 6, 5}));
  // Steps of 2 with negative start on two axes; out-of-range end clamps.
  HostTensor s = eval1(
      {x, i64s({-1, -4}), i64s({INT64_MAX, 1000}), i64s({0, 1}), i64s({1, 2})},
      R"(%r = "onnx.Slice"(%a0, %a1, %a2, %a3, %a4) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}> : (tensor<2x5xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x2xi64>)",
      "tensor<1x2xi64>");
  EXPECT_EQ(s.toInt64Vector(), (SmallVector<int64_t>{6, 8}));
  // Empty result when start >= end; default axes and steps.
  HostTensor e = eval1(
      {x, i64s({1, 3}), i64s({2, 3})},
      R"(%r = "onnx.Slice"(%a0, %a1, %a2) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<2x5xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x0xi64>)",
      "tensor<1x0xi64>");
  EXPECT_EQ(e.getShape(), (ArrayRef<int64_t>{1, 0}));
  expectError(
      {x, i64s({0}), i64s({1}), i64s({1}), i64s({0})},
      R"(%r = "onnx.Slice"(%a0, %a1, %a2, %a3, %a4) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}> : (tensor<2x5xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x?xi64>)",
      "tensor<?x?xi64>", "step along axis 1 is 0");
  expectError(
      {x, i64s({0, 0}), i64s({1, 1}), i64s({1, -1})},
      R"(%r = "onnx.Slice"(%a0, %a1, %a2, %a3) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>}> : (tensor<2x5xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<?x?xi64>)",
      "tensor<?x?xi64>", "repeats axis 1");
}

TEST_F(ONNXEvaluatorTest, TriluWithK) {
  HostTensor x = tensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  HostTensor up = eval1(
      {x, i64s({1})},
      R"(%r = "onnx.Trilu"(%a0, %a1) : (tensor<2x3xi32>, tensor<1xi64>) -> tensor<2x3xi32>)",
      "tensor<2x3xi32>");
  EXPECT_EQ(up.toInt64Vector(), (SmallVector<int64_t>{0, 2, 3, 0, 0, 6}));
  HostTensor low = eval1(
      {x, tensor<int64_t>({}, {-1})},
      R"(%r = "onnx.Trilu"(%a0, %a1) <{upper = 0 : i64}> : (tensor<2x3xi32>, tensor<i64>) -> tensor<2x3xi32>)",
      "tensor<2x3xi32>");
  EXPECT_EQ(low.toInt64Vector(), (SmallVector<int64_t>{0, 0, 0, 4, 0, 0}));
  HostTensor all = eval1(
      {x, i64s({-100})},
      R"(%r = "onnx.Trilu"(%a0, %a1) : (tensor<2x3xi32>, tensor<1xi64>) -> tensor<2x3xi32>)",
      "tensor<2x3xi32>");
  EXPECT_EQ(all.toInt64Vector(), x.toInt64Vector());
}

TEST_F(ONNXEvaluatorTest, CumSumModes) {
  HostTensor x = tensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto cumsum = [&](StringRef attrs) {
    std::string body =
        R"(%r = "onnx.CumSum"(%a0, %a1) )" + attrs.str() +
        R"( : (tensor<2x3xi32>, tensor<i32>) -> tensor<2x3xi32>)";
    return eval1({x, tensor<int32_t>({}, {-1})}, body, "tensor<2x3xi32>")
        .toInt64Vector();
  };
  EXPECT_EQ(cumsum(""), (SmallVector<int64_t>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(cumsum("<{exclusive = 1 : i64}>"),
            (SmallVector<int64_t>{0, 1, 3, 0, 4, 9}));
  EXPECT_EQ(cumsum("<{reverse = 1 : i64}>"),
            (SmallVector<int64_t>{6, 5, 3, 15, 11, 6}));
  EXPECT_EQ(cumsum("<{exclusive = 1 : i64, reverse = 1 : i64}>"),
            (SmallVector<int64_t>{5, 3, 0, 11, 6, 0}));
}

TEST_F(ONNXEvaluatorTest, GatherNegativeIndices) {
  HostTensor data = f32s({3, 2}, {1, 2, 3, 4, 5, 6});
  HostTensor idx = tensor<int64_t>({2, 2}, {-1, 0, -3, 2});
  HostTensor r = eval1(
      {data, idx},
      R"(%r = "onnx.Gather"(%a0, %a1) <{axis = 0 : i64}> : (tensor<3x2xf32>, tensor<2x2xi64>) -> tensor<2x2x2xf32>)",
      "tensor<2x2x2xf32>");
  EXPECT_EQ(doubles(r), (std::vector<double>{5, 6, 1, 2, 1, 2, 5, 6}));
  HostTensor c = eval1(
      {data, tensor<int32_t>({}, {-1})},
      R"(%r = "onnx.Gather"(%a0, %a1) <{axis = -1 : i64}> : (tensor<3x2xf32>, tensor<i32>) -> tensor<3xf32>)",
      "tensor<3xf32>");
  EXPECT_EQ(doubles(c), (std::vector<double>{2, 4, 6}));
  expectError(
      {data, i64s({3})},
      R"(%r = "onnx.Gather"(%a0, %a1) <{axis = 0 : i64}> : (tensor<3x2xf32>, tensor<1xi64>) -> tensor<1x2xf32>)",
      "tensor<1x2xf32>", "index 3 is out of range");
}

TEST_F(ONNXEvaluatorTest, CastTruncatesAndMakesBools) {
  HostTensor x = f32s({5}, {-1.9f, -0.2f, 0.0f, 0.7f, 2.5f});
  HostTensor i = eval1(
      {x},
      R"(%r = "onnx.Cast"(%a0) <{to = 7 : i64}> : (tensor<5xf32>) -> tensor<5xi64>)",
      "tensor<5xi64>");
  EXPECT_EQ(i.toInt64Vector(), (SmallVector<int64_t>{-1, 0, 0, 0, 2}));
  HostTensor b = eval1(
      {x},
      R"(%r = "onnx.Cast"(%a0) <{to = 9 : i64}> : (tensor<5xf32>) -> tensor<5xi1>)",
      "tensor<5xi1>");
  EXPECT_EQ(b.toInt64Vector(), (SmallVector<int64_t>{1, 1, 0, 1, 1}));
  HostTensor f = eval1(
      {tensor<bool>({2}, {true, false})},
      R"(%r = "onnx.Cast"(%a0) <{to = 1 : i64}> : (tensor<2xi1>) -> tensor<2xf32>)",
      "tensor<2xf32>");
  EXPECT_EQ(doubles(f), (std::vector<double>{1, 0}));
}

TEST_F(ONNXEvaluatorTest, SplitWithAndWithoutSizes) {
  HostTensor x =
      tensor<int64_t>({2, 6}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto equal = eval(
      {x},
      R"(%r:3 = "onnx.Split"(%a0) <{axis = -1 : i64}> : (tensor<2x6xi64>) -> (tensor<2x2xi64>, tensor<2x2xi64>, tensor<2x2xi64>))",
      {"tensor<2x2xi64>", "tensor<2x2xi64>", "tensor<2x2xi64>"});
  ASSERT_TRUE(equal.has_value()) << diagnostics;
  EXPECT_EQ((*equal)[1].toInt64Vector(), (SmallVector<int64_t>{2, 3, 8, 9}));
  auto sized = eval(
      {x, i64s({1, 0, 5})},
      R"(%r:3 = "onnx.Split"(%a0, %a1) <{axis = 1 : i64}> : (tensor<2x6xi64>, tensor<3xi64>) -> (tensor<2x1xi64>, tensor<2x0xi64>, tensor<2x5xi64>))",
      {"tensor<2x1xi64>", "tensor<2x0xi64>", "tensor<2x5xi64>"});
  ASSERT_TRUE(sized.has_value()) << diagnostics;
  EXPECT_EQ((*sized)[0].toInt64Vector(), (SmallVector<int64_t>{0, 6}));
  EXPECT_EQ((*sized)[1].getNumElements(), 0);
  EXPECT_EQ((*sized)[2].toInt64Vector(),
            (SmallVector<int64_t>{1, 2, 3, 4, 5, 7, 8, 9, 10, 11}));
  EXPECT_FALSE(
      eval(
          {x},
          R"(%r:4 = "onnx.Split"(%a0) <{axis = 1 : i64}> : (tensor<2x6xi64>) -> (tensor<2x?xi64>, tensor<2x?xi64>, tensor<2x?xi64>, tensor<2x?xi64>))",
          {"tensor<2x?xi64>", "tensor<2x?xi64>", "tensor<2x?xi64>",
           "tensor<2x?xi64>"})
          .has_value());
  EXPECT_NE(diagnostics.find("4 equal parts"), std::string::npos)
      << diagnostics;
}

TEST_F(ONNXEvaluatorTest, UnsqueezeSqueezeAndShape) {
  HostTensor x(ElementKind::I1, {3, 1, 2});
  HostTensor u = eval1(
      {x, i64s({-1, 0})},
      R"(%r = "onnx.Unsqueeze"(%a0, %a1) : (tensor<3x1x2xi1>, tensor<2xi64>) -> tensor<1x3x1x2x1xi1>)",
      "tensor<1x3x1x2x1xi1>");
  EXPECT_EQ(u.getShape(), (ArrayRef<int64_t>{1, 3, 1, 2, 1}));
  HostTensor s = eval1(
      {x}, R"(%r = "onnx.Squeeze"(%a0) : (tensor<3x1x2xi1>) -> tensor<3x2xi1>)",
      "tensor<3x2xi1>");
  EXPECT_EQ(s.getShape(), (ArrayRef<int64_t>{3, 2}));
  expectError(
      {x, i64s({0})},
      R"(%r = "onnx.Squeeze"(%a0, %a1) : (tensor<3x1x2xi1>, tensor<1xi64>) -> tensor<?x?xi1>)",
      "tensor<?x?xi1>", "cannot squeeze axis 0 of size 3");
  HostTensor shape = eval1(
      {x},
      R"(%r = "onnx.Shape"(%a0) <{start = -2 : i64, end = 10 : i64}> : (tensor<3x1x2xi1>) -> tensor<2xi64>)",
      "tensor<2xi64>");
  EXPECT_EQ(shape.toInt64Vector(), (SmallVector<int64_t>{1, 2}));
}

TEST_F(ONNXEvaluatorTest, RangeConstantOfShapeExpand) {
  HostTensor r = eval1(
      {tensor<int32_t>({}, {10}), tensor<int32_t>({}, {1}),
       tensor<int32_t>({}, {-3})},
      R"(%r = "onnx.Range"(%a0, %a1, %a2) : (tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<?xi32>)",
      "tensor<?xi32>");
  EXPECT_EQ(r.toInt64Vector(), (SmallVector<int64_t>{10, 7, 4}));
  HostTensor f = eval1(
      {f32s({}, {0}), f32s({}, {1}), f32s({}, {0.25})},
      R"(%r = "onnx.Range"(%a0, %a1, %a2) : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>)",
      "tensor<?xf32>");
  EXPECT_EQ(doubles(f), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  HostTensor c = eval1(
      {i64s({2, 0})},
      R"(%r = "onnx.ConstantOfShape"(%a0) <{value = dense<7> : tensor<1xi8>}> : (tensor<2xi64>) -> tensor<2x0xi8>)",
      "tensor<2x0xi8>");
  EXPECT_EQ(c.getShape(), (ArrayRef<int64_t>{2, 0}));
  HostTensor z = eval1(
      {tensor<int64_t>({0}, {})},
      R"(%r = "onnx.ConstantOfShape"(%a0) : (tensor<0xi64>) -> tensor<f32>)",
      "tensor<f32>");
  EXPECT_EQ(z.getRank(), 0);
  EXPECT_EQ(z.getDouble(0), 0.0);
  // Expand broadcasts both ways: [3, 1] with [2, 1, 4] -> [2, 3, 4].
  HostTensor e = eval1(
      {f32s({3, 1}, {1, 2, 3}), i64s({2, 1, 4})},
      R"(%r = "onnx.Expand"(%a0, %a1) : (tensor<3x1xf32>, tensor<3xi64>) -> tensor<2x3x4xf32>)",
      "tensor<2x3x4xf32>");
  EXPECT_EQ(e.getShape(), (ArrayRef<int64_t>{2, 3, 4}));
  EXPECT_EQ(e.getDouble(23), 3);
  expectError(
      {tensor<int32_t>({}, {0}), tensor<int32_t>({}, {1}),
       tensor<int32_t>({}, {0})},
      R"(%r = "onnx.Range"(%a0, %a1, %a2) : (tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<?xi32>)",
      "tensor<?xi32>", "delta is zero");
}

TEST_F(ONNXEvaluatorTest, LogicAndSelection) {
  HostTensor a = tensor<bool>({2, 2}, {true, true, false, false});
  HostTensor b = tensor<bool>({2}, {true, false});
  HostTensor r = eval1({a, b},
                       R"(%n = "onnx.Not"(%a1) : (tensor<2xi1>) -> tensor<2xi1>
  %r = "onnx.And"(%a0, %n) : (tensor<2x2xi1>, tensor<2xi1>) -> tensor<2x2xi1>)",
                       "tensor<2x2xi1>");
  EXPECT_EQ(r.toInt64Vector(), (SmallVector<int64_t>{0, 1, 0, 0}));
  HostTensor w = eval1(
      {a, tensor<int64_t>({}, {1}), i64s({-1, -2})},
      R"(%r = "onnx.Where"(%a0, %a1, %a2) : (tensor<2x2xi1>, tensor<i64>, tensor<2xi64>) -> tensor<2x2xi64>)",
      "tensor<2x2xi64>");
  EXPECT_EQ(w.toInt64Vector(), (SmallVector<int64_t>{1, 1, -1, -2}));
}

TEST_F(ONNXEvaluatorTest, MaxMinPropagateNaN) {
  HostTensor a = f32s({3}, {1, NAN, 3});
  HostTensor b = f32s({1}, {2});
  HostTensor r = eval1(
      {a, b, a},
      R"(%r = "onnx.Max"(%a0, %a1, %a2) : (tensor<3xf32>, tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>)",
      "tensor<3xf32>");
  EXPECT_EQ(r.getDouble(0), 2);
  EXPECT_TRUE(std::isnan(r.getDouble(1)));
  EXPECT_EQ(r.getDouble(2), 3);
}

TEST_F(ONNXEvaluatorTest, MatMulAndGemm) {
  // 1-D x 3-D: the vector is a row, the unit dimension dropped again.
  HostTensor v = f32s({2}, {1, 2});
  HostTensor m = f32s({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0});
  HostTensor r = eval1(
      {v, m},
      R"(%r = "onnx.MatMul"(%a0, %a1) : (tensor<2xf32>, tensor<2x2x3xf32>) -> tensor<2x3xf32>)",
      "tensor<2x3xf32>");
  EXPECT_EQ(doubles(r), (std::vector<double>{9, 12, 15, 1, 2, 0}));
  // Gemm with transA, alpha, beta and a row-vector C.
  HostTensor a = f32s({2, 1}, {1, 2});
  HostTensor b = f32s({2, 2}, {1, 2, 3, 4});
  HostTensor c = f32s({2}, {10, 20});
  HostTensor g = eval1(
      {a, b, c},
      R"(%r = "onnx.Gemm"(%a0, %a1, %a2) <{transA = 1 : i64, alpha = 2.0 : f32, beta = 0.5 : f32}> : (tensor<2x1xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>)",
      "tensor<1x2xf32>");
  EXPECT_EQ(doubles(g), (std::vector<double>{19, 30}));
}

TEST_F(ONNXEvaluatorTest, ReductionsAndNormalization) {
  HostTensor x = f32s({2, 2}, {1, 2, 3, 5});
  HostTensor mean = eval1(
      {x},
      R"(%r = "onnx.ReduceMean"(%a0) <{axes = array<i64: -1>, keepdims = 0 : i64}> : (tensor<2x2xf32>) -> tensor<2xf32>)",
      "tensor<2xf32>");
  EXPECT_EQ(doubles(mean), (std::vector<double>{1.5, 4}));
  HostTensor all =
      eval1({tensor<int32_t>({3}, {1, 2, 2})},
            R"(%r = "onnx.ReduceMean"(%a0) : (tensor<3xi32>) -> tensor<1xi32>)",
            "tensor<1xi32>");
  EXPECT_EQ(all.toInt64Vector(), (SmallVector<int64_t>{1})); // 5 / 3
  HostTensor soft =
      eval1({f32s({2}, {1000, 1000})},
            R"(%r = "onnx.Softmax"(%a0) : (tensor<2xf32>) -> tensor<2xf32>)",
            "tensor<2xf32>");
  EXPECT_EQ(doubles(soft), (std::vector<double>{0.5, 0.5}));
  auto ln = eval(
      {x, f32s({2}, {1, 2}), f32s({}, {1})},
      R"(%r:3 = "onnx.LayerNormalization"(%a0, %a1, %a2) <{epsilon = 0.0 : f32, resultSegmentSizes = array<i32: 1, 1, 1>}> : (tensor<2x2xf32>, tensor<2xf32>, tensor<f32>) -> (tensor<2x2xf32>, tensor<2x1xf32>, tensor<2x1xf32>))",
      {"tensor<2x2xf32>", "tensor<2x1xf32>", "tensor<2x1xf32>"});
  ASSERT_TRUE(ln.has_value()) << diagnostics;
  EXPECT_EQ(doubles((*ln)[0]), (std::vector<double>{0, 3, 0, 3}));
  EXPECT_EQ(doubles((*ln)[1]), (std::vector<double>{1.5, 4}));
  EXPECT_EQ(doubles((*ln)[2]), (std::vector<double>{2, 1}));
}

TEST_F(ONNXEvaluatorTest, ReportsProblemsInsteadOfCrashing) {
  // Operands that do not match the op's types.
  HostTensor x = f32s({2}, {1, 2});
  EXPECT_FALSE(
      eval({x}, R"(%r = "onnx.Neg"(%a0) : (tensor<2xf32>) -> tensor<3xf32>)",
           {"tensor<3xf32>"})
          .has_value());
  EXPECT_NE(diagnostics.find("result #0 evaluates to tensor<2xf32>"),
            std::string::npos)
      << diagnostics;
  // Results above the size limit fail before allocating.
  EvaluatorOptions small;
  small.maxResultElements = 100;
  EXPECT_FALSE(
      eval(
          {i64s({1000, 1000})},
          R"(%r = "onnx.ConstantOfShape"(%a0) : (tensor<2xi64>) -> tensor<?x?xf32>)",
          {"tensor<?x?xf32>"}, small)
          .has_value());
  EXPECT_NE(diagnostics.find("more than 100 elements"), std::string::npos)
      << diagnostics;
  // Unverified IR mixing element types is rejected, not misread.
  EXPECT_FALSE(
      eval(
          {x, tensor<int8_t>({2}, {1, 2})},
          R"(%r = "onnx.Add"(%a0, %a1) : (tensor<2xf32>, tensor<2xi8>) -> tensor<2xf32>)",
          {"tensor<2xf32>"}, {}, /*verify=*/false)
          .has_value());
  EXPECT_NE(diagnostics.find("operands must share one element type, got f32 "
                             "and i8"),
            std::string::npos)
      << diagnostics;
  expectError(
      {x, i64s({5})},
      R"(%r = "onnx.CumSum"(%a0, %a1) : (tensor<2xf32>, tensor<1xi64>) -> tensor<2xf32>)",
      "tensor<2xf32>", "axis 5 is out of range for rank 1");
}

TEST_F(ONNXEvaluatorTest, IfRunsTheBranchItsConditionSelects) {
  // The branches read the enclosing function's values.
  const char *body = R"(%r = "onnx.If"(%a0) ({
    %n = "onnx.Neg"(%a1) : (tensor<2xf32>) -> tensor<2xf32>
    "onnx.Yield"(%n) : (tensor<2xf32>) -> ()
  }, {
    "onnx.Yield"(%a1) : (tensor<2xf32>) -> ()
  }) : (tensor<1xi1>) -> tensor<2xf32>)";
  HostTensor x = f32s({2}, {1, -2});
  HostTensor yes = tensor<bool>({1}, {true}), no = tensor<bool>({1}, {false});
  EXPECT_EQ(doubles(eval1({yes, x}, body, "tensor<2xf32>")),
            (std::vector<double>{-1, 2}));
  EXPECT_EQ(doubles(eval1({no, x}, body, "tensor<2xf32>")),
            (std::vector<double>{1, -2}));
}

TEST_F(ONNXEvaluatorTest, ScatterNDWritesSlicesAtIndexTuples) {
  // Rows 2 and 0 of a [3, 2] tensor replaced (HF's causal mask update).
  HostTensor data = f32s({3, 2}, {1, 2, 3, 4, 5, 6});
  HostTensor indices = tensor<int64_t>({2, 1}, {2, 0});
  HostTensor updates = f32s({2, 2}, {50, 60, 10, 20});
  HostTensor r = eval1(
      {data, indices, updates},
      R"(%r = "onnx.ScatterND"(%a0, %a1, %a2) <{reduction = "none"}> : (tensor<3x2xf32>, tensor<2x1xi64>, tensor<2x2xf32>) -> tensor<3x2xf32>)",
      "tensor<3x2xf32>");
  EXPECT_EQ(doubles(r), (std::vector<double>{10, 20, 3, 4, 50, 60}));
  expectError(
      {data, tensor<int64_t>({1, 1}, {3}), f32s({1, 2}, {0, 0})},
      R"(%r = "onnx.ScatterND"(%a0, %a1, %a2) <{reduction = "none"}> : (tensor<3x2xf32>, tensor<1x1xi64>, tensor<1x2xf32>) -> tensor<3x2xf32>)",
      "tensor<3x2xf32>", "index 3 is out of range for dimension 0 of size 3");
}

TEST_F(ONNXEvaluatorTest, TileRepeatsAlongEachAxis) {
  HostTensor x = f32s({1, 2}, {1, 2});
  HostTensor r = eval1(
      {x, i64s({2, 2})},
      R"(%r = "onnx.Tile"(%a0, %a1) : (tensor<1x2xf32>, tensor<2xi64>) -> tensor<2x4xf32>)",
      "tensor<2x4xf32>");
  EXPECT_EQ(doubles(r), (std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2}));
}
