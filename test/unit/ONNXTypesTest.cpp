//===- ONNXTypesTest.cpp - ONNX data type mapping -------------------------===//

#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace flightllm::onnxir;

TEST(ONNXTypes, RoundTripsEverySupportedCode) {
  mlir::MLIRContext ctx;
  int supported = 0;
  for (int code = 0; code <= 16; ++code) {
    mlir::Type t = getElementType(&ctx, code);
    if (!t) {
      EXPECT_EQ(getDataTypeSize(code), 0u) << code;
      continue;
    }
    ++supported;
    auto back = getDataType(t);
    ASSERT_TRUE(back.has_value()) << code;
    EXPECT_EQ(static_cast<int>(*back), code);
    EXPECT_GT(getDataTypeSize(code), 0u);
  }
  EXPECT_EQ(supported, 13); // All but undefined, string and the two complex.
}

TEST(ONNXTypes, BoolIsI1AndSignedIntegersAreSignless) {
  mlir::MLIRContext ctx;
  EXPECT_TRUE(getElementType(&ctx, int(DataType::Bool)).isInteger(1));
  EXPECT_TRUE(getElementType(&ctx, int(DataType::Int8)).isSignlessInteger(8));
  EXPECT_TRUE(getElementType(&ctx, int(DataType::UInt8)).isUnsignedInteger(8));
  EXPECT_FALSE(getDataType(mlir::IntegerType::get(&ctx, 8, mlir::IntegerType::Signed)));
  EXPECT_EQ(getDataTypeName(int(DataType::BFloat16)), "bfloat16");
  EXPECT_EQ(getDataTypeName(99), "");
}
