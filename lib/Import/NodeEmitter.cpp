//===- NodeEmitter.cpp - Build the ONNX nodes that replace one node -------===//

#include "NodeEmitter.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"

#include <cmath>
#include "llvm/Support/MathExtras.h"

using namespace flightllm;

onnx::AttributeProto *flightllm::findAttr(onnx::NodeProto &node,
                                          llvm::StringRef name) {
  for (auto &attr : *node.mutable_attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

NodeEmitter::NodeEmitter(const onnx::NodeProto &node, int32_t floatType,
                         std::vector<onnx::NodeProto> &out)
    : base(node.name().empty() ? node.output(0) : node.name()),
      type(floatType), out(out) {}

std::string NodeEmitter::fresh(llvm::StringRef what) {
  return base + "/" + what.str() + "_" + std::to_string(counter++);
}

std::string NodeEmitter::scalar(float value) { return scalarOf(value, type); }

std::string NodeEmitter::scalarOf(float value, int32_t valueType) {
  onnx::TensorProto t;
  t.set_data_type(valueType);
  if (valueType == onnx::TensorProto::FLOAT) {
    t.add_float_data(value);
  } else {
    llvm::APFloat v(value);
    bool lost;
    v.convert(valueType == onnx::TensorProto::FLOAT16
                  ? llvm::APFloat::IEEEhalf()
                  : llvm::APFloat::BFloat(),
              llvm::APFloat::rmNearestTiesToEven, &lost);
    // int32_data carries the bits of 16-bit floats.
    t.add_int32_data(int32_t(v.bitcastToAPInt().getZExtValue()));
  }
  return op("Constant", {}, {onnx::MakeAttribute("value", t)});
}

std::string NodeEmitter::int64s(llvm::ArrayRef<int64_t> values) {
  return op("Constant", {}, {intsAttr("value_ints", values)});
}

std::string NodeEmitter::constant(const onnx::TensorProto &value) {
  return op("Constant", {}, {onnx::MakeAttribute("value", value)});
}

std::string NodeEmitter::op(llvm::StringRef opType,
                            llvm::ArrayRef<std::string> inputs,
                            llvm::ArrayRef<onnx::AttributeProto> attrs,
                            const std::string &output) {
  onnx::NodeProto n;
  n.set_op_type(opType.str());
  std::string name = output.empty() ? fresh(opType) : output;
  n.set_name(output.empty() ? name : base);
  for (const std::string &in : inputs)
    n.add_input(in);
  n.add_output(name);
  for (const auto &a : attrs)
    *n.add_attribute() = a;
  out.push_back(std::move(n));
  return name;
}

std::string flightllm::emitGelu(NodeEmitter &emit, const std::string &x,
                                bool tanh, const std::string &output) {
  std::string inner;
  if (tanh) {
    // Pow, as exporters write it: Muls of x by itself would be raised to
    // llm.mul ops of their own before the GELU around them is recognised.
    std::string cube = emit.op("Pow", {x, emit.scalar(3.0f)});
    std::string sum =
        emit.op("Add", {x, emit.op("Mul", {cube, emit.scalar(0.044715f)})});
    inner = emit.op(
        "Tanh",
        {emit.op("Mul", {sum, emit.scalar(float(std::sqrt(2.0 / llvm::numbers::pi)))})});
  } else {
    inner = emit.op("Erf", {emit.op("Div", {x, emit.scalar(float(std::sqrt(2.0)))})});
  }
  std::string half = emit.op("Mul", {x, emit.scalar(0.5f)});
  std::string onePlus = emit.op("Add", {inner, emit.scalar(1.0f)});
  return emit.op("Mul", {half, onePlus}, {}, output);
}
