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

#include "llvm/ADT/SmallPtrSet.h"

#include <cmath>
#include <cstdlib>
#include <limits>

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

  std::string why;

  FailureOr<bool> raise(onnxir::SoftmaxOp softmax, bool report) {
    auto region = collectRegion(softmax, /*maxOps=*/4096);
    if (succeeded(region))
      addPresentBranches(*region);
    why = "the subgraph around it is too large";
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

    // The caches are the graph's own inputs and outputs, in the type the
    // attention computes in (an f16 graph converted with keep_io_types
    // casts f32 caches around it: that form is refused, not mis-raised).
    for (Value cache :
         {model.pastKeys[site->layer], model.pastValues[site->layer]}) {
      Type cacheElement = getElementTypeOrSelf(cache.getType());
      if (cacheElement == qType->getElementType())
        continue;
      std::string msg;
      llvm::raw_string_ostream os(msg);
      os << "the past caches are " << cacheElement
         << " but the attention computes in " << qType->getElementType()
         << " (a model converted keeping f32 inputs and outputs: export it "
            "with its caches in "
         << qType->getElementType() << ")";
      return fail(msg);
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
              b.getBoolAttr(causal), /*window=*/nullptr, /*k_scales=*/nullptr,
              /*v_scales=*/nullptr);
          Candidate c{SmallVector<Value>(attention.getResults()), ropeOps};
          c.ops.push_back(attention);
          candidates.push_back(std::move(c));
        }
    }
    Value expected[] = {site->out, site->presentKey, site->presentValue};
    std::optional<unsigned> chosen = pickMatchingCandidate(
        model, {site->q, site->k, site->v}, expected, candidates);
    // A decoder-with-past export traced with one new token has no causal
    // mask (it masks nothing for one token): the graph is only meaningful
    // for one new token, where it is the causal decoder.
    unsigned perCausality = scales.size();
    bool nonCausal = chosen && (*chosen / perCausality) % 2 == 1;
    bool oneTokenOnly = false;
    if (nonCausal && model.graphHasPast) {
      unsigned causal = *chosen - perCausality;
      SmallVector<DimAssignment> oneToken;
      for (DimAssignment a : probeAssignments(/*hasPast=*/true))
        oneToken.push_back({a.batch, 1, a.past});
      std::optional<unsigned> agrees = pickMatchingCandidate(
          model, {site->q, site->k, site->v}, expected, {candidates[causal]},
          1.f, oneToken);
      if (agrees) {
        oneTokenOnly = true;
        // -llm-verify-raising can compare with the graph only where the
        // graph means the model: one new token.
        func->setAttr(kOneNewTokenGraphAttr, UnitAttr::get(func.getContext()));
        softmax.emitRemark()
            << "the graph has no causal mask (a with-past export traced with "
               "one new token): raised as causal attention, which it computes "
               "for one new token";
        chosen = causal;
      }
    }
    {
      SmallVector<unsigned> causalOnes;
      for (unsigned c = 0; c < candidates.size(); ++c)
        if ((c / perCausality) % 2 == 0)
          causalOnes.push_back(c);
      FailureOr<unsigned> settled = settleWindow(
          softmax, *site, chosen, causalOnes, candidates, oneTokenOnly);
      if (failed(settled)) {
        commitCandidate({}, candidates, candidates.size());
        return fail(why);
      }
      chosen = *settled == kNoCandidate ? std::nullopt
                                         : std::optional<unsigned>(*settled);
    }
    commitCandidate(chosen ? ArrayRef<Value>(expected) : ArrayRef<Value>{},
                    candidates, chosen.value_or(candidates.size()));
    if (!chosen)
      return fail("no combination of rotary embedding, scale and causal "
                  "mask computes the same values");
    return true;
  }

  /// Integer scalars that offset or compare positions on the way to the
  /// scores (a sliding window's width, say): the attention is checked at
  /// lengths beyond them, where such a constant makes a difference.
  static SmallVector<int64_t> positionConstants(Value scores) {
    SmallVector<int64_t> found;
    llvm::SmallPtrSet<Operation *, 32> visited;
    SmallVector<Value> work{scores};
    while (!work.empty()) {
      Operation *op = work.pop_back_val().getDefiningOp();
      if (!op || !isa<onnxir::ONNXDialect>(op->getDialect()) ||
          !visited.insert(op).second)
        continue;
      bool arithmetic =
          isa<onnxir::AddOp, onnxir::SubOp, onnxir::TriluOp, onnxir::GreaterOp,
              onnxir::LessOp, onnxir::EqualOp, onnxir::RangeOp, onnxir::MinOp,
              onnxir::MaxOp>(op);
      for (Value operand : op->getOperands()) {
        ElementsAttr c = getConstant(operand);
        if (!c) {
          work.push_back(operand);
          continue;
        }
        auto type = cast<ShapedType>(c.getType());
        if (arithmetic && type.getNumElements() == 1 &&
            type.getElementType().isSignlessInteger(64))
          found.push_back(std::abs(*c.getValues<int64_t>().begin()));
      }
    }
    return found;
  }

  /// Settles what the small probes cannot see: the chosen candidate (if
  /// any) is checked again at lengths beyond the graph's position constants;
  /// when it differs there, or nothing matched, the causal candidates with a
  /// sliding window of about one of those constants are tried at every size.
  /// Returns the candidate that holds (window candidates are appended to
  /// `candidates`), kNoCandidate when none did at the small sizes either, or
  /// fails with `why` set.
  static constexpr unsigned kNoCandidate = ~0u;
  FailureOr<unsigned>
  settleWindow(onnxir::SoftmaxOp softmax, const AttentionSite &site,
               std::optional<unsigned> chosen, ArrayRef<unsigned> causalOnes,
               SmallVector<Candidate> &candidates, bool oneTokenOnly) {
    SmallVector<int64_t> constants = positionConstants(softmax.getInput());
    int64_t largest = 0;
    for (int64_t c : constants)
      largest = std::max(largest, c);
    // The longest context the small probes reach.
    constexpr int64_t kLongestPrefill = 1024;
    int64_t probedLength = 0;
    for (const DimAssignment &a : model.probes())
      probedLength = std::max(probedLength, a.past + a.newTokens);
    // Positions cannot go beyond a rotary table.
    int64_t limit = std::numeric_limits<int64_t>::max();
    for (Value table : site.tables)
      limit = std::min(limit, cast<ShapedType>(table.getDefiningOp<llm::EmbeddingOp>()
                                                   .getTable()
                                                   .getType())
                                  .getDimSize(0));
    int64_t length = std::min(largest + 3, limit);
    SmallVector<DimAssignment> longer;
    if (length <= probedLength) {
      // The small probes already see past every constant.
    } else if (oneTokenOnly) {
      longer = {{1, 1, length - 1}, {2, 1, length - 3}};
    } else if (model.graphHasPast) {
      longer = {{1, 2, length - 2}, {1, 1, length - 1}};
    } else if (length <= kLongestPrefill) {
      longer = {{1, length, 0}};
    } else {
      softmax.emitWarning()
          << "the attention is checked up to " << kLongestPrefill
          << " tokens only (the graph has the constant " << largest
          << "); a decoder-with-past export is checked at any length";
      longer = {{1, kLongestPrefill, 0}};
    }
    Value expected[] = {site.out, site.presentKey, site.presentValue};
    Value inputs[] = {site.q, site.k, site.v};
    if (chosen && (longer.empty() ||
                   pickMatchingCandidate(model, inputs, expected,
                                         {candidates[*chosen]}, 1.f, longer)))
      return *chosen;
    // A sliding window of about one of the constants.
    SmallVector<int64_t> windows;
    for (int64_t c : constants)
      for (int64_t w : {c - 1, c, c + 1})
        if (w >= 1 && w < std::max(length, probedLength) &&
            !llvm::is_contained(windows, w))
          windows.push_back(w);
    SmallVector<unsigned> bases;
    if (chosen) {
      if (llvm::is_contained(causalOnes, *chosen))
        bases.push_back(*chosen);
    } else {
      bases.assign(causalOnes.begin(), causalOnes.end());
    }
    unsigned firstWindow = candidates.size();
    for (unsigned base : bases)
      for (int64_t w : windows) {
        auto attention = cast<llm::AttentionOp>(candidates[base].ops.back());
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointAfter(attention);
        Operation *windowed = b.clone(*attention);
        windowed->setAttr("window", b.getI64IntegerAttr(w));
        Candidate c = candidates[base];
        c.results.assign(windowed->result_begin(), windowed->result_end());
        c.ops.back() = windowed;
        candidates.push_back(std::move(c));
      }
    SmallVector<DimAssignment> all;
    for (DimAssignment a : model.probes())
      all.push_back({a.batch, oneTokenOnly ? 1 : a.newTokens, a.past});
    all.append(longer.begin(), longer.end());
    ArrayRef<Candidate> windowed =
        ArrayRef<Candidate>(candidates).drop_front(firstWindow);
    if (!windowed.empty())
      if (std::optional<unsigned> w = pickMatchingCandidate(
              model, inputs, expected, windowed, 1.f, all))
        return firstWindow + *w;
    if (!chosen)
      return kNoCandidate;
    why = "it matches at lengths up to " + std::to_string(probedLength) +
          " but not at " + std::to_string(length) +
          " (and no sliding window explains the difference)";
    return failure();
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
