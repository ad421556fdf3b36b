//===- Interpreter.cpp - fp32 reference interpreter of llm functions ------===//
//
// Every value of the function gets a slot. Float-typed values live in f32
// tensors (rounded to f16/bf16 after the op that produces them when that is
// their type), integer-typed values in i64 tensors. Weights are decoded into
// their slots once, when the interpreter is created; other slots are filled
// by a run and emptied after their last use.
//
// Each op handler checks the runtime shapes the verifier could not (dynamic
// dimensions) and the data-dependent rules (ids and positions inside their
// tables), then calls a kernel from Kernels.h.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Interpreter/Interpreter.h"
#include "flightllm/Dialect/LLM/WeightQuantization.h"

#include "Kernels.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/ISA/Numerics.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::interpreter;
using reference::ElementKind;

namespace {

/// "[1, 3, 8]".
std::string formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += ShapedType::isDynamic(shape[i]) ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

/// The kind a value of element type `type` is stored in during a run.
ElementKind storageKind(Type type) {
  return isa<FloatType>(type) ? ElementKind::F32 : ElementKind::I64;
}

/// Whether `shape` fits `type`'s rank and static dimensions.
bool matchesType(ArrayRef<int64_t> shape, RankedTensorType type) {
  if (int64_t(shape.size()) != type.getRank())
    return false;
  for (auto [actual, expected] : llvm::zip(shape, type.getShape()))
    if (!ShapedType::isDynamic(expected) && actual != expected)
      return false;
  return true;
}

/// The product of `shape[0 .. shape.size() - 1)`.
int64_t leadingElements(ArrayRef<int64_t> shape) {
  return reference::getNumElements(shape.drop_back());
}

/// Rounds f32 storage to the value's declared element type.
void roundToElementType(HostTensor &t, Type elementType) {
  if (t.getKind() != ElementKind::F32)
    return;
  MutableArrayRef<float> values = t.getMutableValues<float>();
  if (elementType.isF16()) {
    for (float &v : values)
      v = reference::halfToFloat(reference::floatToHalf(v));
  } else if (elementType.isBF16()) {
    for (float &v : values)
      v = reference::bfloat16ToFloat(reference::floatToBFloat16(v));
  }
}

bool isSupportedOp(Operation *op) {
  return isa<func::ReturnOp, llm::WeightOp, llm::EmbeddingOp, llm::LinearOp,
             llm::LogitsOp, llm::LayerNormOp, llm::RMSNormOp,
             llm::PositionIdsOp, llm::RopeOp, llm::AttentionOp, llm::GeluOp,
             llm::GeluTanhOp, llm::SiluOp, llm::ReluOp, llm::SwiGLUOp,
             llm::AddOp, llm::MulOp>(op);
}

/// The element type of a value the interpreter can hold, or null.
Type getStorableElementType(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || !reference::getElementKind(ranked.getElementType()))
    return nullptr;
  return ranked.getElementType();
}

} // namespace

class Interpreter::Impl {
public:
  Impl(func::FuncOp func, InterpreterOptions options)
      : func(func), accel(options.numerics == Numerics::Accelerator),
        dequantizeWeights(options.dequantizeWeights && !accel) {}

  LogicalResult prepare();
  /// Accelerator numerics: every op has the attributes it needs.
  LogicalResult checkAcceleratorAttributes();
  FailureOr<SmallVector<HostTensor>> run(ArrayRef<HostTensor> args);

  func::FuncOp func;
  /// Accelerator numerics (docs/execution-model.md, section 5).
  bool accel = false;
  /// InterpreterOptions::dequantizeWeights.
  bool dequantizeWeights = false;
  std::function<void(Value, const HostTensor &)> observer;

private:
  unsigned slotOf(Value v) const { return slotIndex.lookup(v); }
  const HostTensor &get(Value v) const { return slots[slotOf(v)]; }
  /// The value as f32 (integer weights convert once and stay converted).
  const HostTensor &getFloat(Value v);
  /// Stores an op result after checking it against the declared type.
  LogicalResult setResult(Operation *op, Value result, HostTensor &&t);
  void release(unsigned slot);

  LogicalResult execute(Operation *op);
  LogicalResult execute(llm::EmbeddingOp op);
  LogicalResult execute(llm::LinearOp op);
  LogicalResult execute(llm::LogitsOp op);
  LogicalResult execute(llm::LayerNormOp op);
  LogicalResult execute(llm::RMSNormOp op);
  LogicalResult execute(llm::PositionIdsOp op);
  LogicalResult execute(llm::RopeOp op);
  LogicalResult execute(llm::AttentionOp op);
  LogicalResult executeActivation(Operation *op, kernels::Activation kind);
  LogicalResult executeBinary(Operation *op, kernels::Binary kind);
  /// `weightOverride` replaces the weight's value (a dequantized copy).
  LogicalResult executeMatmul(Operation *op, Value x, Value weight, Value bias,
                              bool transposed,
                              const HostTensor *weightOverride = nullptr);
  /// `inputScale` 0: dynamic per-token quantization. `groupSize` and
  /// `zeroPoints` (may be null) give the weight's compressed format.
  LogicalResult executeQuantizedMatmul(Operation *op, Value x, Value weight,
                                       Value bias, bool transposed,
                                       ElementsAttr weightScales,
                                       int64_t groupSize,
                                       ElementsAttr zeroPoints,
                                       float inputScale);
  template <typename OpTy>
  LogicalResult executeProjection(OpTy op, Value bias);
  FailureOr<int64_t> checkProjection(Operation *op, const HostTensor &x,
                                     const HostTensor &weight, bool transposed);
  FailureOr<const float *> readBias(Operation *op, Value bias, int64_t n);
  FailureOr<HostTensor> readScales(Operation *op, ElementsAttr scales);
  /// The f32 weight `(Wq - zp) * scale` of a quantized projection.
  FailureOr<HostTensor> dequantizedWeight(Operation *op, Value weight,
                                          bool transposed,
                                          ElementsAttr weightScales,
                                          int64_t groupSize,
                                          ElementsAttr zeroPoints);
  LogicalResult executeNorm(Operation *op, Value x, Value gamma, Value beta,
                            const APFloat &epsilon, bool center);

  llvm::DenseMap<Value, unsigned> slotIndex;
  std::vector<HostTensor> slots;
  /// f32 copies of integer-typed values read as floats (quantized weights).
  std::vector<std::optional<HostTensor>> floatViews;
  /// Slots that hold weights: filled once, never released.
  std::vector<bool> persistent;
  /// The ops to run, and for each the slots whose last use it is.
  std::vector<Operation *> program;
  std::vector<SmallVector<unsigned, 4>> releaseAfter;
};

//===----------------------------------------------------------------------===//
// Preparation
//===----------------------------------------------------------------------===//

LogicalResult Interpreter::Impl::prepare() {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return func.emitError()
           << "the reference interpreter needs a function with one block";
  Block &block = func.getBody().front();

  bool ok = true;
  auto addSlot = [&](Value v, Operation *where) {
    slotIndex[v] = unsigned(slots.size());
    slots.emplace_back();
    if (!getStorableElementType(v.getType())) {
      InFlightDiagnostic diag =
          where ? where->emitError() : func.emitError();
      diag << "the reference interpreter cannot hold a value of type "
           << v.getType();
      ok = false;
    }
  };
  for (BlockArgument arg : block.getArguments())
    addSlot(arg, nullptr);
  for (Operation &op : block) {
    if (!isSupportedOp(&op)) {
      op.emitError() << "the reference interpreter cannot execute '"
                     << op.getName() << "'";
      ok = false;
      continue;
    }
    for (Value result : op.getResults())
      addSlot(result, &op);
  }
  for (Type type : func.getResultTypes())
    if (!getStorableElementType(type)) {
      func.emitError() << "the reference interpreter cannot return a value of "
                          "type "
                       << type;
      ok = false;
    }
  if (!ok)
    return failure();

  floatViews.resize(slots.size());
  persistent.assign(slots.size(), false);

  // Decode the weights; every other op is part of the program.
  llvm::DenseMap<unsigned, size_t> lastUse;
  for (Operation &op : block) {
    if (auto weight = dyn_cast<llm::WeightOp>(op)) {
      // Viewed in place (the function outlives the interpreter): a model's
      // weights are not copied.
      llvm::Expected<HostTensor> value = HostTensor::fromElementsAttr(
          weight.getValue(), HostTensor::Constant::Borrow);
      if (!value)
        return weight.emitError()
               << "cannot read weight '" << weight.getName()
               << "': " << llvm::toString(value.takeError());
      unsigned slot = slotOf(weight.getResult());
      ElementKind kind = storageKind(weight.getType().getElementType());
      slots[slot] =
          value->getKind() == kind ? std::move(*value) : value->castTo(kind);
      persistent[slot] = true;
      continue;
    }
    if (isa<func::ReturnOp>(op))
      continue;
    size_t index = program.size();
    program.push_back(&op);
    for (Value operand : op.getOperands())
      lastUse[slotOf(operand)] = index;
    // A result nobody reads dies right away.
    for (Value result : op.getResults())
      if (result.use_empty())
        lastUse[slotOf(result)] = index;
  }
  // Values the function returns live to the end.
  for (Value v : block.getTerminator()->getOperands())
    lastUse.erase(slotOf(v));
  releaseAfter.resize(program.size());
  for (auto [slot, index] : lastUse)
    if (!persistent[slot])
      releaseAfter[index].push_back(slot);
  return accel ? checkAcceleratorAttributes() : success();
}

LogicalResult Interpreter::Impl::checkAcceleratorAttributes() {
  bool ok = true;
  auto fail = [&](Operation *op) {
    ok = false;
    return op->emitError() << "accelerator numerics: ";
  };
  for (Operation *op : program) {
    if (isa<llm::LinearOp, llm::LogitsOp>(op)) {
      auto weightType = cast<ShapedType>(op->getOperand(1).getType());
      if (!op->getAttr("weight_scales") ||
          !isa<IntegerType>(weightType.getElementType()))
        fail(op) << "'" << op->getName()
                 << "' needs an int8 weight with weight_scales (run "
                    "llm-quantize-weights)";
      else if (op->getAttr("input_scale"))
        fail(op) << "'" << op->getName()
                 << "' has a static input_scale, but the accelerator "
                    "quantizes inputs per token (calibrate with "
                    "activations=dynamic)";
    } else if (auto attention = dyn_cast<llm::AttentionOp>(op)) {
      if (!attention.getKScalesAttr() || !attention.getVScalesAttr())
        fail(op) << "'llm.attention' needs k_scales and v_scales for its "
                    "int8 KV cache (run llm-calibrate)";
      else if (attention.getKvBits() == 4 &&
               !cast<ShapedType>(attention.getPresentValue().getType())
                    .getElementType()
                    .isF32())
        fail(op) << "'llm.attention' with kv_bits = 4 needs f32 cache "
                    "types (its value cache holds exact code * scale "
                    "products)";
    }
  }
  return success(ok);
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

const HostTensor &Interpreter::Impl::getFloat(Value v) {
  unsigned slot = slotOf(v);
  if (slots[slot].getKind() == ElementKind::F32)
    return slots[slot];
  if (!floatViews[slot])
    floatViews[slot] = slots[slot].castTo(ElementKind::F32);
  return *floatViews[slot];
}

void Interpreter::Impl::release(unsigned slot) {
  slots[slot] = HostTensor();
  floatViews[slot].reset();
}

LogicalResult Interpreter::Impl::setResult(Operation *op, Value result,
                                           HostTensor &&t) {
  auto type = cast<RankedTensorType>(result.getType());
  if (!matchesType(t.getShape(), type))
    return op->emitError() << "result #"
                           << cast<OpResult>(result).getResultNumber()
                           << " has shape " << formatShape(t.getShape())
                           << " at run time, which does not fit its type "
                           << type;
  // Accelerator numerics: fp16 between ops, except the f32 logits and the
  // KV caches (codes, or the exact products of 4-bit codes and scales),
  // whatever the program's float type: the accelerator computes an f16 or
  // bf16 program like an f32 one, so its values are not rounded to that
  // type (bf16 after fp16 would round twice), or the host engine would
  // differ from the simulator.
  bool cache = isa<llm::AttentionOp>(op) && result != op->getResult(0);
  if (accel && t.getKind() == ElementKind::F32 && !isa<llm::LogitsOp>(op) &&
      !cache)
    for (float &v : t.getMutableValues<float>())
      v = numerics::roundF16(v);
  if (!accel)
    roundToElementType(t, type.getElementType());
  slots[slotOf(result)] = std::move(t);
  return success();
}

FailureOr<SmallVector<HostTensor>>
Interpreter::Impl::run(ArrayRef<HostTensor> args) {
  Block &block = func.getBody().front();
  if (args.size() != block.getNumArguments())
    return func.emitError() << "expected " << block.getNumArguments()
                            << " arguments, got " << args.size();

  // Clears what a run leaves behind, whether it succeeds or not.
  llvm::scope_exit cleanup([&] {
    for (unsigned slot = 0; slot < slots.size(); ++slot)
      if (!persistent[slot])
        release(slot);
  });

  for (auto [index, arg] : llvm::enumerate(block.getArguments())) {
    const HostTensor &input = args[index];
    auto type = cast<RankedTensorType>(arg.getType());
    ElementKind declared = *reference::getElementKind(type.getElementType());
    if (reference::isFloatKind(input.getKind()) !=
            reference::isFloatKind(declared) ||
        !matchesType(input.getShape(), type))
      return func.emitError()
             << "argument #" << index << " is " << input.describeType()
             << ", which does not fit its type " << type;
    HostTensor value =
        input.getKind() == declared ? input : input.castTo(declared);
    ElementKind kind = storageKind(type.getElementType());
    slots[slotOf(arg)] =
        value.getKind() == kind ? std::move(value) : value.castTo(kind);
  }

  for (auto [index, op] : llvm::enumerate(program)) {
    if (failed(execute(op)))
      return failure();
    if (observer)
      for (Value result : op->getResults())
        observer(result, get(result));
    for (unsigned slot : releaseAfter[index])
      release(slot);
  }

  SmallVector<HostTensor> results;
  for (Value v : block.getTerminator()->getOperands()) {
    auto type = cast<RankedTensorType>(v.getType());
    ElementKind declared = *reference::getElementKind(type.getElementType());
    const HostTensor &value = get(v);
    // Accelerator numerics return the logits and caches as the accelerator
    // does (f32, see setResult), not rounded to an f16/bf16 program's type.
    bool keptWide = accel && value.getKind() == ElementKind::F32;
    results.push_back(value.getKind() == declared || keptWide
                          ? value
                          : value.castTo(declared));
  }
  return results;
}

LogicalResult Interpreter::Impl::execute(Operation *op) {
  using kernels::Activation;
  using kernels::Binary;
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<llm::EmbeddingOp, llm::LinearOp, llm::LogitsOp, llm::LayerNormOp,
            llm::RMSNormOp, llm::PositionIdsOp, llm::RopeOp,
            llm::AttentionOp>([&](auto concrete) { return execute(concrete); })
      .Case([&](llm::GeluOp) { return executeActivation(op, Activation::Gelu); })
      .Case([&](llm::GeluTanhOp) {
        return executeActivation(op, Activation::GeluTanh);
      })
      .Case([&](llm::SiluOp) { return executeActivation(op, Activation::Silu); })
      .Case([&](llm::ReluOp) { return executeActivation(op, Activation::Relu); })
      .Case([&](llm::SwiGLUOp) { return executeBinary(op, Binary::SwiGLU); })
      .Case([&](llm::AddOp) { return executeBinary(op, Binary::Add); })
      .Case([&](llm::MulOp) { return executeBinary(op, Binary::Mul); })
      .Default([&](Operation *other) {
        return other->emitError()
               << "the reference interpreter cannot execute '"
               << other->getName() << "'";
      });
}

//===----------------------------------------------------------------------===//
// Op handlers
//===----------------------------------------------------------------------===//

/// Reports an operand whose runtime shape breaks the op's shape rule.
static LogicalResult shapeError(Operation *op, StringRef what,
                                const HostTensor &t, StringRef expected) {
  return op->emitError() << what << " has shape " << formatShape(t.getShape())
                         << " at run time, expected " << expected;
}

LogicalResult Interpreter::Impl::execute(llm::EmbeddingOp op) {
  const HostTensor &table = getFloat(op.getTable());
  const HostTensor &ids = get(op.getIds());
  if (table.getRank() != 2)
    return shapeError(op, "table", table, "[V, D]");
  int64_t vocab = table.getDim(0), dim = table.getDim(1);
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(dim);
  HostTensor result(ElementKind::F32, shape);
  ArrayRef<int64_t> idValues = ids.getValues<int64_t>();
  const float *rows = table.getValues<float>().data();
  float *out = result.getMutableValues<float>().data();
  for (auto [i, id] : llvm::enumerate(idValues)) {
    if (id < 0 || id >= vocab)
      return op.emitError() << "id " << id << " (element " << i
                            << " of the ids) is outside the table's rows [0, "
                            << vocab << ")";
    std::memcpy(out + i * dim, rows + id * dim, size_t(dim) * sizeof(float));
  }
  return setResult(op, op.getResult(), std::move(result));
}

/// Checks x `[..., K]` against a `[K, N]` (or transposed `[N, K]`) weight;
/// returns N.
FailureOr<int64_t> Interpreter::Impl::checkProjection(Operation *op,
                                                      const HostTensor &x,
                                                      const HostTensor &weight,
                                                      bool transposed) {
  if (x.getRank() < 1)
    return shapeError(op, "x", x, "[..., K]");
  if (weight.getRank() != 2)
    return shapeError(op, "weight", weight, transposed ? "[N, K]" : "[K, N]");
  int64_t k = x.getShape().back();
  if (weight.getDim(transposed ? 1 : 0) != k)
    return shapeError(op, "weight", weight,
                      transposed ? "[N, " + std::to_string(k) + "]"
                                 : "[" + std::to_string(k) + ", N]");
  return weight.getDim(transposed ? 0 : 1);
}

/// The `[N]` bias as f32 data, or null when there is none.
FailureOr<const float *> Interpreter::Impl::readBias(Operation *op, Value bias,
                                                     int64_t n) {
  if (!bias)
    return static_cast<const float *>(nullptr);
  const HostTensor &b = getFloat(bias);
  if (b.getRank() != 1 || b.getDim(0) != n)
    return shapeError(op, "bias", b, "[" + std::to_string(n) + "]");
  return b.getValues<float>().data();
}

FailureOr<HostTensor> Interpreter::Impl::readScales(Operation *op,
                                                    ElementsAttr scales) {
  auto t = HostTensor::fromElementsAttr(scales);
  if (!t)
    return op->emitError() << "weight_scales: "
                           << llvm::toString(t.takeError());
  return std::move(*t);
}

LogicalResult Interpreter::Impl::executeMatmul(Operation *op, Value xValue,
                                               Value weightValue,
                                               Value biasValue,
                                               bool transposed,
                                               const HostTensor *weightOverride) {
  const HostTensor &x = getFloat(xValue);
  const HostTensor &weight =
      weightOverride ? *weightOverride : getFloat(weightValue);
  FailureOr<int64_t> outputs = checkProjection(op, x, weight, transposed);
  if (failed(outputs))
    return failure();
  int64_t k = x.getShape().back(), n = *outputs;
  FailureOr<const float *> bias = readBias(op, biasValue, n);
  if (failed(bias))
    return failure();
  SmallVector<int64_t> shape(x.getShape().drop_back());
  shape.push_back(n);
  HostTensor result(ElementKind::F32, shape);
  kernels::matmul(x.getValues<float>().data(), leadingElements(x.getShape()),
                  k, weight.getValues<float>().data(), n, transposed, *bias,
                  result.getMutableValues<float>().data());
  return setResult(op, op->getResult(0), std::move(result));
}

FailureOr<HostTensor> Interpreter::Impl::dequantizedWeight(
    Operation *op, Value weightValue, bool transposed,
    ElementsAttr weightScales, int64_t groupSize, ElementsAttr zeroPoints) {
  const HostTensor &weight = get(weightValue);
  FailureOr<HostTensor> scales = readScales(op, weightScales);
  if (failed(scales))
    return failure();
  if (weight.getRank() != 2)
    return shapeError(op, "weight", weight, "[K, N]");
  int64_t n = weight.getDim(transposed ? 0 : 1);
  int64_t k = weight.getDim(transposed ? 1 : 0);
  int64_t groups = groupSize ? k / groupSize : 1;
  if ((groupSize && k % groupSize != 0) ||
      scales->getNumElements() != n * groups)
    return shapeError(op, "weight_scales", *scales,
                      groupSize ? formatShape({n, groups}) : formatShape({n}));
  SmallVector<int64_t> zps;
  if (zeroPoints)
    for (APInt zp : zeroPoints.getValues<APInt>())
      zps.push_back(zp.getSExtValue());
  if (zeroPoints && int64_t(zps.size()) != n * groups) {
    op->emitError() << "weight_zero_points has " << zps.size()
                    << " elements, expected " << n * groups;
    return failure();
  }
  HostTensor result(ElementKind::F32, weight.getShape());
  MutableArrayRef<float> out = result.getMutableValues<float>();
  ArrayRef<float> s = scales->getValues<float>();
  for (int64_t c = 0; c < n; ++c)
    for (int64_t i = 0; i < k; ++i) {
      int64_t g = c * groups + (groupSize ? i / groupSize : 0);
      int64_t at = transposed ? c * k + i : i * n + c;
      llm::GroupParams p{s[g], zeroPoints ? int(zps[g]) : 0};
      out[at] = llm::dequantizeWeightCode(int8_t(weight.getInt(at)), p);
    }
  return result;
}

/// W8A8 (docs/llm-dialect.md, llm.linear): int8 x (static `inputScale`, or
/// per token when it is 0), integer weight, exact int32 products, then the
/// MM output rule per output channel.
LogicalResult Interpreter::Impl::executeQuantizedMatmul(
    Operation *op, Value xValue, Value weightValue, Value biasValue,
    bool transposed, ElementsAttr weightScales, int64_t groupSize,
    ElementsAttr zeroPoints, float inputScale) {
  const HostTensor &x = getFloat(xValue);
  const HostTensor &weight = get(weightValue);
  FailureOr<int64_t> outputs = checkProjection(op, x, weight, transposed);
  if (failed(outputs))
    return failure();
  int64_t k = x.getShape().back(), n = *outputs;
  FailureOr<HostTensor> scales = readScales(op, weightScales);
  FailureOr<const float *> bias = readBias(op, biasValue, n);
  if (failed(scales) || failed(bias))
    return failure();
  int64_t groups = groupSize ? k / groupSize : 1;
  if ((groupSize && k % groupSize != 0) ||
      scales->getNumElements() != n * groups)
    return shapeError(op, "weight_scales", *scales,
                      groupSize ? formatShape({n, groups})
                                : formatShape({n}));
  SmallVector<int8_t> zps;
  if (zeroPoints)
    for (APInt zp : zeroPoints.getValues<APInt>())
      zps.push_back(int8_t(zp.getSExtValue()));
  SmallVector<int64_t> shape(x.getShape().drop_back());
  shape.push_back(n);
  HostTensor result(ElementKind::F32, shape);
  kernels::accel::WeightFormat format;
  format.groupSize = groupSize;
  format.scales = scales->getValues<float>().data();
  format.zeroPoints = zeroPoints ? zps.data() : nullptr;
  kernels::accel::quantizedMatmul(
      x.getValues<float>().data(), leadingElements(x.getShape()), k,
      weight.getValues<int64_t>().data(), n, transposed, format, *bias,
      inputScale, result.getMutableValues<float>().data());
  return setResult(op, op->getResult(0), std::move(result));
}

template <typename OpTy>
LogicalResult Interpreter::Impl::executeProjection(OpTy op, Value bias) {
  ElementsAttr scales = op.getWeightScalesAttr();
  if (!scales)
    return executeMatmul(op, op.getX(), op.getWeight(), bias,
                         op.getTransposeWeight());
  if (dequantizeWeights) {
    FailureOr<HostTensor> weight = dequantizedWeight(
        op, op.getWeight(), op.getTransposeWeight(), scales,
        int64_t(op.getGroupSize()), op.getWeightZeroPointsAttr());
    if (failed(weight))
      return failure();
    return executeMatmul(op, op.getX(), op.getWeight(), bias,
                         op.getTransposeWeight(), &*weight);
  }
  std::optional<APFloat> inputScale = op.getInputScale();
  return executeQuantizedMatmul(op, op.getX(), op.getWeight(), bias,
                                op.getTransposeWeight(), scales,
                                int64_t(op.getGroupSize()),
                                op.getWeightZeroPointsAttr(),
                                inputScale ? inputScale->convertToFloat()
                                           : 0.0f);
}

LogicalResult Interpreter::Impl::execute(llm::LinearOp op) {
  return executeProjection(op, op.getBias());
}

LogicalResult Interpreter::Impl::execute(llm::LogitsOp op) {
  return executeProjection(op, Value());
}

/// Layer norm (`center`) and RMS norm: x `[..., D]` and `[D]` parameters.
LogicalResult Interpreter::Impl::executeNorm(Operation *op, Value xValue,
                                             Value gammaValue, Value betaValue,
                                             const APFloat &epsilon,
                                             bool center) {
  const HostTensor &x = getFloat(xValue);
  const HostTensor &gamma = getFloat(gammaValue);
  const HostTensor *beta = betaValue ? &getFloat(betaValue) : nullptr;
  if (x.getRank() < 1)
    return shapeError(op, "x", x, "[..., D]");
  int64_t d = x.getShape().back();
  std::string expected = "[" + std::to_string(d) + "]";
  if (gamma.getRank() != 1 || gamma.getDim(0) != d)
    return shapeError(op, "gamma", gamma, expected);
  if (beta && (beta->getRank() != 1 || beta->getDim(0) != d))
    return shapeError(op, "beta", *beta, expected);
  HostTensor result(ElementKind::F32, x.getShape());
  (accel ? kernels::accel::normalize : kernels::normalize)(
                     x.getValues<float>().data(),
                     leadingElements(x.getShape()), d,
                     gamma.getValues<float>().data(),
                     beta ? beta->getValues<float>().data() : nullptr,
                     epsilon.convertToFloat(), center,
                     result.getMutableValues<float>().data());
  return setResult(op, op->getResult(0), std::move(result));
}

LogicalResult Interpreter::Impl::execute(llm::LayerNormOp op) {
  return executeNorm(op, op.getX(), op.getGamma(), op.getBeta(),
                     op.getEpsilon(), /*center=*/true);
}

LogicalResult Interpreter::Impl::execute(llm::RMSNormOp op) {
  return executeNorm(op, op.getX(), op.getGamma(), Value(), op.getEpsilon(),
                     /*center=*/false);
}

LogicalResult Interpreter::Impl::execute(llm::PositionIdsOp op) {
  const HostTensor &ids = get(op.getIds());
  const HostTensor &pastKey = get(op.getPastKey());
  if (ids.getRank() != 2)
    return shapeError(op, "ids", ids, "[B, S]");
  if (pastKey.getRank() != 4 || pastKey.getDim(0) != ids.getDim(0))
    return shapeError(op, "past_key", pastKey,
                      "[" + std::to_string(ids.getDim(0)) + ", Hkv, P, Dh]");
  int64_t past = pastKey.getDim(2);
  int64_t offset = int64_t(op.getOffset());
  HostTensor result(ElementKind::I64, ids.getShape());
  MutableArrayRef<int64_t> out = result.getMutableValues<int64_t>();
  int64_t numS = ids.getDim(1);
  for (int64_t i = 0, e = result.getNumElements(); i < e; ++i)
    out[i] = past + i % numS + offset;
  return setResult(op, op.getResult(), std::move(result));
}

LogicalResult Interpreter::Impl::execute(llm::RopeOp op) {
  const HostTensor &x = getFloat(op.getX());
  const HostTensor &cos = getFloat(op.getCos());
  const HostTensor &sin = getFloat(op.getSin());
  const HostTensor &positions = get(op.getPositions());
  int64_t heads = int64_t(op.getNumHeads());
  if (x.getRank() != 3 || x.getDim(2) % heads != 0 ||
      (x.getDim(2) / heads) % 2 != 0)
    return shapeError(op, "x", x,
                      "[B, S, " + std::to_string(heads) + " * Dh], Dh even");
  int64_t numB = x.getDim(0), numS = x.getDim(1), dh = x.getDim(2) / heads;
  std::string tableShape = "[MaxPos, " + std::to_string(dh) + "]";
  if (cos.getRank() != 2 || cos.getDim(1) != dh)
    return shapeError(op, "cos", cos, tableShape);
  if (sin.getShape() != cos.getShape())
    return shapeError(op, "sin", sin, formatShape(cos.getShape()) + " like cos");
  bool shared = positions.getRank() == 1;
  if (shared ? positions.getDim(0) != numS
             : (positions.getRank() != 2 || positions.getDim(0) != numB ||
                positions.getDim(1) != numS))
    return shapeError(op, "positions", positions,
                      formatShape({numB, numS}) + " or " +
                          formatShape({numS}));

  int64_t maxPos = cos.getDim(0);
  ArrayRef<int64_t> pos = positions.getValues<int64_t>();
  const float *cosData = cos.getValues<float>().data();
  const float *sinData = sin.getValues<float>().data();
  const float *in = x.getValues<float>().data();
  HostTensor result(ElementKind::F32, x.getShape());
  float *out = result.getMutableValues<float>().data();
  bool interleaved = op.getStyle() == llm::RopeStyle::Interleaved;
  int64_t width = heads * dh;
  for (int64_t token = 0; token < numB * numS; ++token) {
    int64_t p = pos[shared ? token % numS : token];
    if (p < 0 || p >= maxPos)
      return op.emitError() << "position " << p << " (token " << token % numS
                            << " of batch " << token / numS
                            << ") is outside the rotary tables' rows [0, "
                            << maxPos << ")";
    (accel ? kernels::accel::ropeToken : kernels::ropeToken)(
        in + token * width, heads, dh, cosData + p * dh,
                       sinData + p * dh, interleaved, out + token * width);
  }
  return setResult(op, op.getResult(), std::move(result));
}

LogicalResult Interpreter::Impl::execute(llm::AttentionOp op) {
  const HostTensor &q = getFloat(op.getQuery());
  const HostTensor &k = getFloat(op.getKey());
  const HostTensor &v = getFloat(op.getValue());
  int64_t hq = int64_t(op.getNumHeads()), hkv = int64_t(op.getNumKvHeads());
  if (hq % hkv != 0)
    return op.emitError() << "num_heads " << hq
                          << " is not a multiple of num_kv_heads " << hkv;
  if (q.getRank() != 3 || q.getDim(2) % hq != 0)
    return shapeError(op, "query", q, "[B, S, " + std::to_string(hq) + " * Dh]");
  int64_t numB = q.getDim(0), numS = q.getDim(1), dh = q.getDim(2) / hq;
  SmallVector<int64_t> expectedKV{numB, numS, hkv * dh};
  std::string kvShape = formatShape(expectedKV);
  if (k.getShape() != ArrayRef<int64_t>(expectedKV))
    return shapeError(op, "key", k, kvShape);
  if (v.getShape() != k.getShape())
    return shapeError(op, "value", v, kvShape);

  int64_t numP = 0;
  const float *pastK = nullptr, *pastV = nullptr;
  if (op.getPastKey()) {
    const HostTensor &pk = getFloat(op.getPastKey());
    const HostTensor &pv = getFloat(op.getPastValue());
    std::string cacheShape = "[" + std::to_string(numB) + ", " +
                             std::to_string(hkv) + ", P, " +
                             std::to_string(dh) + "]";
    if (pk.getRank() != 4 || pk.getDim(0) != numB || pk.getDim(1) != hkv ||
        pk.getDim(3) != dh)
      return shapeError(op, "past_key", pk, cacheShape);
    if (pv.getShape() != pk.getShape())
      return shapeError(op, "past_value", pv, formatShape(pk.getShape()));
    numP = pk.getDim(2);
    pastK = pk.getValues<float>().data();
    pastV = pv.getValues<float>().data();
  }

  HostTensor out(ElementKind::F32, q.getShape());
  SmallVector<int64_t> cacheShape{numB, hkv, numP + numS, dh};
  HostTensor presentK(ElementKind::F32, cacheShape);
  HostTensor presentV(ElementKind::F32, cacheShape);
  kernels::AttentionShape shape{numB,
                                numS,
                                numP,
                                hq,
                                hkv,
                                dh,
                                op.getScale().convertToFloat(),
                                op.getCausal(),
                                int64_t(op.getWindow().value_or(0))};
  if (accel)
    kernels::accel::attention(
        shape, q.getValues<float>().data(), k.getValues<float>().data(),
        v.getValues<float>().data(), pastK, pastV,
        op.getKScalesAttr().asArrayRef().data(),
        op.getVScalesAttr().asArrayRef().data(), int64_t(op.getKvBits()),
        out.getMutableValues<float>().data(),
        presentK.getMutableValues<float>().data(),
        presentV.getMutableValues<float>().data());
  else
    kernels::attention(shape, q.getValues<float>().data(),
                       k.getValues<float>().data(),
                       v.getValues<float>().data(), pastK, pastV,
                       out.getMutableValues<float>().data(),
                       presentK.getMutableValues<float>().data(),
                       presentV.getMutableValues<float>().data());
  if (failed(setResult(op, op.getOutput(), std::move(out))) ||
      failed(setResult(op, op.getPresentKey(), std::move(presentK))))
    return failure();
  return setResult(op, op.getPresentValue(), std::move(presentV));
}

LogicalResult Interpreter::Impl::executeActivation(Operation *op,
                                                   kernels::Activation kind) {
  const HostTensor &x = getFloat(op->getOperand(0));
  HostTensor result(ElementKind::F32, x.getShape());
  (accel ? kernels::accel::activation : kernels::activation)(
      kind, x.getValues<float>().data(), x.getNumElements(),
                      result.getMutableValues<float>().data());
  return setResult(op, op->getResult(0), std::move(result));
}

LogicalResult Interpreter::Impl::executeBinary(Operation *op,
                                               kernels::Binary kind) {
  const HostTensor &a = getFloat(op->getOperand(0));
  const HostTensor &b = getFloat(op->getOperand(1));
  if (a.getShape() != b.getShape())
    return shapeError(op, "the second operand", b,
                      formatShape(a.getShape()) + " like the first");
  HostTensor result(ElementKind::F32, a.getShape());
  (accel ? kernels::accel::binary : kernels::binary)(
      kind, a.getValues<float>().data(),
                  b.getValues<float>().data(), a.getNumElements(),
                  result.getMutableValues<float>().data());
  return setResult(op, op->getResult(0), std::move(result));
}

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

Interpreter::Interpreter(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Interpreter::~Interpreter() = default;

FailureOr<std::unique_ptr<Interpreter>>
Interpreter::create(func::FuncOp func, InterpreterOptions options) {
  auto impl = std::make_unique<Impl>(func, options);
  if (failed(impl->prepare()))
    return failure();
  return std::unique_ptr<Interpreter>(new Interpreter(std::move(impl)));
}

FailureOr<SmallVector<HostTensor>>
Interpreter::run(ArrayRef<HostTensor> args) {
  return impl->run(args);
}

func::FuncOp Interpreter::getFunction() const { return impl->func; }

void Interpreter::setObserver(
    std::function<void(mlir::Value, const HostTensor &)> fn) {
  impl->observer = std::move(fn);
}
