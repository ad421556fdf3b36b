//===- LLMInterpreterTest.cpp - The fp32 reference interpreter ------------===//
//
// Each llm op against values computed by hand from docs/llm-dialect.md, the
// interpreter's error reporting, and the Session: prefill of N tokens equals
// N decode steps, batches, the context limit and the program contract.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Interpreter/Interpreter.h"
#include "flightllm/ISA/Numerics.h"
#include "flightllm/Interpreter/Session.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using namespace flightllm;
using flightllm::interpreter::HostTensor;
using flightllm::interpreter::Interpreter;
using flightllm::interpreter::Session;
using flightllm::reference::ElementKind;

namespace {

HostTensor f32(ArrayRef<int64_t> shape, ArrayRef<float> values) {
  return HostTensor::get<float>(shape, values);
}
HostTensor i64(ArrayRef<int64_t> shape, ArrayRef<int64_t> values) {
  return HostTensor::get<int64_t>(shape, values);
}

/// Checks shape and (f32-converted) values of `actual`.
void expectTensor(const HostTensor &actual, ArrayRef<int64_t> shape,
                  ArrayRef<float> expected, float tolerance = 1e-6f) {
  ASSERT_EQ(actual.getShape(), shape) << actual.describeType();
  ASSERT_EQ(actual.getNumElements(), int64_t(expected.size()));
  for (int64_t i = 0; i < actual.getNumElements(); ++i)
    EXPECT_NEAR(actual.getDouble(i), expected[i], tolerance) << "element " << i;
}

class InterpreterTest : public ::testing::Test {
protected:
  InterpreterTest()
      : handler(&context, [this](Diagnostic &diag) {
          if (auto loc = dyn_cast<FileLineColLoc>(diag.getLocation()))
            diagnostics += "line " + std::to_string(loc.getLine()) + ": ";
          diagnostics += diag.str() + "\n";
          return success();
        }) {
    context.loadDialect<func::FuncDialect, llm::LLMDialect>();
    context.allowUnregisteredDialects();
  }

  ModuleOp parse(StringRef source) {
    module = parseSourceString<ModuleOp>(source, ParserConfig(&context));
    return module ? *module : ModuleOp();
  }

  /// Parses `source`, prepares its first function and runs it.
  FailureOr<SmallVector<HostTensor>>
  run(StringRef source, ArrayRef<HostTensor> args,
      interpreter::InterpreterOptions options = {}) {
    ModuleOp m = parse(source);
    if (!m)
      return failure();
    auto funcs = m.getOps<func::FuncOp>();
    if (funcs.empty())
      return failure();
    FailureOr<std::unique_ptr<Interpreter>> interp =
        Interpreter::create(*funcs.begin(), options);
    if (failed(interp))
      return failure();
    return (*interp)->run(args);
  }

  /// Runs a function expected to return one result.
  HostTensor runOne(StringRef source, ArrayRef<HostTensor> args) {
    FailureOr<SmallVector<HostTensor>> results = run(source, args);
    if (failed(results) || results->size() != 1) {
      ADD_FAILURE() << "run failed: " << diagnostics;
      return HostTensor();
    }
    return std::move(results->front());
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::string diagnostics;
  ScopedDiagnosticHandler handler;
};

//===----------------------------------------------------------------------===//
// Weights and embeddings
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, WeightsDenseSplatAndResource) {
  auto results = run(R"mlir(
    func.func @f() -> (tensor<2x2xf32>, tensor<3xf16>, tensor<2xi8>, tensor<2xf32>, tensor<2xbf16>) {
      %a = llm.weight "a" = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
      %b = llm.weight "b" = dense<[0.5, 1.5, -2.0]> : tensor<3xf16>
      %c = llm.weight "c" = dense_resource<ints> : tensor<2xi8>
      %d = llm.weight "d" = dense_resource<floats> : tensor<2xf32>
      %e = llm.weight "e" = dense<0.25> : tensor<2xbf16>
      return %a, %b, %c, %d, %e : tensor<2x2xf32>, tensor<3xf16>, tensor<2xi8>, tensor<2xf32>, tensor<2xbf16>
    }
    {-#
      dialect_resources: {
        builtin: {
          ints: "0x01000000FF05",
          floats: "0x040000000000803F00000040"
        }
      }
    #-}
  )mlir",
                     {});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  ASSERT_EQ(results->size(), 5u);
  expectTensor((*results)[0], {2, 2}, {1, 2, 3, 4});
  EXPECT_EQ((*results)[1].getKind(), ElementKind::F16);
  expectTensor((*results)[1], {3}, {0.5, 1.5, -2});
  EXPECT_EQ((*results)[2].getKind(), ElementKind::I8);
  expectTensor((*results)[2], {2}, {-1, 5});
  expectTensor((*results)[3], {2}, {1, 2});
  EXPECT_EQ((*results)[4].getKind(), ElementKind::BF16);
  expectTensor((*results)[4], {2}, {0.25, 0.25});
}

TEST_F(InterpreterTest, DroppedResourceBlobIsAnErrorAtTheWeight) {
  auto results = run(R"mlir(
    func.func @f() -> tensor<2xf32> {
      %d = llm.weight "d" = dense_resource<missing> : tensor<2xf32>
      return %d : tensor<2xf32>
    }
  )mlir",
                     {});
  EXPECT_TRUE(failed(results));
  EXPECT_NE(diagnostics.find("line 3: cannot read weight 'd'"),
            std::string::npos)
      << diagnostics;
}

constexpr const char *kEmbedding = R"mlir(
  func.func @f(%ids: tensor<?x?xi64>) -> tensor<?x?x2xf32> {
    %t = llm.weight "t" = dense<[[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]]> : tensor<3x2xf32>
    %h = llm.embedding %t, %ids : (tensor<3x2xf32>, tensor<?x?xi64>) -> tensor<?x?x2xf32>
    return %h : tensor<?x?x2xf32>
  }
)mlir";

TEST_F(InterpreterTest, EmbeddingGathersRows) {
  expectTensor(runOne(kEmbedding, {i64({1, 3}, {2, 0, 1})}), {1, 3, 2},
               {20, 21, 0, 1, 10, 11});
  // Arguments convert to the declared element type.
  HostTensor ids32 = HostTensor::get<int32_t>({2, 1}, {1, 2});
  expectTensor(runOne(kEmbedding, {ids32}), {2, 1, 2}, {10, 11, 20, 21});
}

TEST_F(InterpreterTest, EmbeddingIdOutsideTableIsAnError) {
  EXPECT_TRUE(failed(run(kEmbedding, {i64({1, 2}, {0, 3})})));
  EXPECT_NE(diagnostics.find("line 4: id 3 (element 1 of the ids) is outside "
                             "the table's rows [0, 3)"),
            std::string::npos)
      << diagnostics;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, LinearBothLayoutsWithBias) {
  // W = [[1, 0], [0, 1], [1, 1]]; y = x W + b.
  HostTensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  std::vector<float> expected = {14, 25, 20, 31};
  expectTensor(runOne(R"mlir(
    func.func @f(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
      %w = llm.weight "w" = dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<3x2xf32>
      %b = llm.weight "b" = dense<[10.0, 20.0]> : tensor<2xf32>
      %y = llm.linear %x, %w, %b : (tensor<2x3xf32>, tensor<3x2xf32>, tensor<2xf32>) -> tensor<2x2xf32>
      return %y : tensor<2x2xf32>
    })mlir",
                      {x}),
               {2, 2}, expected);
  expectTensor(runOne(R"mlir(
    func.func @f(%x: tensor<2x3xf32>) -> tensor<2x2xf32> {
      %w = llm.weight "w" = dense<[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]> : tensor<2x3xf32>
      %b = llm.weight "b" = dense<[10.0, 20.0]> : tensor<2xf32>
      %y = llm.linear %x, %w, %b {transpose_weight = true} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
      return %y : tensor<2x2xf32>
    })mlir",
                      {x}),
               {2, 2}, expected);
}

TEST_F(InterpreterTest, LinearWithoutInputScaleQuantizesPerToken) {
  // Without input_scale each row is quantized dynamically: amax = 10,
  // xs = 10/127, xq = rne(x * 12.7) = [13, 127]; acc = [407, 495];
  // y = acc * (xs * weight_scales[n]).
  HostTensor y = runOne(R"mlir(
    func.func @f(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %w = llm.weight "w" = dense<[[2, -1], [3, 4]]> : tensor<2x2xi8>
      %y = llm.linear %x, %w {weight_scales = dense<[1.0, 0.5]> : tensor<2xf32>}
          : (tensor<1x2xf32>, tensor<2x2xi8>) -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    })mlir",
                        {f32({1, 2}, {1, 10})});
  ASSERT_EQ(y.getNumElements(), 2);
  float xs = 10.0f / 127.0f;
  EXPECT_EQ(y.getValues<float>()[0], float(407) * (xs * 1.0f));
  EXPECT_EQ(y.getValues<float>()[1], float(495) * (xs * 0.5f));
}

//===----------------------------------------------------------------------===//
// Accelerator numerics (docs/execution-model.md, section 5)
//===----------------------------------------------------------------------===//

/// One grouped-query attention with a past of one cached token, computed by
/// hand with Numerics.h step by step, against the interpreter's mode.
TEST_F(InterpreterTest, AcceleratorAttentionMatchesHandComputation) {
  namespace nx = flightllm::numerics;
  // Hq = 2, Hkv = 1, Dh = 4, P = 1, S = 2.
  const int dh = 4, numP = 1, numS = 2, numT = numP + numS;
  std::vector<float> q = {0.5f,  -1.25f, 2.0f,  0.75f, -0.5f, 1.5f,
                          0.25f, -2.0f,  1.0f,  1.0f,  -1.0f, 0.125f,
                          3.0f,  -0.75f, 0.5f,  -1.5f};
  std::vector<float> k = {0.25f, -0.5f, 1.0f, 0.75f, -1.0f, 0.5f, 0.125f, 2.0f};
  std::vector<float> v = {1.5f, 0.5f, -0.25f, -1.0f, 0.75f, -2.0f, 1.0f, 0.5f};
  std::vector<float> pastK = {10, -20, 30, 127}, pastV = {-5, 60, -127, 8};
  float kScales[dh] = {0.01f, 0.02f, 0.015f, 0.03f};
  float vScales[dh] = {0.02f, 0.025f, 0.01f, 0.05f};
  float scale = 0.5f;
  auto results = run(R"mlir(
    func.func @f(%q: tensor<1x2x8xf32>, %k: tensor<1x2x4xf32>, %v: tensor<1x2x4xf32>,
                 %pk: tensor<1x1x1x4xf32>, %pv: tensor<1x1x1x4xf32>)
        -> (tensor<1x2x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>) {
      %o, %ck, %cv = llm.attention %q, %k, %v past(%pk, %pv)
          {causal = true, num_heads = 2 : i64, num_kv_heads = 1 : i64,
           scale = 0.5 : f32,
           k_scales = array<f32: 0.01, 0.02, 0.015, 0.03>,
           v_scales = array<f32: 0.02, 0.025, 0.01, 0.05>}
          : (tensor<1x2x8xf32>, tensor<1x2x4xf32>, tensor<1x2x4xf32>,
             tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>)
          -> (tensor<1x2x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>)
      return %o, %ck, %cv : tensor<1x2x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>
    })mlir",
                     {f32({1, 2, 8}, q), f32({1, 2, 4}, k), f32({1, 2, 4}, v),
                      f32({1, 1, 1, 4}, pastK), f32({1, 1, 1, 4}, pastV)},
                     {interpreter::Numerics::Accelerator});
  ASSERT_TRUE(succeeded(results)) << diagnostics;

  // 1. The cache: past codes, then sat8(rne(k * (1 / k_scale))).
  int8_t k8[numT][dh], v8[numT][dh];
  for (int j = 0; j < dh; ++j) {
    k8[0][j] = int8_t(pastK[j]);
    v8[0][j] = int8_t(pastV[j]);
    for (int s = 0; s < numS; ++s) {
      k8[1 + s][j] = nx::quantizeOne(k[s * dh + j], 1.0f / kScales[j]);
      v8[1 + s][j] = nx::quantizeOne(v[s * dh + j], 1.0f / vScales[j]);
    }
  }
  for (int t = 0; t < numT; ++t)
    for (int j = 0; j < dh; ++j) {
      EXPECT_EQ((*results)[1].getValues<float>()[t * dh + j], float(k8[t][j]));
      EXPECT_EQ((*results)[2].getValues<float>()[t * dh + j], float(v8[t][j]));
    }

  for (int s = 0; s < numS; ++s)
    for (int h = 0; h < 2; ++h) {
      // 2. q' = h(q * h(k_scale)); quantize_dynamic.
      float qp[dh];
      for (int j = 0; j < dh; ++j)
        qp[j] = nx::roundF16(q[s * 8 + h * dh + j] * nx::roundF16(kScales[j]));
      int8_t q8[dh];
      float qs = nx::quantizeDynamic(qp, q8, dh);
      // 3. Scores.
      uint16_t sc[numT], p[numT];
      for (int t = 0; t < numT; ++t) {
        int32_t acc = 0;
        for (int j = 0; j < dh; ++j)
          acc += int32_t(q8[j]) * int32_t(k8[t][j]);
        sc[t] = nx::toF16(float(acc) * (qs * 1.0f));
      }
      // 4. Causal softmax at pos = P + s.
      nx::miscSoftmax(sc, scale, p, numT, true, numP + s);
      // 5. quantize_dynamic(p), P.V, rescale.
      float pf[numT];
      for (int t = 0; t < numT; ++t)
        pf[t] = nx::fromF16(p[t]);
      int8_t p8[numT];
      float ps = nx::quantizeDynamic(pf, p8, numT);
      for (int j = 0; j < dh; ++j) {
        int32_t acc = 0;
        for (int t = 0; t < numT; ++t)
          acc += int32_t(p8[t]) * int32_t(v8[t][j]);
        float expected = nx::roundF16(float(acc) * (ps * vScales[j]));
        EXPECT_EQ((*results)[0].getValues<float>()[s * 8 + h * dh + j],
                  expected)
            << "token " << s << " head " << h << " channel " << j;
      }
    }
}

/// The accelerator computes an f16/bf16 program like an f32 one: its values
/// are rounded to fp16 between ops, never to the program's float type.
TEST_F(InterpreterTest, AcceleratorNumericsIgnoreTheProgramFloatType) {
  // 1 + 2^-9 is an f16 but not a bf16 (the reference rounds it to 1).
  const char *source = R"mlir(
    func.func @f(%a: tensor<1xbf16>, %b: tensor<1xbf16>) -> tensor<1xbf16> {
      %y = llm.add %a, %b : tensor<1xbf16>
      return %y : tensor<1xbf16>
    })mlir";
  std::vector<HostTensor> args = {f32({1}, {1}), f32({1}, {0.001953125f})};
  auto results = run(source, args, {interpreter::Numerics::Accelerator});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ((*results)[0].getDouble(0), 1.001953125);
  EXPECT_EQ(runOne(source, args).getDouble(0), 1.0);
}

/// Without the attributes the accelerator needs, preparing fails at the op.
TEST_F(InterpreterTest, AcceleratorNeedsQuantizationAttributes) {
  auto results = run(R"mlir(
    func.func @f(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %w = llm.weight "w" = dense<[[2.0, -1.0], [3.0, 4.0]]> : tensor<2x2xf32>
      %y = llm.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    })mlir",
                     {f32({1, 2}, {1, 10})},
                     {interpreter::Numerics::Accelerator});
  EXPECT_TRUE(failed(results));
  EXPECT_NE(diagnostics.find("line 4: accelerator numerics: 'llm.linear' "
                             "needs an int8 weight with weight_scales"),
            std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, LinearW8A8IsExactIntegerMath) {
  // xq = round_half_even(x / 0.025) = [20, -48, 120]; acc = [-724, 488];
  // y = acc * (0.025 * scale[n]) + bias.
  HostTensor y = runOne(R"mlir(
    func.func @f(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
      %w = llm.weight "w" = dense<[[1, -2], [3, 4], [-5, 6]]> : tensor<3x2xi8>
      %b = llm.weight "b" = dense<[1.0, 0.0]> : tensor<2xf32>
      %y = llm.linear %x, %w, %b {input_scale = 0.025 : f32,
                                  weight_scales = dense<[0.5, 0.25]> : tensor<2xf32>}
          : (tensor<1x3xf32>, tensor<3x2xi8>, tensor<2xf32>) -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    })mlir",
                        {f32({1, 3}, {0.5f, -1.2f, 3.0f})});
  ASSERT_EQ(y.getNumElements(), 2);
  // Bit-exact: the same f32 operations as the definition.
  EXPECT_EQ(y.getValues<float>()[0], float(-724) * (0.025f * 0.5f) + 1.0f);
  EXPECT_EQ(y.getValues<float>()[1], float(488) * (0.025f * 0.25f));
}

TEST_F(InterpreterTest, LinearW8A8SaturatesAndRoundsHalfToEven) {
  // 2.5 -> 2 and 3.5 -> 4 (half to even); 1000 saturates at 127.
  HostTensor y = runOne(R"mlir(
    func.func @f(%x: tensor<3x1xf32>) -> tensor<3x1xf32> {
      %w = llm.weight "w" = dense<[[1]]> : tensor<1x1xi8>
      %y = llm.linear %x, %w {input_scale = 1.0 : f32,
                              weight_scales = dense<[1.0]> : tensor<1xf32>}
          : (tensor<3x1xf32>, tensor<1x1xi8>) -> tensor<3x1xf32>
      return %y : tensor<3x1xf32>
    })mlir",
                        {f32({3, 1}, {2.5f, 3.5f, 1000.0f})});
  ASSERT_EQ(y.getNumElements(), 3);
  EXPECT_EQ(y.getValues<float>()[0], 2.0f);
  EXPECT_EQ(y.getValues<float>()[1], 4.0f);
  EXPECT_EQ(y.getValues<float>()[2], 127.0f);
}

/// Large enough for the kernels' weight chunking; checked against a plain
/// double-precision triple loop.
TEST_F(InterpreterTest, LinearMatchesNaiveProductOnLargerShapes) {
  const int64_t m = 5, k = 200, n = 300;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(m * k), w(k * n), wt(n * k), bias(n);
  for (float &v : x)
    v = dist(rng);
  for (float &v : w)
    v = dist(rng);
  for (float &v : bias)
    v = dist(rng);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j)
      wt[j * k + i] = w[i * n + j];
  std::vector<float> expected(m * n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      double sum = bias[c];
      for (int64_t i = 0; i < k; ++i)
        sum += double(x[r * k + i]) * w[i * n + c];
      expected[r * n + c] = float(sum);
    }
  const char *source = R"mlir(
    func.func @f(%x: tensor<5x200xf32>, %w: tensor<{0}xf32>, %b: tensor<300xf32>) -> tensor<5x300xf32> {
      %y = llm.linear %x, %w, %b {{transpose_weight = {1}} : (tensor<5x200xf32>, tensor<{0}xf32>, tensor<300xf32>) -> tensor<5x300xf32>
      return %y : tensor<5x300xf32>
    })mlir";
  expectTensor(runOne(llvm::formatv(source, "200x300", "false").str(),
                      {f32({m, k}, x), f32({k, n}, w), f32({n}, bias)}),
               {m, n}, expected, 1e-4f);
  expectTensor(runOne(llvm::formatv(source, "300x200", "true").str(),
                      {f32({m, k}, x), f32({n, k}, wt), f32({n}, bias)}),
               {m, n}, expected, 1e-4f);
}

TEST_F(InterpreterTest, LinearDynamicReductionMismatchIsAnError) {
  EXPECT_TRUE(failed(run(R"mlir(
    func.func @f(%x: tensor<?x?xf32>, %w: tensor<?x2xf32>) -> tensor<?x2xf32> {
      %y = llm.linear %x, %w : (tensor<?x?xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
      return %y : tensor<?x2xf32>
    })mlir",
                         {f32({1, 4}, {1, 2, 3, 4}),
                          f32({3, 2}, {1, 2, 3, 4, 5, 6})})));
  EXPECT_NE(diagnostics.find("line 3: weight has shape [3, 2] at run time, "
                             "expected [4, N]"),
            std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, LogitsWithTiedTable) {
  expectTensor(runOne(R"mlir(
    func.func @f(%x: tensor<1x1x2xf32>) -> tensor<1x1x3xf32> {
      %t = llm.weight "t" = dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<3x2xf32>
      %l = llm.logits %x, %t {transpose_weight = true} : (tensor<1x1x2xf32>, tensor<3x2xf32>) -> tensor<1x1x3xf32>
      return %l : tensor<1x1x3xf32>
    })mlir",
                      {f32({1, 1, 2}, {1, 2})}),
               {1, 1, 3}, {1, 2, 3});
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, LayerNorm) {
  // mean 2.5, biased variance 1.25.
  HostTensor x = f32({1, 4}, {1, 2, 3, 4});
  expectTensor(runOne(R"mlir(
    func.func @f(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
      %g = llm.weight "g" = dense<[1.0, 2.0, 1.0, 2.0]> : tensor<4xf32>
      %b = llm.weight "b" = dense<[0.0, 0.0, 1.0, 1.0]> : tensor<4xf32>
      %y = llm.layer_norm %x, %g, %b {epsilon = 0.0 : f32} : (tensor<1x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
      return %y : tensor<1x4xf32>
    })mlir",
                      {x}),
               {1, 4}, {-1.3416408f, -0.8944272f, 1.4472136f, 3.6832816f},
               1e-5f);
  // epsilon = 0.75: the denominator is sqrt(2).
  expectTensor(runOne(R"mlir(
    func.func @f(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
      %g = llm.weight "g" = dense<1.0> : tensor<4xf32>
      %y = llm.layer_norm %x, %g {epsilon = 0.75 : f32} : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
      return %y : tensor<1x4xf32>
    })mlir",
                      {x}),
               {1, 4}, {-1.0606602f, -0.3535534f, 0.3535534f, 1.0606602f},
               1e-5f);
}

TEST_F(InterpreterTest, RMSNorm) {
  // mean square 7.5, + epsilon 0.5 = 8.
  expectTensor(runOne(R"mlir(
    func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
      %g = llm.weight "g" = dense<[1.0, 1.0, 2.0, 2.0]> : tensor<4xf32>
      %y = llm.rms_norm %x, %g {epsilon = 0.5 : f32} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
      return %y : tensor<2x4xf32>
    })mlir",
                      {f32({2, 4}, {1, 2, 3, 4, 2, 2, 2, 2})}),
               {2, 4},
               {0.35355339f, 0.70710678f, 2.1213203f, 2.8284271f,
                // mean square 4 + 0.5: 2 / sqrt(4.5)
                0.94280904f, 0.94280904f, 1.8856181f, 1.8856181f},
               1e-5f);
}

//===----------------------------------------------------------------------===//
// Positions and rotary embeddings
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, PositionIdsCountFromThePastLength) {
  const char *source = R"mlir(
    func.func @f(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x2xf32>) -> tensor<?x?xi64> {
      %p = llm.position_ids %ids, %pk {offset = 2 : i64} : (tensor<?x?xi64>, tensor<?x1x?x2xf32>) -> tensor<?x?xi64>
      return %p : tensor<?x?xi64>
    })mlir";
  HostTensor past(ElementKind::F32, {2, 1, 3, 2});
  expectTensor(runOne(source, {i64({2, 2}, {7, 7, 7, 7}), past}), {2, 2},
               {5, 6, 5, 6});
  HostTensor empty(ElementKind::F32, {1, 1, 0, 2});
  expectTensor(runOne(source, {i64({1, 3}, {7, 7, 7}), empty}), {1, 3},
               {2, 3, 4});
}

/// Row 0 of the tables is the identity rotation; row 1 is given per style.
constexpr const char *kRope = R"mlir(
  func.func @f(%x: tensor<1x?x8xf32>, %pos: tensor<{0}xi64>) -> tensor<1x?x8xf32> {
    %c = llm.weight "cos" = dense<[[1.0, 1.0, 1.0, 1.0], {1}]> : tensor<2x4xf32>
    %s = llm.weight "sin" = dense<[[0.0, 0.0, 0.0, 0.0], {2}]> : tensor<2x4xf32>
    %y = llm.rope {3} %x, %c, %s, %pos {{num_heads = 2 : i64} : (tensor<1x?x8xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<{0}xi64>) -> tensor<1x?x8xf32>
    return %y : tensor<1x?x8xf32>
  })mlir";

/// Runs kRope on two tokens whose heads are [1, 2, 3, 4] and [5, 6, 7, 8].
class RopeTest : public InterpreterTest {
protected:
  HostTensor rope(StringRef style, StringRef cosRow, StringRef sinRow,
                  const HostTensor &positions) {
    StringRef posType = positions.getRank() == 1 ? "?" : "1x?";
    HostTensor x = f32({1, 2, 8}, {1, 2, 3, 4, 5, 6, 7, 8, //
                                   1, 2, 3, 4, 5, 6, 7, 8});
    return runOne(llvm::formatv(kRope, posType, cosRow, sinRow, style).str(),
                  {x, positions});
  }
};

TEST_F(RopeTest, RotateHalf) {
  // cos(p, j) = cos(p, j + 2): [0.5, 0.25, 0.5, 0.25]; sin [0.1, 0.2, ...].
  // Head [1, 2, 3, 4] rotates with rot = [-3, -4, 1, 2].
  expectTensor(rope("rotate_half", "[0.5, 0.25, 0.5, 0.25]",
                    "[0.1, 0.2, 0.1, 0.2]", i64({1, 2}, {1, 0})),
               {1, 2, 8},
               {0.2f, -0.3f, 1.6f, 1.4f, 1.8f, -0.1f, 4.0f, 3.2f, //
                1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_F(RopeTest, InterleavedWithSharedPositions) {
  // cos(p, 2i) = cos(p, 2i + 1): [0.5, 0.5, 0.25, 0.25]; sin [0.1, 0.1, 0.2,
  // 0.2]. Head [1, 2, 3, 4] rotates with rot = [-2, 1, -4, 3].
  expectTensor(rope("interleaved", "[0.5, 0.5, 0.25, 0.25]",
                    "[0.1, 0.1, 0.2, 0.2]", i64({2}, {0, 1})),
               {1, 2, 8},
               {1, 2, 3, 4, 5, 6, 7, 8, //
                0.3f, 1.1f, -0.05f, 1.6f, 1.9f, 3.5f, 0.15f, 3.4f});
}

TEST_F(InterpreterTest, RopePositionOutsideTableIsAnError) {
  std::string source =
      llvm::formatv(kRope, "?", "[1.0, 1.0, 1.0, 1.0]", "[0.0, 0.0, 0.0, 0.0]",
                    "rotate_half")
          .str();
  HostTensor x(ElementKind::F32, {1, 1, 8});
  EXPECT_TRUE(failed(run(source, {x, i64({1}, {2})})));
  EXPECT_NE(diagnostics.find("position 2 (token 0 of batch 0) is outside the "
                             "rotary tables' rows [0, 2)"),
            std::string::npos)
      << diagnostics;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, AttentionGroupedQueryHeadsReadTheirGroup) {
  // One token, so each query head returns its kv head's value: heads 0 and 1
  // read kv head 0, heads 2 and 3 kv head 1 (h / (Hq / Hkv), not h % Hkv).
  auto results = run(R"mlir(
    func.func @f(%q: tensor<1x1x8xf32>, %k: tensor<1x1x4xf32>, %v: tensor<1x1x4xf32>)
        -> (tensor<1x1x8xf32>, tensor<1x2x1x2xf32>, tensor<1x2x1x2xf32>) {
      %o, %pk, %pv = llm.attention %q, %k, %v {causal = true, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 1.0 : f32} : (tensor<1x1x8xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>) -> (tensor<1x1x8xf32>, tensor<1x2x1x2xf32>, tensor<1x2x1x2xf32>)
      return %o, %pk, %pv : tensor<1x1x8xf32>, tensor<1x2x1x2xf32>, tensor<1x2x1x2xf32>
    })mlir",
                     {f32({1, 1, 8}, {1, 2, 3, 4, 5, 6, 7, 8}),
                      f32({1, 1, 4}, {9, 8, 7, 6}),
                      f32({1, 1, 4}, {1, 2, 3, 4})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {1, 1, 8}, {1, 2, 1, 2, 3, 4, 3, 4});
  expectTensor((*results)[1], {1, 2, 1, 2}, {9, 8, 7, 6});
  expectTensor((*results)[2], {1, 2, 1, 2}, {1, 2, 3, 4});
}

/// One head of size 1, two cached and two new positions.
constexpr const char *kAttentionWithPast = R"mlir(
  func.func @f(%q: tensor<1x?x1xf32>, %k: tensor<1x?x1xf32>, %v: tensor<1x?x1xf32>,
               %pk: tensor<1x1x?x1xf32>, %pv: tensor<1x1x?x1xf32>)
      -> (tensor<1x?x1xf32>, tensor<1x1x?x1xf32>, tensor<1x1x?x1xf32>) {
    %o, %nk, %nv = llm.attention %q, %k, %v past(%pk, %pv) {{causal = {0}, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = {1} : f32} : (tensor<1x?x1xf32>, tensor<1x?x1xf32>, tensor<1x?x1xf32>, tensor<1x1x?x1xf32>, tensor<1x1x?x1xf32>) -> (tensor<1x?x1xf32>, tensor<1x1x?x1xf32>, tensor<1x1x?x1xf32>)
    return %o, %nk, %nv : tensor<1x?x1xf32>, tensor<1x1x?x1xf32>, tensor<1x1x?x1xf32>
  })mlir";

TEST_F(InterpreterTest, AttentionCausalWithPast) {
  // Zero queries: uniform weights over the allowed positions. New token 0
  // sits at position 2 and sees values 1, 2, 3; token 1 sees all four.
  SmallVector<HostTensor> args = {
      f32({1, 2, 1}, {0, 0}), f32({1, 2, 1}, {30, 40}), f32({1, 2, 1}, {3, 4}),
      f32({1, 1, 2, 1}, {10, 20}), f32({1, 1, 2, 1}, {1, 2})};
  auto causal = run(llvm::formatv(kAttentionWithPast, "true", "1.0").str(), args);
  ASSERT_TRUE(succeeded(causal)) << diagnostics;
  expectTensor((*causal)[0], {1, 2, 1}, {2.0f, 2.5f});
  expectTensor((*causal)[1], {1, 1, 4, 1}, {10, 20, 30, 40});
  expectTensor((*causal)[2], {1, 1, 4, 1}, {1, 2, 3, 4});

  auto full = run(llvm::formatv(kAttentionWithPast, "false", "1.0").str(), args);
  ASSERT_TRUE(succeeded(full)) << diagnostics;
  expectTensor((*full)[0], {1, 2, 1}, {2.5f, 2.5f});
}

TEST_F(InterpreterTest, AttentionScoresAreScaledBeforeSoftmax) {
  // q = 1, keys 0 (cached) and ln(2) / 2 (new), scale 2: scores 0 and ln 2,
  // weights 1/3 and 2/3, output 3/3 + 2 * 6/3 = 5.
  auto results = run(llvm::formatv(kAttentionWithPast, "true", "2.0").str(),
                     {f32({1, 1, 1}, {1}), f32({1, 1, 1}, {0.34657359f}),
                      f32({1, 1, 1}, {6}), f32({1, 1, 1, 1}, {0}),
                      f32({1, 1, 1, 1}, {3})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {1, 1, 1}, {5.0f}, 1e-5f);
}

TEST_F(InterpreterTest, AttentionWithoutPastIsPrefill) {
  // Batch 2, two tokens; token 0 sees only itself, token 1 weighs both
  // equally (zero queries).
  auto results = run(R"mlir(
    func.func @f(%q: tensor<?x?x2xf32>, %k: tensor<?x?x2xf32>, %v: tensor<?x?x2xf32>)
        -> (tensor<?x?x2xf32>, tensor<?x1x?x2xf32>, tensor<?x1x?x2xf32>) {
      %o, %nk, %nv = llm.attention %q, %k, %v {causal = true, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.5 : f32} : (tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>) -> (tensor<?x?x2xf32>, tensor<?x1x?x2xf32>, tensor<?x1x?x2xf32>)
      return %o, %nk, %nv : tensor<?x?x2xf32>, tensor<?x1x?x2xf32>, tensor<?x1x?x2xf32>
    })mlir",
                     {HostTensor(ElementKind::F32, {2, 2, 2}),
                      f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}),
                      f32({2, 2, 2}, {2, 4, 6, 8, 10, 20, 30, 40})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {2, 2, 2}, {2, 4, 4, 6, 10, 20, 20, 30});
  expectTensor((*results)[1], {2, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
}

//===----------------------------------------------------------------------===//
// Element-wise ops
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, Activations) {
  const char *source = R"mlir(
    func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
      %y = llm.{0} %x : tensor<4xf32>
      return %y : tensor<4xf32>
    })mlir";
  HostTensor x = f32({4}, {-1, 0, 1, 2});
  auto check = [&](StringRef op, ArrayRef<float> expected) {
    SCOPED_TRACE(op.str());
    expectTensor(runOne(llvm::formatv(source, op).str(), {x}), {4}, expected,
                 1e-6f);
  };
  check("gelu", {-0.15865525f, 0, 0.84134475f, 1.9544997f});
  check("gelu_tanh", {-0.15880801f, 0, 0.84119199f, 1.9545977f});
  check("silu", {-0.26894142f, 0, 0.73105858f, 1.7615942f});
  check("relu", {0, 0, 1, 2});
}

TEST_F(InterpreterTest, BinaryOps) {
  const char *source = R"mlir(
    func.func @f(%a: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<2xf32> {
      %y = llm.{0} %a, %b : tensor<2xf32>
      return %y : tensor<2xf32>
    })mlir";
  SmallVector<HostTensor> args = {f32({2}, {1, 2}), f32({2}, {2, -1})};
  expectTensor(runOne(llvm::formatv(source, "swiglu").str(), args), {2},
               {1.4621172f, -1.7615942f}, 1e-6f);
  expectTensor(runOne(llvm::formatv(source, "add").str(), args), {2}, {3, 1});
  expectTensor(runOne(llvm::formatv(source, "mul").str(), args), {2}, {2, -2});
}

TEST_F(InterpreterTest, ElementwiseDynamicShapeMismatchIsAnError) {
  EXPECT_TRUE(failed(run(R"mlir(
    func.func @f(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf32> {
      %y = llm.add %a, %b : tensor<?xf32>
      return %y : tensor<?xf32>
    })mlir",
                         {f32({2}, {1, 2}), f32({3}, {1, 2, 3})})));
  EXPECT_NE(diagnostics.find("line 3: the second operand has shape [3] at run "
                             "time, expected [2] like the first"),
            std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, NarrowResultsAreRounded) {
  // 1 + 2^-12 is not an f16 (nor a bf16): the sum rounds back to 1, while
  // the f32 input keeps its value.
  const char *source = R"mlir(
    func.func @f(%a: tensor<1x{0}>, %b: tensor<1x{0}>) -> tensor<1x{0}> {
      %y = llm.add %a, %b : tensor<1x{0}>
      return %y : tensor<1x{0}>
    })mlir";
  for (const char *type : {"f16", "bf16"}) {
    HostTensor y = runOne(llvm::formatv(source, type).str(),
                          {f32({1}, {1}), f32({1}, {0.000244140625f})});
    EXPECT_EQ(y.getDouble(0), 1.0) << type;
  }
  HostTensor y = runOne(llvm::formatv(source, "f32").str(),
                        {f32({1}, {1}), f32({1}, {0.000244140625f})});
  EXPECT_EQ(y.getDouble(0), 1.000244140625);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST_F(InterpreterTest, UnsupportedOpIsAnErrorAtItsLocation) {
  EXPECT_TRUE(failed(run(R"mlir(
    func.func @f(%a: tensor<2xf32>) -> tensor<2xf32> {
      %y = "test.unknown"(%a) : (tensor<2xf32>) -> tensor<2xf32>
      %z = llm.relu %y : tensor<2xf32>
      return %z : tensor<2xf32>
    })mlir",
                         {f32({2}, {1, 2})})));
  EXPECT_NE(diagnostics.find(
                "line 3: the reference interpreter cannot execute "
                "'test.unknown'"),
            std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, ArgumentsMustFitTheSignature) {
  const char *source = R"mlir(
    func.func @f(%a: tensor<?x2xf32>) -> tensor<?x2xf32> {
      %y = llm.relu %a : tensor<?x2xf32>
      return %y : tensor<?x2xf32>
    })mlir";
  EXPECT_TRUE(failed(run(source, {})));
  EXPECT_NE(diagnostics.find("expected 1 arguments, got 0"), std::string::npos)
      << diagnostics;
  EXPECT_TRUE(failed(run(source, {f32({2, 3}, {1, 2, 3, 4, 5, 6})})));
  EXPECT_NE(diagnostics.find("argument #0 is tensor<2x3xf32>, which does not "
                             "fit its type 'tensor<?x2xf32>'"),
            std::string::npos)
      << diagnostics;
  EXPECT_TRUE(failed(run(source, {i64({1, 2}, {1, 2})})));
  EXPECT_NE(diagnostics.find("argument #0 is tensor<1x2xi64>"),
            std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, ResultsMustFitTheirTypes) {
  EXPECT_TRUE(failed(run(R"mlir(
    func.func @f(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>) -> tensor<?x4xf32> {
      %y = llm.linear %x, %w : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x4xf32>
      return %y : tensor<?x4xf32>
    })mlir",
                         {f32({1, 1}, {1}), f32({1, 3}, {1, 2, 3})})));
  EXPECT_NE(diagnostics.find("result #0 has shape [1, 3] at run time, which "
                             "does not fit its type 'tensor<?x4xf32>'"),
            std::string::npos)
      << diagnostics;
}

//===----------------------------------------------------------------------===//
// Programs and sessions
//===----------------------------------------------------------------------===//

struct ModelConfig {
  bool llamaStyle = true; // else GPT-2 style
  bool interleaved = false;
  int64_t layers = 2, vocab = 32, hidden = 16, heads = 4, kvHeads = 2,
          ff = 24, maxPositions = 64;
};

/// Writes an llm program following the contract, with random weights as
/// hex dense attributes. Llama style: RMS norms, rotary embeddings, GQA,
/// SwiGLU, bias-free projections, untied head. GPT-2 style: learned
/// positions, layer norms, biases, gelu_tanh, tied head.
class ProgramWriter {
public:
  explicit ProgramWriter(const ModelConfig &c) : c(c), rng(1234) {}

  std::string write() {
    int64_t dh = c.hidden / c.heads;
    std::string cache = "tensor<?x" + std::to_string(c.kvHeads) + "x?x" +
                        std::to_string(dh) + "xf32>";
    std::string args = "%ids: tensor<?x?xi64> {llm.name = \"input_ids\"}";
    std::string results =
        "tensor<?x?x" + std::to_string(c.vocab) + "xf32> {llm.name = \"logits\"}";
    for (int64_t l = 0; l < c.layers; ++l)
      for (const char *kv : {"key", "value"}) {
        args += llvm::formatv(", %p{0}{1}: {2} {{llm.name = "
                              "\"past_key_values.{0}.{1}\"}",
                              l, kv, cache);
        results += llvm::formatv(", {0} {{llm.name = \"present.{1}.{2}\"}",
                                 cache, l, kv);
      }

    std::string table = weight("embed", {c.vocab, c.hidden});
    std::string h = op("llm.embedding " + table + ", %ids",
                       {mat(c.vocab, c.hidden), "i2"},
                       act(c.hidden));
    std::string pos = op("llm.position_ids %ids, %p0key", {"i2", cache}, "i2");
    std::string cos, sin;
    if (c.llamaStyle) {
      std::tie(cos, sin) = ropeTables(dh);
    } else {
      std::string wpe = weight("wpe", {c.maxPositions, c.hidden});
      std::string p = op("llm.embedding " + wpe + ", " + pos,
                         {mat(c.maxPositions, c.hidden), "i2"},
                         act(c.hidden));
      h = op("llm.add " + h + ", " + p, {}, act(c.hidden));
    }
    std::vector<std::string> presents;
    for (int64_t l = 0; l < c.layers; ++l) {
      std::string x = norm(h);
      std::string q = linear(x, c.hidden, c.heads * dh, l % 2 == 0);
      std::string k = linear(x, c.hidden, c.kvHeads * dh, l % 2 == 1);
      std::string v = linear(x, c.hidden, c.kvHeads * dh, true);
      if (c.llamaStyle) {
        q = rope(q, cos, sin, pos, c.heads, dh);
        k = rope(k, cos, sin, pos, c.kvHeads, dh);
      }
      std::string pk = "%p" + std::to_string(l) + "key";
      std::string pv = "%p" + std::to_string(l) + "value";
      std::string o = "%v" + std::to_string(next++);
      body += llvm::formatv(
          "    {0}:3 = llm.attention {1}, {2}, {3} past({4}, {5}) {{causal = "
          "true, num_heads = {6} : i64, num_kv_heads = {7} : i64, scale = "
          "{8} : f32} : ({9}, {10}, {10}, {11}, {11}) -> ({9}, {11}, {11})\n",
          o, q, k, v, pk, pv, c.heads, c.kvHeads, 1.0 / std::sqrt(double(dh)),
          act(c.heads * dh), act(c.kvHeads * dh), cache);
      presents.push_back(o + "#1");
      presents.push_back(o + "#2");
      std::string a = linear(o + "#0", c.heads * dh, c.hidden, l % 2 == 0);
      h = op("llm.add " + h + ", " + a, {}, act(c.hidden));
      std::string x2 = norm(h);
      std::string mlp;
      if (c.llamaStyle) {
        std::string g = linear(x2, c.hidden, c.ff, false);
        std::string u = linear(x2, c.hidden, c.ff, true);
        std::string s = op("llm.swiglu " + g + ", " + u, {}, act(c.ff));
        mlp = linear(s, c.ff, c.hidden, true);
      } else {
        std::string f = linear(x2, c.hidden, c.ff, true);
        std::string s = op("llm.gelu_tanh " + f, {}, act(c.ff));
        mlp = linear(s, c.ff, c.hidden, false);
      }
      h = op("llm.add " + h + ", " + mlp, {}, act(c.hidden));
    }
    std::string x = norm(h);
    std::string head = c.llamaStyle ? weight("lm_head", {c.hidden, c.vocab})
                                    : table;
    std::string logits =
        op("llm.logits " + x + ", " + head +
               (c.llamaStyle ? "" : " {transpose_weight = true}"),
           {act(c.hidden), c.llamaStyle ? mat(c.hidden, c.vocab)
                                        : mat(c.vocab, c.hidden)},
           act(c.vocab));
    std::string ret = "    return " + logits;
    std::string retTypes = act(c.vocab);
    for (const std::string &p : presents) {
      ret += ", " + p;
      retTypes += ", " + cache;
    }
    return llvm::formatv(
               "module attributes {{llm.family = \"{0}\", llm.num_layers = "
               "{1} : i64, llm.vocab_size = {2} : i64, llm.max_positions = "
               "{3} : i64} {{\n  func.func @forward({4}) -> ({5}) {{\n{6}{7} "
               ": {8}\n  }\n}\n",
               c.llamaStyle ? "llama" : "gpt2", c.layers, c.vocab,
               c.maxPositions, args, results, body, ret, retTypes)
        .str();
  }

private:
  static std::string act(int64_t d) {
    return "tensor<?x?x" + std::to_string(d) + "xf32>";
  }
  static std::string vec(int64_t n) {
    return "tensor<" + std::to_string(n) + "xf32>";
  }
  static std::string mat(int64_t a, int64_t b) {
    return "tensor<" + std::to_string(a) + "x" + std::to_string(b) + "xf32>";
  }

  /// Emits `%vN = text : (operand types) -> result type`; an empty operand
  /// list means the short element-wise form `: type`. "i2" stands for
  /// tensor<?x?xi64>.
  std::string op(const std::string &text, std::vector<std::string> operands,
                 std::string result) {
    auto expand = [](std::string t) {
      return t == "i2" ? std::string("tensor<?x?xi64>") : t;
    };
    std::string name = "%v" + std::to_string(next++);
    result = expand(result);
    body += "    " + name + " = " + text + " : ";
    if (operands.empty()) {
      body += result + "\n";
      return name;
    }
    for (std::string &t : operands)
      t = expand(t);
    body += "(" + llvm::join(operands, ", ") + ") -> " + result + "\n";
    return name;
  }

  std::string constant(const std::string &name, ArrayRef<int64_t> shape,
                       ArrayRef<float> values) {
    std::string hex = llvm::toHex(
        StringRef(reinterpret_cast<const char *>(values.data()),
                  values.size() * sizeof(float)));
    std::string dims;
    for (int64_t d : shape)
      dims += std::to_string(d) + "x";
    std::string ssa = "%w" + std::to_string(next++);
    body += "    " + ssa + " = llm.weight \"" + name + "\" = dense<\"0x" + hex +
            "\"> : tensor<" + dims + "f32>\n";
    return ssa;
  }

  std::string weight(const std::string &name, ArrayRef<int64_t> shape,
                     float mean = 0, float stddev = 0.3f) {
    std::normal_distribution<float> dist(mean, stddev);
    std::vector<float> values(reference::getNumElements(shape));
    for (float &v : values)
      v = dist(rng);
    return constant(name + std::to_string(next), shape, values);
  }

  std::pair<std::string, std::string> ropeTables(int64_t dh) {
    std::vector<float> cosv(c.maxPositions * dh), sinv(c.maxPositions * dh);
    for (int64_t p = 0; p < c.maxPositions; ++p)
      for (int64_t j = 0; j < dh; ++j) {
        int64_t i = c.interleaved ? j / 2 : j % (dh / 2);
        double angle = p * std::pow(10000.0, -2.0 * i / dh);
        cosv[p * dh + j] = float(std::cos(angle));
        sinv[p * dh + j] = float(std::sin(angle));
      }
    return {constant("cos", {c.maxPositions, dh}, cosv),
            constant("sin", {c.maxPositions, dh}, sinv)};
  }

  std::string norm(const std::string &x) {
    std::string g = weight("gamma", {c.hidden}, 1.0f, 0.1f);
    if (c.llamaStyle)
      return op("llm.rms_norm " + x + ", " + g + " {epsilon = 1.0e-06 : f32}",
                {act(c.hidden), vec(c.hidden)},
                act(c.hidden));
    std::string b = weight("beta", {c.hidden}, 0.0f, 0.1f);
    return op("llm.layer_norm " + x + ", " + g + ", " + b +
                  " {epsilon = 1.0e-05 : f32}",
              {act(c.hidden), vec(c.hidden), vec(c.hidden)}, act(c.hidden));
  }

  std::string linear(const std::string &x, int64_t k, int64_t n,
                     bool transposed) {
    std::string w = transposed ? weight("w", {n, k}) : weight("w", {k, n});
    std::vector<std::string> types = {act(k), transposed ? mat(n, k)
                                                         : mat(k, n)};
    std::string text = "llm.linear " + x + ", " + w;
    if (!c.llamaStyle) {
      text += ", " + weight("b", {n}, 0.0f, 0.1f);
      types.push_back(vec(n));
    }
    if (transposed)
      text += " {transpose_weight = true}";
    return op(text, types, act(n));
  }

  std::string rope(const std::string &x, const std::string &cos,
                   const std::string &sin, const std::string &pos,
                   int64_t heads, int64_t dh) {
    std::string table = mat(c.maxPositions, dh);
    return op(llvm::formatv("llm.rope {0} {1}, {2}, {3}, {4} {{num_heads = "
                            "{5} : i64}",
                            c.interleaved ? "interleaved" : "rotate_half", x,
                            cos, sin, pos, heads),
              {act(heads * dh), table, table, "i2"}, act(heads * dh));
  }

  ModelConfig c;
  std::mt19937 rng;
  std::string body;
  int next = 0;
};

class SessionTest : public InterpreterTest {
protected:
  std::unique_ptr<Session> load(const ModelConfig &config) {
    std::string source = ProgramWriter(config).write();
    ModuleOp m = parse(source);
    if (!m) {
      ADD_FAILURE() << "program does not parse: " << diagnostics << source;
      return nullptr;
    }
    FailureOr<std::unique_ptr<Session>> session = Session::create(m);
    if (failed(session)) {
      ADD_FAILURE() << "session: " << diagnostics;
      return nullptr;
    }
    return std::move(*session);
  }

  /// Expects a prefill of `tokens` to give the logits of decoding them one
  /// by one.
  void checkPrefillMatchesDecode(const ModelConfig &config) {
    std::unique_ptr<Session> session = load(config);
    ASSERT_TRUE(session);
    std::vector<int64_t> tokens = {3, 17, 5, 29, 0, 31, 8, 8, 12, 1};
    FailureOr<HostTensor> prefill = session->prefill(tokens);
    ASSERT_TRUE(succeeded(prefill)) << diagnostics;
    ASSERT_EQ(prefill->getShape(), ArrayRef<int64_t>({10, config.vocab}));
    EXPECT_EQ(session->getContextLength(), 10);

    session->reset();
    EXPECT_EQ(session->getContextLength(), 0);
    ArrayRef<float> all = prefill->getValues<float>();
    float maxDiff = 0, maxAbs = 0;
    for (auto [i, token] : llvm::enumerate(tokens)) {
      FailureOr<HostTensor> step = session->decodeStep(token);
      ASSERT_TRUE(succeeded(step)) << diagnostics;
      ASSERT_EQ(step->getShape(), ArrayRef<int64_t>({config.vocab}));
      for (auto [j, value] : llvm::enumerate(step->getValues<float>())) {
        maxDiff = std::max(maxDiff,
                           std::abs(value - all[i * config.vocab + j]));
        maxAbs = std::max(maxAbs, std::abs(value));
      }
    }
    EXPECT_LT(maxDiff, 1e-5f);
    EXPECT_GT(maxAbs, 0.1f); // not a degenerate model
    EXPECT_EQ(session->getContextLength(), 10);
  }
};

TEST_F(SessionTest, PrefillEqualsDecodeStepsLlamaRotateHalf) {
  checkPrefillMatchesDecode(ModelConfig());
}

TEST_F(SessionTest, PrefillEqualsDecodeStepsLlamaInterleaved) {
  ModelConfig config;
  config.interleaved = true;
  checkPrefillMatchesDecode(config);
}

TEST_F(SessionTest, PrefillEqualsDecodeStepsGPT2) {
  ModelConfig config;
  config.llamaStyle = false;
  config.kvHeads = config.heads;
  checkPrefillMatchesDecode(config);
}

TEST_F(SessionTest, PrefillThenDecodeContinuesTheContext) {
  std::unique_ptr<Session> a = load(ModelConfig());
  ASSERT_TRUE(a);
  FailureOr<HostTensor> whole = a->prefill({4, 5, 6, 7});
  ASSERT_TRUE(succeeded(whole));
  a->reset();
  ASSERT_TRUE(succeeded(a->prefill({4, 5})));
  FailureOr<HostTensor> rest = a->prefill({6, 7});
  ASSERT_TRUE(succeeded(rest)) << diagnostics;
  ArrayRef<float> expected = whole->getValues<float>().drop_front(2 * 32);
  for (auto [x, y] : llvm::zip(rest->getValues<float>(), expected))
    EXPECT_NEAR(x, y, 1e-5f);
}

TEST_F(SessionTest, TheFunctionHandlesAnyBatch) {
  std::unique_ptr<Session> session = load(ModelConfig());
  ASSERT_TRUE(session);
  Interpreter &interp = session->getInterpreter();
  auto call = [&](int64_t batch, ArrayRef<int64_t> ids) {
    SmallVector<HostTensor> args = {i64({batch, 3}, ids)};
    for (int i = 0; i < 4; ++i)
      args.push_back(HostTensor(ElementKind::F32, {batch, 2, 0, 4}));
    FailureOr<SmallVector<HostTensor>> r = interp.run(args);
    EXPECT_TRUE(succeeded(r)) << diagnostics;
    return succeeded(r) ? std::move(r->front()) : HostTensor();
  };
  HostTensor both = call(2, {1, 2, 3, 9, 8, 7});
  HostTensor first = call(1, {1, 2, 3});
  HostTensor second = call(1, {9, 8, 7});
  ASSERT_EQ(both.getShape(), ArrayRef<int64_t>({2, 3, 32}));
  ArrayRef<float> b = both.getValues<float>();
  for (auto [i, v] : llvm::enumerate(first.getValues<float>()))
    EXPECT_NEAR(b[i], v, 1e-6f);
  for (auto [i, v] : llvm::enumerate(second.getValues<float>()))
    EXPECT_NEAR(b[96 + i], v, 1e-6f);
}

TEST_F(SessionTest, ContextLimitAndVocabularyAreChecked) {
  ModelConfig config;
  config.maxPositions = 6;
  std::unique_ptr<Session> session = load(config);
  ASSERT_TRUE(session);
  EXPECT_EQ(session->getMaxPositions(), 6);
  EXPECT_EQ(session->getVocabSize(), 32);
  EXPECT_EQ(session->getNumLayers(), 2);

  EXPECT_TRUE(failed(session->prefill({1, 32})));
  EXPECT_NE(diagnostics.find("token 32 is outside the vocabulary [0, 32)"),
            std::string::npos)
      << diagnostics;
  EXPECT_TRUE(failed(session->prefill({})));
  EXPECT_EQ(session->getContextLength(), 0);

  ASSERT_TRUE(succeeded(session->prefill({1, 2, 3, 4, 5})));
  ASSERT_TRUE(succeeded(session->decodeStep(6)));
  diagnostics.clear();
  EXPECT_TRUE(failed(session->decodeStep(7)));
  EXPECT_NE(diagnostics.find("the context would grow to 7 tokens, beyond "
                             "llm.max_positions = 6"),
            std::string::npos)
      << diagnostics;
  EXPECT_EQ(session->getContextLength(), 6);
  session->reset();
  EXPECT_TRUE(succeeded(session->decodeStep(7)));
}

/// Session::create's error for `source`, which breaks the contract.
class ContractTest : public InterpreterTest {
protected:
  std::string contractError(StringRef source) {
    ModuleOp m = parse(source);
    if (!m)
      return "parse error: " + diagnostics;
    diagnostics.clear();
    if (succeeded(Session::create(m)))
      return "accepted";
    return diagnostics;
  }
};

TEST_F(ContractTest, SignatureErrors) {
  auto expectError = [&](StringRef source, StringRef message) {
    std::string error = contractError(source);
    EXPECT_NE(error.find(message.str()), std::string::npos)
        << "expected: " << message.str() << "\ngot: " << error;
  };
  expectError("module {}", "no func.func @forward in the module");
  expectError(R"mlir(
    func.func @forward(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x4xf32>) -> tensor<?x?x4xf32> {
      %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
      %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
      return %h : tensor<?x?x4xf32>
    })mlir",
              "expected input_ids and a past key and value per layer, got 2 "
              "arguments");
  expectError(R"mlir(
    func.func @forward(%ids: tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
      %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
      %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
      return %h, %h : tensor<?x?x4xf32>, tensor<?x?x4xf32>
    })mlir",
              "expected logits and a present key and value per layer (1 "
              "results), got 2");
  expectError(R"mlir(
    func.func @forward(%ids: tensor<?x?xf32>) -> tensor<1x1x4xf32> {
      %t = llm.weight "t" = dense<1.0> : tensor<1x1x4xf32>
      return %t : tensor<1x1x4xf32>
    })mlir",
              "input_ids must be an integer tensor [B, S]");
  // Zero layers: the logits are embedding rows.
  const char *zeroLayers = R"mlir(
    module attributes {{{0}} {{
      func.func @forward(%ids: tensor<?x?xi64>) -> tensor<?x?x{1}xf32> {{
        %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
        %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x{1}xf32>
        return %h : tensor<?x?x{1}xf32>
      }
    })mlir";
  EXPECT_EQ(contractError(llvm::formatv(zeroLayers, "", "4").str()),
            "accepted");
  expectError(llvm::formatv(zeroLayers, "", "?").str(),
              "logits must be a float tensor [B, S, V] with dynamic S and "
              "static V");
  expectError(llvm::formatv(zeroLayers, "llm.vocab_size = 5 : i64", "4").str(),
              "llm.vocab_size is 5 but logits are 'tensor<?x?x4xf32>'");
  expectError(llvm::formatv(zeroLayers, "llm.num_layers = 2 : i64", "4").str(),
              "llm.num_layers is 2 but the signature has 0 layers");
  expectError(R"mlir(
    func.func @forward(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x4xf32>, %pv: tensor<?x1x3x4xf32>)
        -> (tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x3x4xf32>) {
      %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
      %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
      return %h, %pk, %pv : tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x3x4xf32>
    })mlir",
              "argument #2 (past_key_values.0.value) must be a float tensor "
              "[B, Hkv, P, Dh] with dynamic P");
  expectError(R"mlir(
    func.func @forward(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x4xf32>, %pv: tensor<?x1x?x4xf32>)
        -> (tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x2x?x4xf32>) {
      %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
      %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
      %z = llm.weight "z" = dense<1.0> : tensor<1x2x1x4xf32>
      %c = "test.cast"(%z) : (tensor<1x2x1x4xf32>) -> tensor<?x2x?x4xf32>
      return %h, %pk, %c : tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x2x?x4xf32>
    })mlir",
              "result #2 (present.0.value) must have the type of its past");
  expectError(R"mlir(
    func.func @forward(%ids: tensor<?x?xi64> {llm.name = "input_ids"},
                       %pk: tensor<?x1x?x4xf32> {llm.name = "past_key_values.0.value"},
                       %pv: tensor<?x1x?x4xf32>)
        -> (tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) {
      %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
      %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
      return %h, %pk, %pv : tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
    })mlir",
              "argument #1 is named 'past_key_values.0.value', expected "
              "'past_key_values.0.key'");
}

TEST_F(ContractTest, PresentsMustGrowTheCache) {
  // Returning the past unchanged breaks the cache bookkeeping.
  ModuleOp m = parse(R"mlir(
    func.func @forward(%ids: tensor<?x?xi64>, %pk: tensor<?x1x?x4xf32>, %pv: tensor<?x1x?x4xf32>)
        -> (tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) {
      %t = llm.weight "t" = dense<1.0> : tensor<4x4xf32>
      %h = llm.embedding %t, %ids : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
      return %h, %pk, %pv : tensor<?x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
    })mlir");
  ASSERT_TRUE(m);
  FailureOr<std::unique_ptr<Session>> session = Session::create(m);
  ASSERT_TRUE(succeeded(session)) << diagnostics;
  EXPECT_TRUE(failed((*session)->prefill({1, 2})));
  EXPECT_NE(diagnostics.find("result #1 (present.0.key) holds 0 positions, "
                             "expected 2"),
            std::string::npos)
      << diagnostics;
  EXPECT_EQ((*session)->getContextLength(), 0);
}

} // namespace
