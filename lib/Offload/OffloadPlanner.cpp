//===- OffloadPlanner.cpp - Weight and KV placement as a linear program ---===//
//
// For a block of k batches of b sequences, one layer's time in each stage is
// the largest of four terms (the queues overlap them): matrix-engine
// compute, HBM traffic, DDR traffic and host-link traffic. Every traffic
// term is affine in the placement fractions, so "minimise the block's time"
// is a linear program once b and k are fixed (FlexGen's formulation; here
// every tier is read concurrently, so the terms are a max, not a sum).
// GLPK solves it; the block size is searched outside. docs/offloading.md.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Offload/OffloadPlanner.h"

#include "flightllm/Simulator/Simulator.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <glpk.h>

#include <algorithm>
#include <cmath>

using llvm::Expected;
using llvm::createStringError;

namespace flightllm::offload {

const char *tierName(Tier t) {
  switch (t) {
  case Tier::HBM:
    return "HBM";
  case Tier::DDR:
    return "DDR";
  case Tier::Host:
    return "host";
  }
  return "?";
}

double StageTerms::time() const {
  return std::max({compute, hbm, ddr, host});
}

const char *StageTerms::bound() const {
  double t = time();
  if (t == compute)
    return "compute";
  if (t == hbm)
    return "HBM";
  if (t == ddr)
    return "DDR";
  return "host link";
}

namespace {

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Column order of the LP's fractions.
enum Column { WH, WD, WC, KH, KD, KC, kFractions };

/// One cost term or capacity: constant + coefficients . fractions.
struct Affine {
  double constant = 0;
  std::array<double, kFractions> coef{};
  double at(const Placement &p) const {
    double v = constant;
    for (int t = 0; t < kTiers; ++t)
      v += coef[WH + t] * p.weights[t] + coef[KH + t] * p.kv[t];
    return v;
  }
};

/// The cost model for one block size: every term of both stages as an
/// affine function of the placement, in seconds (traffic divided by the
/// tier's effective bandwidth) or bytes (capacities).
struct BlockModel {
  double computePrefill = 0, computeDecode = 0, head = 0;
  Affine hbmPrefill, ddrPrefill, hostPrefill;
  Affine hbmDecode, ddrDecode, hostDecode;
  std::array<Affine, kTiers> used;
  std::array<double, kTiers> capacity{};
  uint64_t layers = 0, steps = 0, tokens = 0;
  bool emitted = false;

  ModelFootprint footprint;

  BlockModel(const ModelFootprint &m, const target::TargetDescription &t,
             const Workload &w, uint64_t b, uint64_t k)
      : emitted(w.emitted), footprint(m) {
    double hz = t.clockMHz * 1e6;
    // The efficiencies the simulator's timing uses.
    double hbmBW = t.hbmPeakGBPerS() * 1e9 * t.hbmEfficiencyWithinChannel;
    double ddrBW = double(t.ddrChannels) * t.ddrGBPerSPerChannel * 1e9 *
                   sim::TimingParams().ddrEfficiency;
    double hostBW = t.hostLinkGBPerS * 1e9 * t.hostLinkEfficiency;
    double mmPerCycle = double(t.mmChannels * t.mmK); // per token slot
    double mv = double(t.mvMacsPerCycle()), mm = double(t.mmMacsPerCycle());
    double W = double(m.layerWeightBytes), kv = double(m.kvBytesPerToken);
    uint64_t p = w.promptTokens, n = w.generatedTokens;
    double meanContext = double(p) + double(n) / 2;
    layers = m.layers, steps = n, tokens = k * b * n;

    // Compute (one core; the lowering uses one today). Decode: one token
    // per sequence, MV for a single sequence, else an MM tile of up to
    // mm.tokens sequences; attention per sequence on the MV engine.
    double tiles = double(ceilDiv(b, t.mmTokens));
    // Every weight byte crosses the weight buffer's ports twice, written by
    // its LD and read by the MV/MM (docs/simulator.md, "Buffer ports"): at
    // batch 1 that, not the MACs, bounds the MV engine.
    double weightPort = double(t.bufferPortBytesPerCycle(isa::Buffer::weight));
    double portCycles = 2 * W / weightPort;
    // One decode step's cycles of a matrix of `bytes` and `macs` per token.
    auto decodeCycles = [&](double macs, double bytes) {
      if (w.emitted && b > 1)
        // The binary's batched decode: one MV per sequence on each weight
        // tile, loaded once and read by each (docs/lowering.md, "Batched
        // decode").
        return std::max(double(b) * macs / mv, double(1 + b) * bytes / weightPort);
      double ports = 2 * bytes / weightPort;
      return b == 1 ? std::max(macs / mv, ports)
                    : tiles * std::max(macs / mmPerCycle, ports);
    };
    double linearCycles = decodeCycles(double(m.linearMacsPerToken), W);
    double attentionCycles =
        double(b) * double(m.attentionMacsPerPosition) * meanContext / mv;
    computeDecode = double(k) * (linearCycles + attentionCycles) / hz;
    // Prefill: each sequence's prompt in mm.tokens tiles, tile j attending
    // to (j + 1) * mm.tokens positions (at most the prompt).
    uint64_t promptTiles = ceilDiv(p, t.mmTokens);
    double prefillCycles = 0;
    for (uint64_t j = 0; j < promptTiles; ++j)
      prefillCycles +=
          std::max(double(m.linearMacsPerToken) / mmPerCycle, portCycles) +
          double(t.mmTokens) * double(m.attentionMacsPerPosition) *
              double(std::min(p, (j + 1) * t.mmTokens)) / mm;
    computePrefill = double(k * b) * prefillCycles / hz;

    // Traffic. Every weight is streamed from HBM into the chip once per
    // MM tile (off-HBM weights are staged into HBM once per block: read on
    // their tier, written to HBM). KV rows are read where they live; DDR
    // is read directly (LD mem = ddr), host rows come over the link into
    // HBM first.
    auto traffic = [&](double weightStreams, double kvRead, double kvWrite,
                       Affine &hbm, Affine &ddr, Affine &host) {
      hbm.constant = (weightStreams * W + kvWrite) / hbmBW;
      hbm.coef[WD] = hbm.coef[WC] = W / hbmBW;
      hbm.coef[KH] = kvRead / hbmBW;
      hbm.coef[KC] = 2 * kvRead / hbmBW;
      ddr.coef[WD] = W / ddrBW;
      ddr.coef[KD] = kvRead / ddrBW;
      host.coef[WC] = W / hostBW;
      host.coef[KC] = kvRead / hostBW;
      if (w.emitted) {
        // Read in place: every weight stream reads the DDR share from DDR
        // and only the rest from HBM.
        hbm.coef[WD] = -weightStreams * W / hbmBW;
        ddr.coef[WD] = weightStreams * W / ddrBW;
      }
    };
    traffic(double(k * b * promptTiles), 0, double(k * b * p) * kv,
            hbmPrefill, ddrPrefill, hostPrefill);
    traffic(double(k) * tiles, double(k * b) * meanContext * kv,
            double(k * b) * kv, hbmDecode, ddrDecode, hostDecode);

    // The LM head stays in HBM: per step, one stream of its weights per
    // tile of sequences, or its compute.
    double headBytes = double(m.globalWeightBytes);
    double headCycles = decodeCycles(double(m.headMacsPerToken), headBytes);
    head = std::max(double(k) * tiles * headBytes / hbmBW,
                    double(k) * headCycles / hz);

    // Capacities: weights and the whole KV cache of the block at its
    // longest; HBM also holds the global weights and, for staged layers,
    // two layers' staging buffers (double buffering).
    double allWeights = double(m.layers) * W;
    uint64_t kvTokens = w.kvCapacityTokens ? w.kvCapacityTokens : p + n;
    double allKV = double(m.layers) * kv * double(k * b * kvTokens);
    for (int tier = 0; tier < kTiers; ++tier) {
      used[tier].coef[WH + tier] = allWeights;
      used[tier].coef[KH + tier] = allKV;
    }
    // The layout keeps K and V of KV head g in HBM channels 2g and 2g + 1
    // (mod the channels): the fullest channel holds ceil(2 Hkv / channels)
    // of them, and every channel must have that room (LLaMA2-13B's 80 over
    // 32 channels: 3 in some, 1.2x the even share).
    if (m.kvHeads && t.hbmChannels)
      used[0].coef[KH] *= double(ceilDiv(2 * m.kvHeads, t.hbmChannels)) *
                          double(t.hbmChannels) / double(2 * m.kvHeads);
    used[0].constant = headBytes;
    if (!w.emitted)
      used[0].coef[WD] += 2 * W;
    used[0].coef[WC] += 2 * W;
    double fraction = w.capacityFraction;
    capacity[0] = fraction * double(t.hbmBytes());
    capacity[1] =
        fraction * double(t.ddrBytes() > t.instructionMemoryBytes
                              ? t.ddrBytes() - t.instructionMemoryBytes
                              : 0);
    capacity[2] = fraction * double(t.hostBytes);
  }

  double blockSeconds(double prefill, double decode) const {
    return double(layers) * (prefill + double(steps - 1) * decode) +
           double(steps) * head;
  }

  OffloadPlan plan(const Placement &p, uint64_t b, uint64_t k) const {
    OffloadPlan r;
    r.model = footprint;
    r.batch = b, r.batches = k, r.placement = p;
    r.prefill = {computePrefill, hbmPrefill.at(p), ddrPrefill.at(p),
                 hostPrefill.at(p)};
    r.decode = {computeDecode, hbmDecode.at(p), ddrDecode.at(p),
                hostDecode.at(p)};
    r.headSeconds = head;
    r.blockSeconds = blockSeconds(r.prefill.time(), r.decode.time());
    r.tokensPerSecond = double(tokens) / r.blockSeconds;
    for (int t = 0; t < kTiers; ++t) {
      r.bytesUsed[t] = uint64_t(std::llround(used[t].at(p)));
      r.capacity[t] = uint64_t(std::llround(capacity[t]));
    }
    return r;
  }

  /// The tier whose capacity `p` exceeds most, or -1.
  int overflow(const Placement &p) const {
    int worst = -1;
    double excess = 0;
    for (int t = 0; t < kTiers; ++t) {
      double e = used[t].at(p) - capacity[t];
      if (e > 1 && e > excess)
        worst = t, excess = e;
    }
    return worst;
  }
};

/// Solves the LP for one block size; nullopt when it is infeasible.
std::optional<Placement> solve(const BlockModel &m,
                               const std::optional<Placement> &fixed) {
  glp_prob *lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MIN);
  // Columns 1..6: fractions; 7: prefill layer time; 8: decode layer time.
  glp_add_cols(lp, kFractions + 2);
  for (int c = 0; c < kFractions; ++c) {
    if (fixed) {
      double v = c < KH ? fixed->weights[c - WH] : fixed->kv[c - KH];
      glp_set_col_bnds(lp, c + 1, GLP_FX, v, v);
    } else if (m.emitted && (c == WC || c >= KH)) {
      // What the binary emits: the KV cache in HBM, no host tier.
      double v = c == KH ? 1 : 0;
      glp_set_col_bnds(lp, c + 1, GLP_FX, v, v);
    } else {
      glp_set_col_bnds(lp, c + 1, GLP_DB, 0, 1);
    }
  }
  int prefillCol = kFractions + 1, decodeCol = kFractions + 2;
  glp_set_col_bnds(lp, prefillCol, GLP_LO, m.computePrefill, 0);
  glp_set_col_bnds(lp, decodeCol, GLP_LO, m.computeDecode, 0);
  glp_set_obj_coef(lp, prefillCol, double(m.layers));
  glp_set_obj_coef(lp, decodeCol, double(m.layers) * double(m.steps - 1));
  // Among placements equally fast (compute-bound ones are many), keep data
  // in the faster tier: a penalty far below any time difference that
  // matters (1e-7 of the compute time per whole fraction moved).
  double tie = 1e-7 * m.blockSeconds(m.computePrefill, m.computeDecode);
  for (int c : {WD, KD})
    glp_set_obj_coef(lp, c + 1, tie);
  for (int c : {WC, KC})
    glp_set_obj_coef(lp, c + 1, 2 * tie);

  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0};
  auto addRow = [&](int type, double lo, double hi,
                    const std::array<double, kFractions> &coef, int timeCol) {
    int row = glp_add_rows(lp, 1);
    glp_set_row_bnds(lp, row, type, lo, hi);
    for (int c = 0; c < kFractions; ++c)
      if (coef[c] != 0)
        ia.push_back(row), ja.push_back(c + 1), ar.push_back(coef[c]);
    if (timeCol)
      ia.push_back(row), ja.push_back(timeCol), ar.push_back(1);
  };
  std::array<double, kFractions> weightsSum{}, kvSum{};
  weightsSum[WH] = weightsSum[WD] = weightsSum[WC] = 1;
  kvSum[KH] = kvSum[KD] = kvSum[KC] = 1;
  addRow(GLP_FX, 1, 1, weightsSum, 0);
  addRow(GLP_FX, 1, 1, kvSum, 0);
  // time - coef . x >= constant
  auto addTerm = [&](const Affine &a, int timeCol) {
    std::array<double, kFractions> neg;
    for (int c = 0; c < kFractions; ++c)
      neg[c] = -a.coef[c];
    addRow(GLP_LO, a.constant, 0, neg, timeCol);
  };
  for (const Affine *a : {&m.hbmPrefill, &m.ddrPrefill, &m.hostPrefill})
    addTerm(*a, prefillCol);
  for (const Affine *a : {&m.hbmDecode, &m.ddrDecode, &m.hostDecode})
    addTerm(*a, decodeCol);
  for (int t = 0; t < kTiers; ++t)
    addRow(GLP_UP, 0, m.capacity[t] - m.used[t].constant, m.used[t].coef, 0);
  glp_load_matrix(lp, int(ia.size()) - 1, ia.data(), ja.data(), ar.data());

  glp_smcp params;
  glp_init_smcp(&params);
  params.msg_lev = GLP_MSG_OFF;
  params.presolve = GLP_ON; // reports infeasibility instead of failing
  std::optional<Placement> result;
  if (glp_simplex(lp, &params) == 0 && glp_get_status(lp) == GLP_OPT) {
    Placement p;
    for (int t = 0; t < kTiers; ++t) {
      p.weights[t] = std::clamp(glp_get_col_prim(lp, WH + t + 1), 0.0, 1.0);
      p.kv[t] = std::clamp(glp_get_col_prim(lp, KH + t + 1), 0.0, 1.0);
    }
    result = p;
  }
  glp_delete_prob(lp);
  return result;
}

llvm::Error checkWorkload(const ModelFootprint &m, const Workload &w) {
  if (m.layers == 0)
    return createStringError("the model has no decoder layers to place");
  if (w.promptTokens == 0 || w.generatedTokens == 0)
    return createStringError(
        "the plan needs a prompt and at least one generated token");
  if (!(w.capacityFraction > 0 && w.capacityFraction <= 1))
    return createStringError("capacity fraction must be in (0, 1]");
  return llvm::Error::success();
}

/// Bytes in the largest binary unit that keeps a leading digit.
std::string gib(double bytes) {
  static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024)
    bytes /= 1024, ++u;
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format(u ? "%.2f %s" : "%.0f %s", bytes,
                                              units[u]);
  return s;
}

} // namespace

Expected<Placement> parsePlacement(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef, 4> parts;
  text.split(parts, ',');
  if (parts.size() != 4)
    return createStringError(
        "expected four percentages W_HBM,W_DDR,KV_HBM,KV_DDR (the host "
        "takes the rest of each), got '" + text.str() + "'");
  double v[4];
  for (int i = 0; i < 4; ++i) {
    if (parts[i].trim().getAsDouble(v[i]) || !(v[i] >= 0 && v[i] <= 100))
      return createStringError("percentage " + std::to_string(i + 1) + " '" +
                               parts[i].str() +
                               "' is not a number in [0, 100]");
  }
  if (v[0] + v[1] > 100 + 1e-9 || v[2] + v[3] > 100 + 1e-9)
    return createStringError("the weights' or the KV cache's HBM and DDR "
                             "percentages add up to more than 100 in '" +
                             text.str() + "'");
  Placement p;
  p.weights = {v[0] / 100, v[1] / 100, std::max(0.0, 1 - (v[0] + v[1]) / 100)};
  p.kv = {v[2] / 100, v[3] / 100, std::max(0.0, 1 - (v[2] + v[3]) / 100)};
  return p;
}

Expected<OffloadPlan> evaluatePlacement(const ModelFootprint &model,
                                        const target::TargetDescription &target,
                                        const Workload &workload,
                                        const Placement &placement,
                                        uint64_t batch, uint64_t batches) {
  if (auto err = checkWorkload(model, workload))
    return err;
  BlockModel m(model, target, workload, batch, batches);
  if (int t = m.overflow(placement); t >= 0)
    return createStringError(
        std::string("the placement needs ") + gib(m.used[t].at(placement)) +
        " of " + tierName(Tier(t)) + " for a block of " +
        std::to_string(batches) + " x " + std::to_string(batch) +
        " sequences, which has " + gib(m.capacity[t]) + " usable");
  return m.plan(placement, batch, batches);
}

Expected<OffloadPlan> planOffload(const ModelFootprint &model,
                                  const target::TargetDescription &target,
                                  const Workload &workload) {
  if (auto err = checkWorkload(model, workload))
    return err;
  auto candidates = [](uint64_t fixed, uint64_t max) {
    std::vector<uint64_t> v;
    if (fixed)
      return std::vector<uint64_t>{fixed};
    for (uint64_t x = 1; x <= std::max<uint64_t>(1, max); x *= 2)
      v.push_back(x);
    return v;
  };
  std::optional<OffloadPlan> best;
  for (uint64_t b : candidates(workload.batch, workload.maxBatch))
    for (uint64_t k : candidates(workload.batches, workload.maxBatches)) {
      BlockModel m(model, target, workload, b, k);
      std::optional<Placement> p = solve(m, workload.placement);
      if (!p)
        continue;
      OffloadPlan plan = m.plan(*p, b, k);
      // Ties go to the smaller block (shorter latency per user).
      if (!best || plan.tokensPerSecond > best->tokensPerSecond * (1 + 1e-9))
        best = plan;
    }
  if (best)
    return *best;

  // Nothing fits: say what the smallest block needs.
  uint64_t b = workload.batch ? workload.batch : 1;
  uint64_t k = workload.batches ? workload.batches : 1;
  BlockModel m(model, target, workload, b, k);
  // HBM must hold the global weights and, unless every layer lives there,
  // two layers' staging buffers.
  double hbmFloor =
      m.used[0].constant + std::min(double(model.layers),
                                    2.0) * double(model.layerWeightBytes);
  if (!workload.placement && hbmFloor > m.capacity[0])
    return createStringError(
        "no placement fits: HBM must hold the LM head and global tables (" +
        gib(m.used[0].constant) + ") and two layers' staging buffers (" +
        gib(2.0 * double(model.layerWeightBytes)) + "), and has " +
        gib(m.capacity[0]) + " usable");
  double need = m.used[0].constant + double(model.layers) *
                                         (double(model.layerWeightBytes) +
                                          double(model.kvBytesPerToken) *
                                              double(b * k *
                                                     (workload.promptTokens +
                                                      workload.generatedTokens)));
  double have = m.capacity[0] + m.capacity[1] + m.capacity[2];
  if (workload.emitted && !workload.placement)
    return createStringError(
        "no placement the binary can run fits: it keeps the LM head, the "
        "global tables (" + gib(m.used[0].constant) + ") and the KV cache of " +
        std::to_string(b) + " sequences (" + gib(m.used[0].coef[KH]) +
        ") in HBM, which has " + gib(m.capacity[0]) + " usable");
  if (workload.placement) {
    int t = m.overflow(*workload.placement);
    return createStringError(
        std::string("the placement does not fit ") +
        tierName(Tier(std::max(t, 0))) + ": it needs " +
        gib(m.used[std::max(t, 0)].at(*workload.placement)) + " of " +
        gib(m.capacity[std::max(t, 0)]) + " usable for a block of " +
        std::to_string(k) + " x " + std::to_string(b) + " sequences");
  }
  return createStringError(
      "no placement fits: a block of " + std::to_string(k) + " x " +
      std::to_string(b) + " sequences needs about " + gib(need) +
      " (weights and KV cache, plus HBM staging) and HBM, DDR and host "
      "offer " + gib(have) + " usable");
}

llvm::json::Object OffloadPlan::toJSON() const {
  auto stage = [](const StageTerms &s) {
    return llvm::json::Object{{"compute_s", s.compute}, {"hbm_s", s.hbm},
                              {"ddr_s", s.ddr},         {"host_s", s.host},
                              {"time_s", s.time()},     {"bound", s.bound()}};
  };
  llvm::json::Object tiers;
  for (int t = 0; t < kTiers; ++t)
    tiers[tierName(Tier(t))] = llvm::json::Object{
        {"weights_fraction", placement.weights[t]},
        {"kv_fraction", placement.kv[t]},
        {"bytes_used", int64_t(bytesUsed[t])},
        {"capacity_bytes", int64_t(capacity[t])}};
  return llvm::json::Object{
      {"model",
       llvm::json::Object{
           {"layers", int64_t(model.layers)},
           {"layer_weight_bytes", int64_t(model.layerWeightBytes)},
           {"global_weight_bytes", int64_t(model.globalWeightBytes)},
           {"kv_bytes_per_token_per_layer", int64_t(model.kvBytesPerToken)}}},
      {"batch", int64_t(batch)},
      {"batches", int64_t(batches)},
      {"tiers", std::move(tiers)},
      {"prefill_per_layer", stage(prefill)},
      {"decode_per_layer", stage(decode)},
      {"head_s_per_step", headSeconds},
      {"block_s", blockSeconds},
      {"tokens_per_s", tokensPerSecond},
      {"fits_in_hbm", fitsInHBM()}};
}

std::string OffloadPlan::describe() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "model: " << model.layers << " layers of " << gib(double(model.layerWeightBytes))
     << ", global weights " << gib(double(model.globalWeightBytes))
     << ", KV cache " << gib(double(model.kvBytesPerToken))
     << " per token and layer\n";
  os << llvm::format("block: %llu batches x %llu sequences\n",
                     (unsigned long long)batches, (unsigned long long)batch);
  os << "tier   weights   KV cache   used / usable\n";
  for (int t = 0; t < kTiers; ++t)
    os << llvm::format("%-5s  %6.1f%%   %6.1f%%    %s / %s\n",
                       tierName(Tier(t)), 100 * placement.weights[t],
                       100 * placement.kv[t], gib(double(bytesUsed[t])).c_str(),
                       gib(double(capacity[t])).c_str());
  auto stage = [&](const char *name, const StageTerms &st) {
    os << llvm::format("%-8s per layer %.3f ms (compute %.3f, HBM %.3f, "
                       "DDR %.3f, host link %.3f): %s bound\n",
                       name, 1e3 * st.time(), 1e3 * st.compute, 1e3 * st.hbm,
                       1e3 * st.ddr, 1e3 * st.host, st.bound());
  };
  stage("prefill", prefill);
  stage("decode", decode);
  os << llvm::format("block %.3f s, %.2f generated tokens/s\n", blockSeconds,
                     tokensPerSecond);
  return s;
}

} // namespace flightllm::offload
