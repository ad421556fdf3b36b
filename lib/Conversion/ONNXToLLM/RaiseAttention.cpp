//===- RaiseAttention.cpp - Attention with its KV cache -> llm ------------===//
//
// Exporters spell attention in many ways: 4-D or batched-3-D matmuls, masks
// from constant buffers, Trilu or Range comparisons applied by Add or Where,
// scales on q, k or the scores, GQA expansion by Expand or Tile, rotary
// embeddings by Slice/Neg/Concat. Rather than matching each spelling, this
// step finds the subgraph around a Softmax, classifies its inputs (the q, k,
// v projections, the rotary tables, the past caches) and outputs (the
// attention output and the present caches) by how they connect, and picks
// the llm.rope + llm.attention configuration that computes the same values
// for several (batch, new tokens, past length) sizes.
//===----------------------------------------------------------------------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

#include <cmath>

namespace flightllm {
#define GEN_PASS_DEF_RAISEATTENTIONPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

namespace {

/// A rotary table lookup `llm.embedding(table, llm.position_ids)`.
bool isRotaryLookup(Value v) {
  auto emb = v.getDefiningOp<llm::EmbeddingOp>();
  return emb && emb.getIds().getDefiningOp<llm::PositionIdsOp>();
}

struct AttentionSite {
  Value q, k, v;             // projections [B, S, H*Dh]
  SmallVector<Value> tables; // rotary lookups, if any
  Value out, presentKey, presentValue;
  int64_t layer = -1;
};

struct AttentionRaiser {
  func::FuncOp func;
  const ModelInterface &model;
  OpBuilder b;
  func::ReturnOp ret;

  AttentionRaiser(func::FuncOp func, const ModelInterface &model)
      : func(func), model(model), b(func.getContext()) {
    ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  }

  /// The function result index `v` is returned as, if any.
  std::optional<unsigned> resultIndex(Value v) {
    for (OpOperand &use : v.getUses())
      if (use.getOwner() == ret)
        return use.getOperandNumber();
    return std::nullopt;
  }

  /// Classifies the subgraph around `softmax`; a string says why not.
  FailureOr<AttentionSite> classify(onnxir::SoftmaxOp softmax,
                                    const Subgraph &region, std::string &why) {
    AttentionSite site;
    for (Value out : region.outputs) {
      std::optional<unsigned> index = resultIndex(out);
      if (!index) {
        if (site.out) {
          why = "the subgraph has more than one output besides the caches";
          return failure();
        }
        site.out = out;
        continue;
      }
      if (*index == 0) {
        why = "the subgraph computes the logits";
        return failure();
      }
      int64_t layer = (*index - 1) / 2;
      if (site.layer >= 0 && site.layer != layer) {
        why = "the subgraph writes the caches of two layers";
        return failure();
      }
      site.layer = layer;
      ((*index - 1) % 2 == 0 ? site.presentKey : site.presentValue) = out;
    }
    if (!site.out || !site.presentKey || !site.presentValue) {
      why = "expected an output and the present key and value caches";
      return failure();
    }
    auto raisedInputsOf = [&](Value v) {
      SmallVector<Value> found;
      for (Value in : backwardRegion(v).inputs)
        if (isRaised(in) && !isRotaryLookup(in))
          found.push_back(in);
      return found;
    };
    SmallVector<Value> keys = raisedInputsOf(site.presentKey);
    SmallVector<Value> values = raisedInputsOf(site.presentValue);
    if (keys.size() != 1 || values.size() != 1) {
      why = "the present caches do not each come from one projection";
      return failure();
    }
    site.k = keys.front();
    site.v = values.front();
    for (Value in : region.inputs) {
      if (isRotaryLookup(in)) {
        site.tables.push_back(in);
      } else if (isa<BlockArgument>(in)) {
        if (in != model.pastKeys[site.layer] &&
            in != model.pastValues[site.layer]) {
          why = "the subgraph reads an unexpected model input";
          return failure();
        }
      } else if (in != site.k && in != site.v) {
        if (site.q || !isRaised(in)) {
          why = "the query projection is not raised or not unique";
          return failure();
        }
        site.q = in;
      }
    }
    if (!site.q) {
      why = "no query projection found";
      return failure();
    }
    if (site.layer >= int64_t(model.pastKeys.size())) {
      why = "no past cache argument for this layer";
      return failure();
    }
    return site;
  }

  /// A prefill export may compute a present cache on a branch of its own
  /// (GPT-2 transposes k once for the cache and once for the scores): a
  /// returned cache computed from the subgraph's projections belongs to it.
  void addPresentBranches(Subgraph &region) {
    for (OpOperand &operand : ret->getOpOperands()) {
      Value r = operand.get();
      if (operand.getOperandNumber() == 0 || region.outputs.contains(r) ||
          !r.getDefiningOp() ||
          !isa<onnxir::ONNXDialect>(r.getDefiningOp()->getDialect()))
        continue;
      Subgraph branch = backwardRegion(r);
      bool fromRegion = llvm::any_of(branch.inputs, [&](Value in) {
        return isRaised(in) && !isRotaryLookup(in) && region.inputs.contains(in);
      });
      if (!fromRegion)
        continue;
      for (Operation *op : branch.ops)
        region.ops.insert(op);
      region.outputs.insert(r);
    }
  }

  /// The product of the constant scalar factors on the way to the scores.
  std::optional<double> extractedScale(onnxir::SoftmaxOp softmax) {
    double scale = 1;
    bool found = false;
    for (Operation *op : backwardRegion(softmax.getInput()).ops) {
      bool div = isa<onnxir::DivOp>(op);
      if (!div && !isa<onnxir::MulOp>(op))
        continue;
      for (unsigned i = 0; i < 2; ++i) {
        if (div && i == 0)
          continue; // Only divisors scale.
        Value operand = op->getOperand(i);
        if (!isShapeDetermined(operand))
          continue;
        std::optional<double> c = probeScalar(model, operand);
        if (!c || *c == 0)
          continue;
        scale *= div ? 1.0 / *c : *c;
        found = true;
      }
    }
    return found ? std::optional<double>(scale) : std::nullopt;
  }

  FailureOr<bool> raise(onnxir::SoftmaxOp softmax, bool report) {
    auto region = collectRegion(softmax, /*maxOps=*/4096);
    if (succeeded(region))
      addPresentBranches(*region);
    std::string why = "the subgraph around it is too large";
    FailureOr<AttentionSite> site =
        succeeded(region) ? classify(softmax, *region, why)
                          : FailureOr<AttentionSite>(failure());
    auto fail = [&](const Twine &msg) -> FailureOr<bool> {
      if (!report)
        return false;
      return softmax.emitError() << "cannot raise the attention around this "
                                    "Softmax: "
                                 << msg;
    };
    if (failed(site))
      return fail(why);

    auto qType = probedType(model, site->q), kType = probedType(model, site->k),
         vType = probedType(model, site->v),
         presentType = probedType(model, site->presentKey);
    if (failed(qType) || failed(kType) || failed(vType) ||
        failed(presentType) || presentType->getRank() != 4)
      return fail("the shapes of its inputs cannot be determined");
    int64_t dh = presentType->getShape()[3];
    int64_t cq = qType->getShape().back(), ck = kType->getShape().back();
    // Sizes come from the file: a head size or head count of 0 is refused
    // before anything divides by it.
    if (ShapedType::isDynamic(dh) || ShapedType::isDynamic(cq) ||
        ShapedType::isDynamic(ck) || dh <= 0 || cq < dh || ck < dh ||
        cq % dh || ck % dh || vType->getShape().back() != ck)
      return fail("the head size does not divide the projections");
    int64_t numHeads = cq / dh, numKVHeads = ck / dh;
    if (numHeads % numKVHeads)
      return fail("query heads are not a multiple of key/value heads");

    SmallVector<double> scales;
    if (std::optional<double> s = extractedScale(softmax))
      scales.push_back(*s);
    for (double s : {1.0 / std::sqrt(double(dh)), 1.0})
      if (llvm::none_of(scales, [&](double x) { return std::abs(x - s) < 1e-9; }))
        scales.push_back(s);

    struct RopeOption {
      Value cos, sin;
      llm::RopeStyle style;
    };
    SmallVector<std::optional<RopeOption>> ropes;
    if (site->tables.size() == 2) {
      for (auto style : {llm::RopeStyle::RotateHalf, llm::RopeStyle::Interleaved})
        for (unsigned first = 0; first < 2; ++first)
          ropes.push_back(RopeOption{site->tables[first],
                                     site->tables[1 - first], style});
    } else if (site->tables.empty()) {
      ropes.push_back(std::nullopt);
    } else {
      return fail("expected two rotary tables (cos and sin)");
    }

    // Right after the last input: the present caches may already be read
    // (by Shape ops) before the attention output is computed.
    Location loc = softmax.getLoc();
    Operation *last = nullptr;
    for (Value in : {site->q, site->k, site->v})
      if (Operation *def = in.getDefiningOp())
        if (!last || last->isBeforeInBlock(def))
          last = def;
    b.setInsertionPointAfter(last);
    Value q = castTo(b, loc, site->q, *qType);
    Value k = castTo(b, loc, site->k, *kType);
    Value v = castTo(b, loc, site->v, *vType);
    Value pastKey = model.pastKeys[site->layer];
    Value pastValue = model.pastValues[site->layer];
    auto cacheType = RankedTensorType::get(
        {ShapedType::kDynamic, numKVHeads, ShapedType::kDynamic, dh},
        qType->getElementType());

    SmallVector<Candidate> candidates;
    for (const std::optional<RopeOption> &rope : ropes) {
      Value qr = q, kr = k;
      SmallVector<Operation *> ropeOps;
      if (rope) {
        auto lookup = [](Value table) {
          return table.getDefiningOp<llm::EmbeddingOp>();
        };
        auto cosLookup = lookup(rope->cos), sinLookup = lookup(rope->sin);
        auto styleAttr = llm::RopeStyleAttr::get(b.getContext(), rope->style);
        auto qRope = llm::RopeOp::create(
            b, loc, *qType, q, cosLookup.getTable(), sinLookup.getTable(),
            cosLookup.getIds(), b.getI64IntegerAttr(numHeads), styleAttr);
        auto kRope = llm::RopeOp::create(
            b, loc, *kType, k, cosLookup.getTable(), sinLookup.getTable(),
            cosLookup.getIds(), b.getI64IntegerAttr(numKVHeads), styleAttr);
        qr = qRope.getResult();
        kr = kRope.getResult();
        ropeOps = {qRope, kRope};
      }
      for (bool causal : {true, false})
        for (double scale : scales) {
          auto attention = llm::AttentionOp::create(
              b, loc, TypeRange{*qType, cacheType, cacheType}, qr, kr, v,
              pastKey, pastValue, b.getI64IntegerAttr(numHeads),
              b.getI64IntegerAttr(numKVHeads), b.getF32FloatAttr(float(scale)),
              b.getBoolAttr(causal), /*k_scales=*/nullptr,
              /*v_scales=*/nullptr);
          Candidate c{SmallVector<Value>(attention.getResults()), ropeOps};
          c.ops.push_back(attention);
          candidates.push_back(std::move(c));
        }
    }
    Value expected[] = {site->out, site->presentKey, site->presentValue};
    std::optional<unsigned> chosen = pickMatchingCandidate(
        model, {site->q, site->k, site->v}, expected, candidates);
    commitCandidate(chosen ? ArrayRef<Value>(expected) : ArrayRef<Value>{},
                    candidates, chosen.value_or(candidates.size()));
    if (!chosen)
      return fail("no combination of rotary embedding, scale and causal "
                  "mask computes the same values");
    return true;
  }
};

} // namespace

FailureOr<unsigned> raising::raiseAttention(func::FuncOp func,
                                            const ModelInterface &model,
                                            bool report) {
  AttentionRaiser raiser(func, model);
  SmallVector<onnxir::SoftmaxOp> softmaxes;
  func.walk([&](onnxir::SoftmaxOp s) { softmaxes.push_back(s); });
  unsigned changed = 0;
  for (onnxir::SoftmaxOp s : softmaxes) {
    if (s.getOutput().use_empty())
      continue;
    FailureOr<bool> done = raiser.raise(s, report);
    if (failed(done))
      return failure();
    changed += *done;
  }
  return changed;
}

namespace {
struct RaiseAttentionPass
    : public flightllm::impl::RaiseAttentionPassBase<RaiseAttentionPass> {
  void runOnOperation() override {
    auto model = ModelInterface::get(getOperation());
    if (failed(model))
      return signalPassFailure();
    eraseDeadOps(getOperation());
    if (failed(raiseAttention(getOperation(), *model, /*report=*/true)))
      return signalPassFailure();
    eraseDeadOps(getOperation());
    refreshFunctionType(getOperation());
  }
};
} // namespace
