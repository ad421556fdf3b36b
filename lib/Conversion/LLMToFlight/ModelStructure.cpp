//===- ModelStructure.cpp - Prologue, repeated layers, epilogue -----------===//

#include "ModelStructure.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

namespace {

bool isPrologueOp(Operation *op) {
  if (llvm::isa<llm::EmbeddingOp>(op))
    return true;
  if (auto add = dyn_cast<llm::AddOp>(op))
    return add->getOperand(0).getDefiningOp<llm::EmbeddingOp>() &&
           add->getOperand(1).getDefiningOp<llm::EmbeddingOp>();
  return false;
}

bool isEpilogueOp(Operation *op) {
  return llvm::isa<llm::LayerNormOp, llm::RMSNormOp, llm::LogitsOp>(op);
}

/// Attributes that give a projection's weight format; layers may differ in
/// them (one layer body per group), zero points by their presence.
constexpr llvm::StringLiteral kFormatAttrs[] = {
    "weight_bits", "group_size", "sparsity", "block_sparsity",
    "weight_zero_points"};

bool isFormatAttr(StringRef n) { return llvm::is_contained(kFormatAttrs, n); }

/// Attributes that must agree between corresponding ops of two layers
/// (quantization scales differ per layer and are data, not structure; the
/// weight formats are compared per group).
bool sameStructuralAttrs(Operation *a, Operation *b) {
  auto structural = [](Operation *op) {
    return llvm::count_if(op->getAttrs(), [](NamedAttribute attr) {
      StringRef n = attr.getName().getValue();
      return !(n == "weight_scales" || n == "input_scale" ||
               n == "k_scales" || n == "v_scales" || isFormatAttr(n));
    });
  };
  for (NamedAttribute attr : a->getAttrs()) {
    StringRef n = attr.getName().getValue();
    if (n == "weight_scales" || n == "input_scale" || n == "k_scales" ||
        n == "v_scales" || isFormatAttr(n))
      continue;
    if (b->getAttr(n) != attr.getValue())
      return false;
  }
  return structural(a) == structural(b);
}

bool sameFormat(Operation *a, Operation *b) {
  for (StringRef n : kFormatAttrs)
    if (n == "weight_zero_points" ? bool(a->getAttr(n)) != bool(b->getAttr(n))
                                  : a->getAttr(n) != b->getAttr(n))
      return false;
  return true;
}

} // namespace

FailureOr<ModelStructure>
flightllm::lowering::analyzeModelStructure(ModuleOp module) {
  auto func = module.lookupSymbol<func::FuncOp>("forward");
  if (!func)
    return module.emitError("the llm program has no func.func @forward");
  ModelStructure s;
  s.func = func;
  for (Operation &op : func.getBody().front()) {
    if (llvm::isa<llm::WeightOp, llm::PositionIdsOp, func::ReturnOp>(op))
      continue;
    if (op.getDialect() != func->getContext()->getLoadedDialect<llm::LLMDialect>())
      return op.emitError("the accelerator lowering takes llm ops only; raise "
                          "the model first (op '")
             << op.getName() << "')";
    s.ops.push_back(&op);
  }
  while (s.prologueEnd < s.ops.size() && isPrologueOp(s.ops[s.prologueEnd]))
    ++s.prologueEnd;
  if (s.prologueEnd == 0)
    return func.emitError("the program does not start with a token embedding");

  std::vector<size_t> attention;
  for (size_t i = s.prologueEnd; i < s.ops.size(); ++i)
    if (llvm::isa<llm::AttentionOp>(s.ops[i]))
      attention.push_back(i);
  if (attention.empty())
    return func.emitError("the program has no llm.attention: not a decoder");
  s.numLayers = attention.size();
  s.totalLayers = s.numLayers;
  size_t epilogueLength = 0;
  while (epilogueLength < s.ops.size() - s.prologueEnd &&
         isEpilogueOp(s.ops[s.ops.size() - 1 - epilogueLength]))
    ++epilogueLength;
  // Norms belong to the epilogue only after the last layer's residual add.
  size_t bodyOps = s.ops.size() - s.prologueEnd - epilogueLength;
  if (bodyOps % s.numLayers != 0)
    return s.ops[attention[0]]->emitError()
           << "the " << s.numLayers << " decoder layers do not have the same "
           << "number of ops (" << bodyOps << " ops between the embeddings "
           << "and the final norm)";
  s.layerLength = bodyOps / s.numLayers;
  if (!llvm::isa<llm::LogitsOp>(s.ops.back()))
    return s.ops.back()->emitError("the program must end with llm.logits");

  // The hidden state flowing between layers: the one value each layer uses
  // from before it (besides weights and function arguments).
  for (unsigned l = 0; l <= s.numLayers; ++l) {
    size_t begin = s.layerBegin(l);
    Value in;
    if (l == 0) {
      in = s.ops[s.prologueEnd - 1]->getResult(0);
    } else {
      Operation *last = s.ops[begin - 1];
      in = last->getResult(0);
    }
    s.layerInputs.push_back(in);
  }

  // Every layer must be the first one with other weights.
  llvm::DenseMap<Operation *, size_t> index;
  for (size_t i = 0; i < s.ops.size(); ++i)
    index[s.ops[i]] = i;
  for (unsigned l = 0; l < s.numLayers; ++l) {
    size_t base = s.layerBegin(l), base0 = s.layerBegin(0);
    for (size_t j = 0; j < s.layerLength; ++j) {
      Operation *op = s.ops[base + j], *op0 = s.ops[base0 + j];
      if (op->getName() != op0->getName() || !sameStructuralAttrs(op, op0) ||
          op->getNumOperands() != op0->getNumOperands() ||
          op->getResultTypes() != op0->getResultTypes())
        return op->emitError() << "decoder layer " << l << " differs from "
                               << "layer 0 at its op " << j << " ('"
                               << op0->getName() << "')"
                               << ": the accelerator "
                               << "shares one instruction sequence between "
                               << "layers that differ at most in their "
                               << "weight formats";
      for (unsigned k = 0; k < op->getNumOperands(); ++k) {
        Value v = op->getOperand(k), v0 = op0->getOperand(k);
        Operation *def = v.getDefiningOp(), *def0 = v0.getDefiningOp();
        bool ok;
        if (v == s.layerInputs[l])
          ok = v0 == s.layerInputs[0];
        else if (!def || !def0)
          ok = !def && !def0; // function arguments (the past KV cache)
        else if (llvm::isa<llm::WeightOp>(def))
          ok = llvm::isa<llm::WeightOp>(def0) && v.getType() == v0.getType();
        else if (llvm::isa<llm::PositionIdsOp>(def))
          ok = def == def0;
        else {
          auto it = index.find(def), it0 = index.find(def0);
          ok = it != index.end() && it0 != index.end() &&
               it->second >= base && it->second - base == it0->second - base0 &&
               cast<OpResult>(v).getResultNumber() ==
                   cast<OpResult>(v0).getResultNumber();
        }
        if (!ok)
          return op->emitError() << "decoder layer " << l << " differs from "
                                 << "layer 0 in operand " << k << " of its op "
                                 << j << " ('" << op0->getName() << "')";
      }
    }
  }
  s.computeGroups();
  return s;
}

void ModelStructure::computeGroups() {
  groups.clear();
  for (unsigned l = 0; l < numLayers; ++l) {
    bool same = l > 0 && llvm::all_of(llvm::zip(layerOps(l), layerOps(l - 1)),
                                      [](auto pair) {
                                        return sameFormat(std::get<0>(pair),
                                                          std::get<1>(pair));
                                      });
    if (same)
      ++groups.back().count;
    else
      groups.push_back({l, 1});
  }
}
