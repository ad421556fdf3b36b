//===- RaiseSignature.cpp - The llm program signature ---------------------===//

#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

namespace flightllm {
#define GEN_PASS_DEF_RAISESIGNATUREPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
namespace onnxir = flightllm::onnxir;

namespace {

func::ReturnOp ret(func::FuncOp func) {
  return cast<func::ReturnOp>(func.getBody().front().getTerminator());
}

enum class Role { InputIds, PastKey, PastValue, Logits, PresentKey, PresentValue };

struct Slot {
  Role role;
  int64_t layer = -1;
};

/// Parses an HF optimum name (`past_key_values.3.value`, `present.3.key`);
/// `_` may stand for `.` (the ONNX text syntax has no dots in names).
std::optional<Slot> parseName(StringRef rawName, bool result) {
  std::string dotted = rawName.str();
  for (StringRef prefix : {"past_key_values_", "present_"})
    if (StringRef(dotted).starts_with(prefix)) {
      dotted[prefix.size() - 1] = '.';
      size_t last = dotted.rfind('_');
      if (last != std::string::npos && last >= prefix.size())
        dotted[last] = '.';
    }
  StringRef name = dotted;
  if (!result && name == "input_ids")
    return Slot{Role::InputIds};
  if (result && name == "logits")
    return Slot{Role::Logits};
  StringRef prefix = result ? "present." : "past_key_values.";
  if (!name.consume_front(prefix))
    return std::nullopt;
  auto [index, kind] = name.split('.');
  int64_t layer;
  if (index.getAsInteger(10, layer) || layer < 0)
    return std::nullopt;
  if (kind == "key")
    return Slot{result ? Role::PresentKey : Role::PastKey, layer};
  if (kind == "value")
    return Slot{result ? Role::PresentValue : Role::PastValue, layer};
  return std::nullopt;
}

std::string slotName(const Slot &s) {
  switch (s.role) {
  case Role::InputIds:
    return "input_ids";
  case Role::Logits:
    return "logits";
  case Role::PastKey:
    return "past_key_values." + std::to_string(s.layer) + ".key";
  case Role::PastValue:
    return "past_key_values." + std::to_string(s.layer) + ".value";
  case Role::PresentKey:
    return "present." + std::to_string(s.layer) + ".key";
  case Role::PresentValue:
    return "present." + std::to_string(s.layer) + ".value";
  }
  return "";
}

/// The slot a value of `type` takes when it has no recognisable name: the
/// position among the graph's values decides the layer, as in HF exports.
std::optional<Slot> slotByShape(Type type, bool result, unsigned index) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t)
    return std::nullopt;
  if (!result && index == 0 && t.getRank() == 2 &&
      t.getElementType().isSignlessInteger())
    return Slot{Role::InputIds};
  if (result && index == 0 && t.getRank() == 3)
    return Slot{Role::Logits};
  if (t.getRank() == 4 && index >= 1) {
    int64_t layer = (index - 1) / 2;
    bool key = (index - 1) % 2 == 0;
    if (result)
      return Slot{key ? Role::PresentKey : Role::PresentValue, layer};
    return Slot{key ? Role::PastKey : Role::PastValue, layer};
  }
  return std::nullopt;
}

/// Where a slot must stand: input_ids / logits first, then key and value of
/// layer 0, 1, ...
unsigned expectedIndex(const Slot &s) {
  if (s.role == Role::InputIds || s.role == Role::Logits)
    return 0;
  bool key = s.role == Role::PastKey || s.role == Role::PresentKey;
  return 1 + 2 * s.layer + (key ? 0 : 1);
}

/// Graph inputs the llm program does not take: HF exports feed them, but for
/// one unpadded sequence their values follow from the sizes alone. The
/// program computes the graph with these values (recorded in the module's
/// `llm.assumed_inputs`), so a mask can only mask padding.
enum class Assumed { AttentionMask, PositionIds, CachePosition };

std::optional<Assumed> parseAssumed(StringRef name) {
  return llvm::StringSwitch<std::optional<Assumed>>(name)
      .Case("attention_mask", Assumed::AttentionMask)
      .Case("position_ids", Assumed::PositionIds)
      .Case("cache_position", Assumed::CachePosition)
      .Default(std::nullopt);
}

StringRef describeAssumed(Assumed a) {
  switch (a) {
  case Assumed::AttentionMask:
    return "ones [batch, past + new tokens]";
  case Assumed::PositionIds:
    return "past + s for new token s";
  case Assumed::CachePosition:
    return "past + s for new token s";
  }
  return "";
}

/// Builds, from the shapes of input_ids and the first past key, the values
/// an assumed input has for one unpadded sequence.
struct AssumedInputBuilder {
  OpBuilder &b;
  Location loc;
  Value inputIds, pastKey; // pastKey is null in a prefill graph

  Type i64Tensor(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getI64Type());
  }
  Value i64Constant(ArrayRef<int64_t> values, ArrayRef<int64_t> shape) {
    auto type = RankedTensorType::get(shape, b.getI64Type());
    return onnxir::ConstantOp::create(
               b, loc, type, DenseElementsAttr::get(type, values), nullptr,
               nullptr, nullptr, nullptr, nullptr, nullptr)
        .getResult();
  }
  /// Dimension `axis` of `v` as a 1-element tensor.
  Value dim(Value v, int64_t axis) {
    return onnxir::ShapeOp::create(b, loc, i64Tensor({1}), v,
                                   b.getI64IntegerAttr(axis + 1),
                                   b.getI64IntegerAttr(axis))
        .getResult();
  }
  Value batch() { return dim(inputIds, 0); }
  Value newTokens() { return dim(inputIds, 1); }
  Value past() { return pastKey ? dim(pastKey, 2) : i64Constant({0}, {1}); }
  Value add(Value x, Value y) {
    return onnxir::AddOp::create(b, loc, x.getType(), x, y).getResult();
  }
  Value scalar(Value v) {
    return onnxir::ReshapeOp::create(b, loc, i64Tensor({}), v,
                                     i64Constant({}, {0}),
                                     b.getI64IntegerAttr(0))
        .getResult();
  }
  Value concat(ValueRange parts) {
    return onnxir::ConcatOp::create(
               b, loc, i64Tensor({int64_t(parts.size())}), parts,
               b.getI64IntegerAttr(0))
        .getResult();
  }
  /// P, P+1, ..., P+S-1 as `type` ([S], or [B, S] / [1, S]).
  Value positions(RankedTensorType type) {
    Value start = past();
    Value range = onnxir::RangeOp::create(
                      b, loc, i64Tensor({ShapedType::kDynamic}), scalar(start),
                      scalar(add(start, newTokens())),
                      i64Constant({1}, {}))
                      .getResult();
    if (type.getRank() == 2) {
      Value row = onnxir::UnsqueezeOp::create(
                      b, loc, i64Tensor({1, ShapedType::kDynamic}), range,
                      i64Constant({0}, {1}))
                      .getResult();
      Value rows = type.getDimSize(0) == 1 ? i64Constant({1}, {1}) : batch();
      range = onnxir::ExpandOp::create(b, loc, i64Tensor(type.getShape()), row,
                                       concat({rows, newTokens()}))
                  .getResult();
    }
    return asType(range, type);
  }
  /// Ones of [B, P + S].
  Value mask(RankedTensorType type) {
    Value shape = concat({batch(), add(past(), newTokens())});
    Type element = type.getElementType();
    auto valueType = RankedTensorType::get({1}, element);
    Attribute one = isa<FloatType>(element)
                        ? Attribute(b.getFloatAttr(element, 1.0))
                        : Attribute(b.getIntegerAttr(element, 1));
    return onnxir::ConstantOfShapeOp::create(
               b, loc, type, shape, DenseElementsAttr::get(valueType, one))
        .getResult();
  }
  /// `v` with `type`'s element type and type.
  Value asType(Value v, RankedTensorType type) {
    if (v.getType() == type)
      return v;
    std::optional<int64_t> to = onnxElementType(type.getElementType());
    if (getElementTypeOrSelf(v.getType()) == type.getElementType() || !to)
      return onnxir::IdentityOp::create(b, loc, type, v).getResult();
    return onnxir::CastOp::create(b, loc, type, v, b.getI64IntegerAttr(*to))
        .getResult();
  }
  static std::optional<int64_t> onnxElementType(Type t) {
    if (t.isF32())
      return 1;
    if (t.isSignlessInteger(32))
      return 6;
    if (t.isSignlessInteger(64))
      return 7;
    return std::nullopt;
  }
};

struct RaiseSignaturePass
    : public flightllm::impl::RaiseSignaturePassBase<RaiseSignaturePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
    if (funcs.size() != 1) {
      module.emitError() << "expected one graph function, found "
                         << funcs.size();
      return signalPassFailure();
    }
    func::FuncOp func = funcs.front();
    if (failed(raise(func)))
      signalPassFailure();
  }

  /// Replaces the attention_mask / position_ids / cache_position arguments
  /// by the values they have for one unpadded sequence and drops them.
  LogicalResult
  replaceAssumedInputs(func::FuncOp func,
                       function_ref<StringRef(DictionaryAttr)> nameOf) {
    OpBuilder b(func.getContext());
    b.setInsertionPointToStart(&func.getBody().front());
    AssumedInputBuilder build{b, func.getLoc(), {}, {}};
    SmallVector<std::pair<BlockArgument, Assumed>> assumed;
    for (BlockArgument arg : func.getArguments()) {
      StringRef name = nameOf(func.getArgAttrDict(arg.getArgNumber()));
      if (std::optional<Assumed> a = parseAssumed(name))
        assumed.push_back({arg, *a});
      else if (std::optional<Slot> slot = parseName(name, /*result=*/false)) {
        if (slot->role == Role::InputIds)
          build.inputIds = arg;
        else if (slot->role == Role::PastKey && slot->layer == 0)
          build.pastKey = arg;
      }
    }
    if (assumed.empty())
      return success();
    if (!build.inputIds)
      return func.emitError("the model has no input_ids input");
    llvm::BitVector erase(func.getNumArguments());
    SmallVector<NamedAttribute> record;
    for (auto [arg, a] : assumed) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      bool ok = type && (a == Assumed::AttentionMask
                             ? type.getRank() == 2
                             : type.getRank() == 1 || type.getRank() == 2);
      StringRef name = nameOf(func.getArgAttrDict(arg.getArgNumber()));
      if (!ok)
        return emitError(arg.getLoc())
               << "model input '" << name << "' has type " << arg.getType()
               << ", expected a ranked "
               << (a == Assumed::AttentionMask ? "[batch, length]"
                                               : "[batch, new tokens]")
               << " tensor";
      Value value = a == Assumed::AttentionMask ? build.mask(type)
                                                : build.positions(type);
      arg.replaceAllUsesWith(value);
      erase.set(arg.getArgNumber());
      record.push_back(
          b.getNamedAttr(name, b.getStringAttr(describeAssumed(a))));
    }
    if (failed(func.eraseArguments(erase)))
      return failure();
    func->getParentOfType<ModuleOp>()->setAttr("llm.assumed_inputs",
                                               b.getDictionaryAttr(record));
    return success();
  }

  LogicalResult raise(func::FuncOp func) {
    OpBuilder b(func.getContext());
    auto nameOf = [&](DictionaryAttr attrs) -> StringRef {
      if (auto n = attrs ? attrs.getAs<StringAttr>("onnx.name") : StringAttr())
        return n.getValue();
      if (auto n = attrs ? attrs.getAs<StringAttr>("llm.name") : StringAttr())
        return n.getValue();
      return "";
    };

    if (failed(replaceAssumedInputs(func, nameOf)))
      return failure();

    // Arguments.
    bool hasPast = false;
    for (BlockArgument arg : func.getArguments()) {
      unsigned i = arg.getArgNumber();
      StringRef name = nameOf(func.getArgAttrDict(i));
      std::optional<Slot> slot = parseName(name, /*result=*/false);
      if (!slot && name.empty())
        slot = slotByShape(arg.getType(), false, i);
      if (!slot)
        return emitError(arg.getLoc())
               << "unsupported model input '" << name
               << "': the llm program takes input_ids and "
                  "past_key_values.N.key/value (attention_mask, position_ids "
                  "and cache_position are assumed for one unpadded sequence)";
      if (expectedIndex(*slot) != i)
        return emitError(arg.getLoc())
               << "model input '" << name << "' is at position " << i
               << ", expected " << expectedIndex(*slot)
               << " (input_ids, then each layer's past key and value)";
      hasPast |= slot->role != Role::InputIds;
      func.setArgAttrs(i, b.getDictionaryAttr(b.getNamedAttr(
                              "llm.name", b.getStringAttr(slotName(*slot)))));
    }
    if (!func.getNumArguments() ||
        !isa<RankedTensorType>(func.getArgument(0).getType()))
      return func.emitError("the model has no input_ids input");

    // Results.
    SmallVector<Type> presentTypes;
    for (unsigned i = 0; i < func.getNumResults(); ++i) {
      StringRef name = nameOf(func.getResultAttrDict(i));
      std::optional<Slot> slot = parseName(name, /*result=*/true);
      if (!slot && name.empty())
        slot = slotByShape(func.getResultTypes()[i], true, i);
      if (!slot)
        return func.emitError() << "unsupported model output '" << name
                                << "': the llm program returns logits and "
                                   "present.N.key/value only";
      if (expectedIndex(*slot) != i)
        return func.emitError()
               << "model output '" << name << "' is at position " << i
               << ", expected " << expectedIndex(*slot);
      func.setResultAttrs(i, b.getDictionaryAttr(b.getNamedAttr(
                                 "llm.name", b.getStringAttr(slotName(*slot)))));
      if (slot->role != Role::Logits)
        presentTypes.push_back(func.getResultTypes()[i]);
    }
    if (presentTypes.empty() || presentTypes.size() % 2)
      return func.emitError(
          "expected present.N.key/value outputs for every layer (the llm "
          "program returns the KV cache: export the model with its cache, "
          "as optimum's decoder_model.onnx)");

    // A prefill graph gets the past arguments the program always has. Their
    // head count and head size are the presents'; exporters often leave
    // those dynamic in the types, so they are probed.
    if (!hasPast) {
      raising::ModelInterface model;
      model.inputIds = func.getArgument(0);
      for (auto [i, type] : llvm::enumerate(presentTypes)) {
        Value present = ret(func).getOperand(1 + i);
        auto probed = raising::probedType(model, present);
        auto t = dyn_cast<RankedTensorType>(type);
        if (succeeded(probed) && (!t || !t.hasStaticShape()))
          t = *probed;
        if (!t || t.getRank() != 4 || t.isDynamicDim(1) || t.isDynamicDim(3))
          return func.emitError()
                 << "present output " << i
                 << " must be [batch, kv_heads, length, head_dim] with static "
                    "heads and head size, got "
                 << type;
        SmallVector<int64_t> shape(t.getShape());
        shape[0] = shape[2] = ShapedType::kDynamic;
        Slot slot{i % 2 ? Role::PastValue : Role::PastKey, int64_t(i / 2)};
        if (failed(func.insertArgument(
                1 + i, RankedTensorType::get(shape, t.getElementType()),
                b.getDictionaryAttr(b.getNamedAttr(
                    "llm.name", b.getStringAttr(slotName(slot)))),
                func.getLoc())))
          return failure();
      }
    } else {
      func->setAttr("llm.graph_has_past", b.getUnitAttr());
    }
    if (func.getNumArguments() != 1 + presentTypes.size())
      return func.emitError() << "the model has " << func.getNumArguments() - 1
                              << " past inputs but " << presentTypes.size()
                              << " present outputs";
    func.setSymName("forward");
    return success();
  }
};

} // namespace
