//===- ModelFootprint.cpp - What an llm program needs from memory ---------===//

#include "flightllm/Offload/ModelFootprint.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;

namespace flightllm::offload {
namespace {

constexpr uint64_t kRowBytes = 128; // the on-chip row and KV-row padding

uint64_t roundUp(uint64_t v, uint64_t m) { return (v + m - 1) / m * m; }

uint64_t elementCount(Value v) {
  auto type = cast<ShapedType>(v.getType());
  return type.hasStaticShape() ? uint64_t(type.getNumElements()) : 0;
}

/// Bytes of a float tensor the accelerator keeps in fp32 (norm parameters,
/// biases, rotary and position tables).
uint64_t f32Bytes(Value v) { return 4 * elementCount(v); }

/// K and N of a linear or the LM head from its weight's shape.
std::pair<uint64_t, uint64_t> reductionAndChannels(Value weight,
                                                   bool transposed) {
  auto shape = cast<ShapedType>(weight.getType()).getShape();
  uint64_t a = uint64_t(shape[0]), b = uint64_t(shape[1]);
  return transposed ? std::make_pair(b, a) : std::make_pair(a, b);
}

/// Integer weights at their bit width (the binary's INT8 unless the op says
/// `weight_bits`) plus one fp32 scale per output channel, or per group when
/// `weight_scales` has one per group.
uint64_t quantizedWeightBytes(Operation *op, Value weight, bool transposed,
                              uint64_t bits = 8) {
  auto [k, n] = reductionAndChannels(weight, transposed);
  // An op's own width counts once it is quantized (weight_scales).
  if (auto attr = op->getAttrOfType<IntegerAttr>("weight_bits");
      attr && op->hasAttr("weight_scales"))
    bits = uint64_t(attr.getInt());
  uint64_t scales = n;
  if (auto attr = op->getAttrOfType<ElementsAttr>("weight_scales"))
    scales = std::max<uint64_t>(n, uint64_t(attr.getNumElements()));
  return (k * n * bits + 7) / 8 + 4 * scales;
}

} // namespace

FailureOr<ModelFootprint> measureFootprint(ModuleOp module,
                                           unsigned layerWeightBits) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError("no @forward function to plan for"), failure();

  ModelFootprint f;
  uint64_t linearBytes = 0, linearMacs = 0, normBytes = 0;
  Operation *firstAttention = nullptr;
  int64_t numHeads = 0, numKVHeads = 0, headDim = 0;
  Value finalNormResult;
  bool failed = false;
  forward.walk([&](Operation *op) {
    if (auto lin = dyn_cast<llm::LinearOp>(op)) {
      auto [k, n] = reductionAndChannels(lin.getWeight(),
                                         lin.getTransposeWeight());
      linearBytes += quantizedWeightBytes(op, lin.getWeight(),
                                          lin.getTransposeWeight(),
                                          layerWeightBits);
      if (lin.getBias())
        linearBytes += f32Bytes(lin.getBias());
      linearMacs += k * n;
    } else if (auto head = dyn_cast<llm::LogitsOp>(op)) {
      auto [k, n] = reductionAndChannels(head.getWeight(),
                                         head.getTransposeWeight());
      f.globalWeightBytes +=
          quantizedWeightBytes(op, head.getWeight(), head.getTransposeWeight());
      f.headMacsPerToken += k * n;
      finalNormResult = head.getX();
    } else if (isa<llm::RMSNormOp, llm::LayerNormOp>(op)) {
      for (Value operand : op->getOperands().drop_front())
        normBytes += f32Bytes(operand);
    } else if (auto att = dyn_cast<llm::AttentionOp>(op)) {
      ++f.layers;
      int64_t hq = att.getNumHeads(), hkv = att.getNumKvHeads();
      auto keyType = cast<ShapedType>(att.getKey().getType());
      int64_t width = keyType.getShape().back();
      if (ShapedType::isDynamic(width) || width % hkv != 0) {
        op->emitError("cannot size the KV cache: the key width is not a "
                       "known multiple of num_kv_heads");
        failed = true;
        return;
      }
      int64_t dh = width / hkv;
      if (!firstAttention) {
        firstAttention = op;
        numHeads = hq, numKVHeads = hkv, headDim = dh;
      } else if (hq != numHeads || hkv != numKVHeads || dh != headDim) {
        op->emitError("attention differs from the first layer's (")
            << numHeads << " heads, " << numKVHeads << " KV heads of "
            << headDim << "): the planner needs identical layers";
        failed = true;
      }
    } else if (auto emb = dyn_cast<llm::EmbeddingOp>(op)) {
      // Position tables sit in HBM; the token table is host-side. The token
      // embedding is the one whose ids are a function argument.
      if (!isa<BlockArgument>(emb.getIds()))
        f.globalWeightBytes += 2 * elementCount(emb.getTable());
    }
  });
  if (failed)
    return failure();
  if (!firstAttention)
    return forward.emitError("no llm.attention: the planner needs the "
                             "decoder layers"),
           failure();

  // The norm that feeds the LM head is global, the others belong to layers.
  if (finalNormResult)
    if (Operation *def = finalNormResult.getDefiningOp())
      if (isa<llm::RMSNormOp, llm::LayerNormOp>(def))
        for (Value operand : def->getOperands().drop_front()) {
          normBytes -= f32Bytes(operand);
          f.globalWeightBytes += f32Bytes(operand);
        }
  // Rotary tables: counted once, whatever number of rope ops read them.
  llvm::SmallPtrSet<Operation *, 4> tables;
  forward.walk([&](llm::RopeOp rope) {
    for (Value table : {rope.getCos(), rope.getSin()})
      if (Operation *def = table.getDefiningOp())
        if (tables.insert(def).second)
          f.globalWeightBytes += f32Bytes(table);
  });

  uint64_t layerBytes = linearBytes + normBytes;
  if (layerBytes % f.layers != 0 || linearMacs % f.layers != 0)
    return firstAttention->emitError(
               "the decoder layers' weights differ in size (")
               << layerBytes << " bytes over " << f.layers
               << " layers): the planner needs identical layers",
           failure();
  f.layerWeightBytes = layerBytes / f.layers;
  f.linearMacsPerToken = linearMacs / f.layers;
  f.kvBytesPerToken =
      2 * uint64_t(numKVHeads) * roundUp(uint64_t(headDim), kRowBytes);
  f.kvHeads = uint64_t(numKVHeads);
  f.attentionMacsPerPosition = 2 * uint64_t(numHeads) * uint64_t(headDim);
  return f;
}

} // namespace flightllm::offload
