//===- ModelLowering.cpp - Layouts, weight tiles and the HBM image --------===//

#include "Lowering.h"
#include "WeightData.h"

#include "flightllm/Dialect/LLM/Compression.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/Dialect/LLM/WeightQuantization.h"
#include "flightllm/ISA/Numerics.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/ADT/ScopeExit.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

namespace {

int64_t lastDim(Value v) { return cast<ShapedType>(v.getType()).getShape().back(); }

void putF32(uint8_t *p, float v) { std::memcpy(p, &v, 4); }
void putF16(uint8_t *p, float v) {
  uint16_t h = numerics::toF16(v);
  std::memcpy(p, &h, 2);
}

llm::WeightOp weightOf(Value v) { return v.getDefiningOp<llm::WeightOp>(); }

/// Runs fn(0..count-1) on the host's cores (work items are claimed in
/// order from a shared counter).
void parallelFor(int64_t count, const std::function<void(int64_t)> &fn) {
  unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 8));
  if (threads == 1 || count < 2) {
    for (int64_t i = 0; i < count; ++i)
      fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t i; (i = next.fetch_add(1)) < count;)
      fn(i);
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
}

} // namespace

ModelLowering::ModelLowering(ModuleOp module, ModelStructure structure,
                             const target::TargetDescription &target,
                             const LoweringOptions &options)
    : module(module), s(std::move(structure)), target(target), options(options) {}

Layout ModelLowering::layoutOf(Value v) const {
  auto it = layouts.find(v);
  return it != layouts.end() ? it->second : Layout::dense(lastDim(v));
}

LogicalResult ModelLowering::chooseLayouts() {
  auto assign = [&](Value v, Layout l, Operation *at) -> LogicalResult {
    auto [it, inserted] = layouts.try_emplace(v, l);
    if (!inserted && it->second != l)
      return at->emitError("a value is split into heads in two different ways");
    return success();
  };
  for (Operation *op : s.ops) {
    if (auto att = dyn_cast<llm::AttentionOp>(op)) {
      int64_t hq = att.getNumHeads(), hkv = att.getNumKvHeads();
      int64_t dh = lastDim(att.getQuery()) / hq;
      if (failed(assign(att.getQuery(), Layout::heads(hq, dh), op)) ||
          failed(assign(att.getKey(), Layout::heads(hkv, dh), op)) ||
          failed(assign(att.getValue(), Layout::heads(hkv, dh), op)) ||
          failed(assign(att.getOutput(), Layout::heads(hq, dh), op)))
        return failure();
    }
  }
  // Rope keeps its operand's layout; walk backwards through it.
  for (auto it = s.ops.rbegin(); it != s.ops.rend(); ++it)
    if (auto rope = dyn_cast<llm::RopeOp>(*it)) {
      Layout l = layoutOf(rope.getResult());
      if (l.groups == 1) {
        int64_t h = rope.getNumHeads();
        l = Layout::heads(h, lastDim(rope.getX()) / h);
        if (failed(assign(rope.getResult(), l, rope)))
          return failure();
      }
      if (failed(assign(rope.getX(), l, rope)))
        return failure();
    }
  // Element-wise ops: operands and result share one layout.
  for (Operation *op : s.ops)
    if ((llvm::isa<llm::AddOp, llm::MulOp, llm::SwiGLUOp, llm::SiluOp>(op) ||
        llvm::isa<llm::GeluOp, llm::GeluTanhOp, llm::ReluOp>(op))) {
      Layout l = layoutOf(op->getResult(0));
      for (Value v : op->getOperands())
        if (layoutOf(v).groups > 1)
          l = layoutOf(v);
      if (l.groups > 1)
        for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
          if (failed(assign(v, l, op)))
            return failure();
    }
  for (Operation *op : s.ops)
    if (llvm::isa<llm::LayerNormOp, llm::RMSNormOp>(op) &&
        layoutOf(op->getOperand(0)).groups > 1)
      return op->emitError("a norm over values split into heads is not supported");
  return success();
}

LogicalResult ModelLowering::checkOps() {
  for (Operation *op : s.ops) {
    if (auto lin = dyn_cast<llm::LinearOp>(op)) {
      if (!weightOf(lin.getWeight()) || (lin.getBias() && !weightOf(lin.getBias())))
        return op->emitError("linear weights must be llm.weight constants");
      continue;
    }
    if (auto logits = dyn_cast<llm::LogitsOp>(op)) {
      if (!weightOf(logits.getWeight()))
        return op->emitError("logits weights must be llm.weight constants");
      continue;
    }
    if (auto att = dyn_cast<llm::AttentionOp>(op)) {
      if (!att.getCausal())
        return op->emitError("only causal attention is supported");
      // One layer body serves every layer: one cache format for all.
      int64_t bits = int64_t(att.getKvBits());
      if (kvBits && bits != kvBits)
        return op->emitError()
               << "a " << bits << "-bit KV cache next to a " << kvBits
               << "-bit one: the accelerator lowering needs one KV-cache "
                  "width in every layer";
      kvBits = bits;
      int64_t dh = lastDim(att.getQuery()) / att.getNumHeads();
      auto ks = floatList(op->getAttr("k_scales"));
      auto vs = floatList(op->getAttr("v_scales"));
      int64_t want = att.getNumKvHeads() * dh;
      if ((ks.empty() || vs.empty()) && options.uncalibratedKVRange <= 0)
        return op->emitError("attention has no calibrated KV-cache scales "
                             "(k_scales/v_scales): compile with "
                             "--calibration=FILE, or --calibration=none to use "
                             "a fixed range");
      if ((!ks.empty() && int64_t(ks.size()) != want) ||
          (!vs.empty() && int64_t(vs.size()) != want))
        return op->emitError() << "k_scales/v_scales must have " << want
                               << " values";
      continue;
    }
    if (auto rope = dyn_cast<llm::RopeOp>(op)) {
      if (!rope.getPositions().getDefiningOp<llm::PositionIdsOp>() ||
          !weightOf(rope.getCos()) || !weightOf(rope.getSin()))
        return op->emitError("rope needs llm.position_ids positions and "
                             "constant cos/sin tables");
      if (rope.getPositions().getDefiningOp<llm::PositionIdsOp>().getOffset() != 0)
        return op->emitError("rope positions with an offset are not supported");
      continue;
    }
    if (auto emb = dyn_cast<llm::EmbeddingOp>(op)) {
      if (!weightOf(emb.getTable()))
        return op->emitError("embedding tables must be llm.weight constants");
      continue;
    }
    if (llvm::isa<llm::LayerNormOp, llm::RMSNormOp>(op)) {
      for (Value v : op->getOperands().drop_front())
        if (!weightOf(v))
          return op->emitError("norm parameters must be llm.weight constants");
      continue;
    }
    if ((llvm::isa<llm::AddOp, llm::MulOp, llm::SwiGLUOp, llm::SiluOp>(op) ||
        llvm::isa<llm::GeluOp, llm::GeluTanhOp, llm::ReluOp>(op))) {
      for (Value v : op->getOperands())
        if (weightOf(v))
          return op->emitError("element-wise ops on constants are not supported");
      continue;
    }
    return op->emitError() << "'" << op->getName()
                           << "' has no accelerator lowering";
  }
  for (BlockArgument arg : s.func.getArguments())
    if (auto t = dyn_cast<ShapedType>(arg.getType());
        t && t.hasRank() && t.getRank() > 0 && !t.isDynamicDim(0) &&
        t.getDimSize(0) != 1)
      return s.func.emitError("the accelerator runs batch 1");
  return success();
}

int64_t ModelLowering::keptPerBlock(int64_t keep, int64_t run) {
  if (run <= 0 || keep >= run)
    return 16;
  // Nonzeros a block of 16 can hold: M divides 16 (2:4 -> 8 of 16), or a
  // block lies inside one run of M (M a multiple of 16).
  int64_t need = 16 % run == 0   ? keep * (16 / run)
                 : run % 16 == 0 ? std::min<int64_t>(keep, 16)
                                 : 16;
  for (int64_t n : {2, 4, 8})
    if (need <= n)
      return n;
  return 16;
}

LogicalResult ModelLowering::checkWeightFormats() {
  for (Operation *op : s.ops) {
    if (!llvm::isa<llm::LinearOp, llm::LogitsOp>(op) ||
        !op->getAttr("weight_scales"))
      continue;
    llm::ProjectionFootprint f = llm::projectionFootprint(op);
    if (f.bits != 8 && f.bits != 4)
      return op->emitError() << f.bits << "-bit weight codes have no "
                                          "accelerator format (8 or 4)";
    if (f.run > 0 && 16 % f.run != 0 && f.run % 16 != 0)
      return op->emitError()
             << "sparsity " << f.keep << ":" << f.run
             << " does not map onto the accelerator's N:16 blocks (M must "
                "divide 16 or be a multiple of 16)";
    if (f.groupSize == 0)
      continue;
    if (f.groupSize % isa::kKBlock != 0)
      return op->emitError()
             << "group size " << f.groupSize
             << " is not a multiple of the accelerator's K block ("
             << isa::kKBlock << "): the DSP chain scales whole blocks";
    Layout in = layoutOf(op->getOperand(0));
    if (in.pad != in.size && (in.size % f.groupSize || in.pad % f.groupSize))
      return op->emitError()
             << "group size " << f.groupSize << " does not divide the head "
             << "dimension " << in.size << " and its padded width " << in.pad
             << " (groups may not straddle the padding between heads)";
  }
  return success();
}

LinearPlan ModelLowering::planLinear(Operation *op) {
  LinearPlan p;
  Value x = op->getOperand(0), w = op->getOperand(1);
  auto wt = cast<ShapedType>(w.getType());
  bool transposed = llvm::isa<llm::LinearOp>(op)
                        ? cast<llm::LinearOp>(op).getTransposeWeight()
                        : cast<llm::LogitsOp>(op).getTransposeWeight();
  p.kLogical = transposed ? wt.getDimSize(1) : wt.getDimSize(0);
  p.nLogical = transposed ? wt.getDimSize(0) : wt.getDimSize(1);
  p.in = layoutOf(x);
  p.out = layoutOf(op->getResult(0));
  p.kPhys = roundUp(p.in.physical(), isa::kKBlock);
  p.nPhys = p.out.physical();
  p.bias = llvm::isa<llm::LinearOp>(op) && cast<llm::LinearOp>(op).getBias();
  p.f32Out = llvm::isa<llm::LogitsOp>(op);
  if (op->getAttr("weight_scales")) {
    llm::ProjectionFootprint f = llm::projectionFootprint(op);
    p.bits = f.bits;
    p.groupSize = f.groupSize;
    p.zeroPoints = f.zeroPoints;
    p.kept = keptPerBlock(f.keep, f.run);
  }
  p.rowBytes = roundUp(numerics::BRow{nullptr, uint32_t(p.kPhys),
                                      uint32_t(p.kept), p.bits == 4}
                           .bytes(),
                       kRowBytes);
  // Four tiles in flight (two linears fused, double-buffered) share the
  // weight buffer; tiles are whole multiples of a row of outputs.
  uint64_t granule = kRowBytes / 2;
  uint64_t budget = target.weightBufferBytes / 4;
  uint64_t n = std::max<uint64_t>(granule, budget / p.rowBytes / granule * granule);
  n = std::min<uint64_t>(n, roundUp(p.nPhys, granule));
  n = std::min<uint64_t>(n, isa::MM::n.max() / granule * granule);
  p.tileN = static_cast<int64_t>(n);
  p.tiles = (p.nPhys + p.tileN - 1) / p.tileN;
  p.stripesPerTile = stripes;
  return p;
}

LogicalResult ModelLowering::packLinear(Operation *op, uintptr_t key,
                                        const std::string &name,
                                        ImagePacker &packer,
                                        std::map<ParamKey, HBMLoc> &locs) {
  LinearPlan p = planLinear(op);
  auto wOp = weightOf(op->getOperand(1));
  bool transposed = llvm::isa<llm::LinearOp>(op)
                        ? cast<llm::LinearOp>(op).getTransposeWeight()
                        : cast<llm::LogitsOp>(op).getTransposeWeight();
  Attribute scalesAttr = op->getAttr("weight_scales");
  bool quantized = bool(scalesAttr);
  llvm::ArrayRef<float> wf;
  llvm::ArrayRef<int8_t> wi;
  std::vector<float> fStore, scaleList;
  std::vector<int8_t> iStore, zeroStore;
  llvm::ArrayRef<int8_t> zeroList;
  llvm::ArrayRef<float> bias;
  std::vector<float> biasStore;
  if (packing) {
    bool ok = quantized ? viewI8(wOp.getValue(), wi, iStore)
                        : viewF32(wOp.getValue(), wf, fStore);
    if (!ok)
      return op->emitError() << "cannot read weight '" << wOp.getName() << "'";
    if (quantized)
      scaleList = floatList(scalesAttr);
    if (auto zp = op->getAttrOfType<ElementsAttr>("weight_zero_points"))
      if (!viewI8(zp, zeroList, zeroStore))
        return op->emitError("cannot read the weight zero points");
    if (p.bias && !viewF32(weightOf(op->getOperand(2)).getValue(), bias, biasStore))
      return op->emitError("cannot read the bias");
  }
  auto at = [&](int64_t c, int64_t k) -> size_t {
    return transposed ? size_t(c * p.kLogical + k) : size_t(k * p.nLogical + c);
  };
  // The physical input column of every logical one (identity unless the
  // input is split into padded heads).
  std::vector<int64_t> kPhysical(p.kLogical);
  for (int64_t k = 0; k < p.kLogical; ++k)
    kPhysical[k] = p.in.physicalIndex(k);
  // Quantize every tile (in parallel: tiles are independent), then place
  // them in order so the layout does not depend on the thread schedule.
  std::vector<std::vector<uint8_t>> tileData(packing ? p.tiles : 0);
  std::vector<std::vector<float>> tileScaleData(p.tiles);
  std::vector<std::vector<int8_t>> tileZeroData(p.tiles);
  // Compressed formats (docs/execution-model.md): the codes of a channel in
  // physical K order, packed per K block (INT4 nibbles, N:16 kept codes and
  // indices); per physical group its logical group (-1: head padding, scale
  // 0); 4-bit asymmetric codes [0, 15] are stored as two's-complement
  // nibbles code - 8, with the zero point shifted alike.
  bool compressed = quantized && (p.bits != 8 || p.kept != 16 || p.grouped());
  int64_t groups = p.groups(), logicalGroups = p.groupSize ? p.kLogical / p.groupSize : 1;
  std::vector<int64_t> groupLogical(groups, 0);
  for (int64_t j = 0; p.groupSize && j < groups; ++j) {
    int64_t k = p.in.logicalIndex(j * p.groupSize);
    groupLogical[j] = k < 0 || k >= p.kLogical ? -1 : k / p.groupSize;
  }
  int shift = p.bits == 4 && p.zeroPoints ? 8 : 0;
  std::atomic<int64_t> overfullChannel{-1};
  auto logicalOf = [&](int64_t t) {
    int64_t c0 = t * p.tileN, n = p.tileChannels(t);
    std::vector<int64_t> logical(n);
    for (int64_t i = 0; i < n; ++i)
      logical[i] = p.out.logicalIndex(c0 + i);
    return logical;
  };
  auto quantizeTile = [&](int64_t t) {
    int64_t n = p.tileChannels(t);
    std::vector<int64_t> logical = logicalOf(t);
    std::vector<float> &tileScales = tileScaleData[t];
    tileScales.assign(n, 1.0f);
    tileData[t].resize(n * p.rowBytes);
    uint8_t *dst = tileData[t].data();
      std::memset(dst, 0, n * p.rowBytes);
      // Walk the weights in their storage order: [N][K] channel by channel,
      // [K][N] input row by input row (contiguous over the tile's channels).
      auto put = [&](int64_t i, int64_t k, int8_t q) {
        reinterpret_cast<int8_t *>(dst + i * p.rowBytes)[kPhysical[k]] = q;
      };
      if (compressed) {
        std::vector<int8_t> &tileZeros = tileZeroData[t];
        tileScales.assign(n * groups, 0.0f);
        tileZeros.assign(p.zeroPoints ? n * groups : 0, 0);
        std::vector<int8_t> codes(p.kPhys), blockZero(p.kPhys / isa::kKBlock);
        for (int64_t i = 0; i < n; ++i) {
          int64_t c = logical[i];
          if (c < 0)
            continue;
          for (int64_t j = 0; j < groups; ++j) {
            int64_t lg = groupLogical[j];
            if (lg < 0)
              continue;
            tileScales[i * groups + j] = scaleList[c * logicalGroups + lg];
            if (p.zeroPoints)
              tileZeros[i * groups + j] =
                  int8_t(zeroList[c * logicalGroups + lg] - shift);
          }
          for (int64_t b = 0; b < int64_t(blockZero.size()); ++b)
            blockZero[b] = p.zeroPoints
                               ? tileZeros[i * groups +
                                           (p.groupSize ? b * isa::kKBlock / p.groupSize : 0)]
                               : 0;
          for (int64_t k = 0; k < p.kPhys; ++k)
            codes[k] = blockZero[k / isa::kKBlock];
          for (int64_t k = 0; k < p.kLogical; ++k)
            codes[kPhysical[k]] = int8_t(wi[at(c, k)] - shift);
          if (!numerics::packBRow(codes.data(), uint32_t(p.kPhys),
                                  uint32_t(p.kept), p.bits == 4,
                                  blockZero.data(), dst + i * p.rowBytes))
            overfullChannel = c;
        }
        return;
      }
      if (quantized) {
        for (int64_t i = 0; i < n; ++i)
          if (logical[i] >= 0)
            tileScales[i] = scaleList[logical[i]];
        if (transposed) {
          for (int64_t i = 0; i < n; ++i)
            if (logical[i] >= 0)
              for (int64_t k = 0; k < p.kLogical; ++k)
                put(i, k, wi[at(logical[i], k)]);
        } else {
          for (int64_t k = 0; k < p.kLogical; ++k)
            for (int64_t i = 0; i < n; ++i)
              if (logical[i] >= 0)
                put(i, k, wi[at(logical[i], k)]);
        }
        return;
      }
      std::vector<float> maxAbs(n, 0.0f);
      if (transposed) {
        // [N][K]: each channel's weights are contiguous.
        for (int64_t i = 0; i < n; ++i) {
          if (logical[i] < 0)
            continue;
          const float *w = wf.data() + logical[i] * p.kLogical;
          float m = 0;
          for (int64_t k = 0; k < p.kLogical; ++k)
            m = std::max(m, std::abs(w[k]));
          tileScales[i] = llm::weightChannelScale(m);
          int8_t *row = reinterpret_cast<int8_t *>(dst + i * p.rowBytes);
          for (int64_t k = 0; k < p.kLogical; ++k)
            row[kPhysical[k]] = llm::quantizeWeight(w[k], tileScales[i]);
        }
        return;
      }
      // [K][N]: walk input rows, contiguous over the tile's channels.
      for (int64_t k = 0; k < p.kLogical; ++k) {
        const float *w = wf.data() + k * p.nLogical;
        for (int64_t i = 0; i < n; ++i)
          if (logical[i] >= 0)
            maxAbs[i] = std::max(maxAbs[i], std::abs(w[logical[i]]));
      }
      for (int64_t i = 0; i < n; ++i)
        tileScales[i] = llm::weightChannelScale(maxAbs[i]);
      for (int64_t k = 0; k < p.kLogical; ++k) {
        const float *w = wf.data() + k * p.nLogical;
        int64_t kp = kPhysical[k];
        for (int64_t i = 0; i < n; ++i)
          if (logical[i] >= 0)
            reinterpret_cast<int8_t *>(dst + i * p.rowBytes)[kp] =
                llm::quantizeWeight(w[logical[i]], tileScales[i]);
      }
  };
  if (packing)
    parallelFor(p.tiles, quantizeTile);
  if (overfullChannel >= 0)
    return op->emitError() << "weight '" << wOp.getName() << "' channel "
                           << overfullChannel.load() << " has more than "
                           << p.kept << " nonzero codes in a block of "
                           << isa::kKBlock << " (its sparsity claim is wrong)";
  uint64_t imageBytes = 0;
  for (int64_t t = 0; t < p.tiles; ++t) {
    int64_t n = p.tileChannels(t);
    std::vector<int64_t> logical = logicalOf(t);
    std::vector<float> tileScales =
        packing ? tileScaleData[t] : std::vector<float>(n * groups, 1.0f);
    static const std::vector<uint8_t> none;
    const std::vector<uint8_t> &tileBytes = packing ? tileData[t] : none;
    HBMLoc wl;
    // A DDR tile is striped over the DDR channels instead.
    bool toDDR = packingLayerBody && ddrPacker &&
                 takeForDDR(uint64_t(n) * p.rowBytes);
    LinearPlan sp = p;
    if (toDDR)
      sp.stripesPerTile = ddrPacker->channels();
    ImagePacker &tilePacker = toDDR ? *ddrPacker : packer;
    int64_t rows = sp.stripeRows(n);
    std::string tileName = name + ".w" + std::to_string(t);
    for (int64_t st = 0; st < sp.stripes(n); ++st) {
      int64_t r0 = st * rows, r1 = std::min(n, r0 + rows);
      HBMLoc sl = tilePacker.place((r1 - r0) * p.rowBytes, [&](uint8_t *dst) {
        std::memcpy(dst, tileBytes.data() + r0 * p.rowBytes, (r1 - r0) * p.rowBytes);
      });
      locs[{key, 0, LinearPlan::stripeKey(t, st)}] = sl;
      recordPlace(tileName, sl, tileName + ".s" + std::to_string(st),
                  r0 * p.rowBytes);
      if (st == 0)
        wl = sl;
    }
    // The scales and biases go with their tile, in the same channel (those
    // of a DDR tile stay in HBM, dealt round-robin).
    uint32_t un = uint32_t(n), ug = uint32_t(groups);
    uint64_t scalesAt = p.grouped() ? numerics::groupedScalesOffset() : 0;
    uint64_t biasAt = p.grouped()
                          ? numerics::groupedBiasOffset(un, ug, p.zeroPoints)
                          : roundUp(4 * n, kRowBytes);
    locs[{key, 1, int(t)}] = packer.place(p.metaBytes(n), [&](uint8_t *dst) {
      std::memset(dst, 0, p.metaBytes(n));
      if (p.grouped()) {
        numerics::GroupHeader h{uint32_t(p.groupSize / isa::kKBlock),
                                p.zeroPoints ? 1u : 0u};
        std::memcpy(dst, &h, sizeof(h));
        if (p.zeroPoints)
          std::memcpy(dst + numerics::groupedZeroPointsOffset(un, ug),
                      tileZeroData[t].data(), tileZeroData[t].size());
      }
      for (int64_t i = 0; i < n * groups; ++i)
        putF32(dst + scalesAt + 4 * i, tileScales[i]);
      for (int64_t i = 0; p.bias && i < n; ++i)
        if (logical[i] >= 0)
          putF32(dst + biasAt + 4 * i, bias[logical[i]]);
    }, toDDR ? -1 : static_cast<int>(wl.channel));
    recordPlace(name + ".scales" + std::to_string(t), locs[{key, 1, int(t)}]);
    if (packing)
      std::vector<uint8_t>().swap(tileData[t]);
    recordQuant((wOp.getName() + "[" + llvm::Twine(t * p.tileN) + ":" +
                 llvm::Twine(t * p.tileN + n) + "]")
                    .str(),
                locs[{key, 1, int(t)}], scalesAt,
                static_cast<uint32_t>(n * groups), binary::Precision::F32,
                p.bits == 4 ? binary::Precision::I4 : binary::Precision::I8,
                uint32_t(p.groupSize), p.zeroPoints);
    imageBytes += n * p.rowBytes + p.metaBytes(n);
  }
  if (packing && packingGroupLeader()) {
    LoweredModel::WeightFormatInfo f;
    f.name = llm::projectionName(op);
    f.bits = uint32_t(p.bits);
    f.groupSize = uint32_t(p.groupSize);
    f.kept = uint32_t(p.kept);
    f.zeroPoints = p.zeroPoints;
    f.bytes = imageBytes;
    f.perLayer = packingLayer >= 0;
    if (f.perLayer) {
      const ModelStructure::LayerGroup &g = s.groups[s.groupOf(packingLayer)];
      f.firstLayer = g.first;
      f.layers = g.count;
    }
    result.weightFormats.push_back(std::move(f));
  }
  if (packing) {
    if (!wf.empty())
      releasePages(wf.data(), wf.size() * 4);
    if (!wi.empty())
      releasePages(wi.data(), wi.size());
  }
  if (!packing)
    return success();
  // Stored code bytes: INT8 one per weight, INT4 half, sparse N of 16 codes
  // plus a 4-bit index each.
  uint64_t codes = uint64_t(p.kLogical) * p.nLogical * p.kept / 16;
  result.quantizedWeightBytes +=
      (p.bits == 4 ? codes / 2 : codes) + (p.kept < 16 ? codes / 2 : 0);
  return success();
}

std::string ModelLowering::paramName(Operation *op, size_t index,
                                     StringRef prefix) {
  return prefix.str() + op->getName().stripDialect().str() +
         std::to_string(index);
}

void ModelLowering::recordPlace(const std::string &region, const HBMLoc &loc,
                                const std::string &piece, uint64_t within) {
  if (!packing || !packingGroupLeader())
    return;
  places[region].push_back({piece.empty() ? region : piece, loc, within});
}

void ModelLowering::recordQuant(const std::string &name, const HBMLoc &loc,
                                uint64_t within, uint32_t count,
                                binary::Precision scales,
                                binary::Precision precision,
                                uint32_t groupSize, bool zeroPoints) {
  if (!packing || !packingGroupLeader())
    return;
  LoweredModel::QuantInfo q;
  q.name = name;
  q.channel = loc.channel;
  // A group's record describes its first layer (the one its name names).
  q.offset = (loc.perLayer ? globalBytes + packingLayer * layerStride : 0) +
             loc.offset + within;
  q.count = count;
  q.scalePrecision = scales;
  q.precision = precision;
  q.groupSize = groupSize;
  q.zeroPoints = zeroPoints;
  result.quantParams.push_back(q);
}

HBMLoc ModelLowering::packNorm(Operation *op, ImagePacker &packer) {
  // gamma fp16, (beta fp16), eps fp32, each starting on a row (the MISC
  // layernorm/rmsnorm parameter layout).
  bool ln = llvm::isa<llm::LayerNormOp>(op);
  int64_t d = lastDim(op->getOperand(0));
  uint64_t g = roundUp(2 * d, kRowBytes);
  uint64_t bytes = g * (ln ? 2 : 1) + kRowBytes;
  std::vector<float> gs, bs;
  llvm::ArrayRef<float> gamma, beta;
  if (packing) {
    viewF32(weightOf(op->getOperand(1)).getValue(), gamma, gs);
    if (ln && op->getNumOperands() > 2)
      viewF32(weightOf(op->getOperand(2)).getValue(), beta, bs);
  }
  float eps = ln ? cast<llm::LayerNormOp>(op).getEpsilon().convertToFloat()
                 : cast<llm::RMSNormOp>(op).getEpsilon().convertToFloat();
  return packer.place(bytes, [&](uint8_t *dst) {
    std::memset(dst, 0, bytes);
    for (int64_t i = 0; i < d; ++i) {
      putF16(dst + 2 * i, gamma[i]);
      if (ln)
        putF16(dst + g + 2 * i, beta.empty() ? 0.0f : beta[i]);
    }
    putF32(dst + g * (ln ? 2 : 1), eps);
  });
}

LogicalResult ModelLowering::packGlobals(ImagePacker &packer) {
  uint32_t rowBytesD = Layout::dense(hidden).rowsPerToken() * kRowBytes;
  // Token embedding table: fp16 rows in the binary itself, not in HBM (a
  // 7B model's table alone nearly fills a pseudo-channel); the runtime
  // copies the rows of the new tokens to the input rows. A later pipeline
  // stage receives hidden states instead and has no table.
  if (packing && options.stage.prologue) {
    std::vector<float> store;
    llvm::ArrayRef<float> table;
    auto w = weightOf(tokenEmbedding->getOperand(0));
    if (!viewF32(w.getValue(), table, store))
      return tokenEmbedding->emitError("cannot read the embedding table");
    result.embeddingTable.assign(uint64_t(vocab) * rowBytesD, 0);
    uint8_t *dst = result.embeddingTable.data();
    for (int64_t r = 0; r < vocab; ++r)
      for (int64_t d = 0; d < hidden; ++d)
        putF16(dst + r * rowBytesD + 2 * d, table[r * hidden + d]);
    releasePages(table.data(), table.size() * 4);
  }
  if (positionEmbedding) {
    std::vector<float> store;
    llvm::ArrayRef<float> table;
    auto w = weightOf(positionEmbedding->getOperand(0));
    int64_t rows = cast<ShapedType>(w.getType()).getDimSize(0);
    if (packing && !viewF32(w.getValue(), table, store))
      return positionEmbedding->emitError("cannot read the position table");
    uint64_t need = uint64_t(kvRows + positionOffset);
    positionTable = packer.place(need * rowBytesD, [&](uint8_t *dst) {
      std::memset(dst, 0, need * rowBytesD);
      for (int64_t r = 0; r < std::min<int64_t>(rows, need); ++r)
        for (int64_t d = 0; d < hidden; ++d)
          putF16(dst + r * rowBytesD + 2 * d, table[r * hidden + d]);
    });
    recordPlace("position_table", positionTable);
  }
  if (ropeCos) {
    std::vector<float> cs, ss;
    llvm::ArrayRef<float> cosT, sinT;
    auto cw = cast<llm::WeightOp>(ropeCos), sw = cast<llm::WeightOp>(ropeSin);
    int64_t rows = cast<ShapedType>(cw.getType()).getDimSize(0);
    if (packing && (!viewF32(cw.getValue(), cosT, cs) || !viewF32(sw.getValue(), sinT, ss)))
      return cw->emitError("cannot read the rotary tables");
    uint64_t half = roundUp(4 * headDim, kRowBytes);
    ropeRowBytes = 2 * half;
    ropeTable = packer.place(uint64_t(kvRows) * ropeRowBytes, [&](uint8_t *dst) {
      std::memset(dst, 0, uint64_t(kvRows) * ropeRowBytes);
      for (int64_t r = 0; r < std::min<int64_t>(rows, kvRows); ++r)
        for (int64_t j = 0; j < headDim; ++j) {
          putF32(dst + r * ropeRowBytes + 4 * j, cosT[r * headDim + j]);
          putF32(dst + r * ropeRowBytes + half + 4 * j, sinT[r * headDim + j]);
        }
    });
    recordPlace("rope_table", ropeTable);
  }
  // Constants: the softmax scale row, then ones for the score scales.
  constants = packer.place(kRowBytes + roundUp(4ull * kvRows, kRowBytes), [&](uint8_t *dst) {
    std::memset(dst, 0, kRowBytes + roundUp(4ull * kvRows, kRowBytes));
    putF32(dst, softmaxScale);
    for (uint32_t i = 0; i < kvRows; ++i)
      putF32(dst + kRowBytes + 4 * i, 1.0f);
  });
  recordPlace("constants", constants);
  // Epilogue parameters (only on the stage that runs the epilogue).
  for (auto [index, op] : llvm::enumerate(
           options.stage.epilogue ? s.epilogue()
                                  : llvm::ArrayRef<Operation *>())) {
    uintptr_t key = reinterpret_cast<uintptr_t>(op);
    if (llvm::isa<llm::LogitsOp>(op)) {
      if (failed(packLinear(op, key, "head", packer, globalLocs)))
        return failure();
      continue;
    }
    globalLocs[{key, 2, 0}] = packNorm(op, packer);
    recordPlace(paramName(op, index, "final."), globalLocs[{key, 2, 0}]);
  }
  return success();
}

bool ModelLowering::takeForDDR(uint64_t bytes) {
  uint64_t percent = options.ddrWeightPercent;
  ddrSeen += bytes;
  // taken + bytes / 2 <= percent / 100 * seen, in integers.
  if (200 * ddrTaken + 100 * bytes > 2 * percent * ddrSeen)
    return false;
  ddrTaken += bytes;
  return true;
}

LogicalResult ModelLowering::packLayer(unsigned layer, ImagePacker &packer) {
  // Every layer deals its tiles to DDR from the same start, so the layers
  // of a group share one placement.
  ddrSeen = ddrTaken = 0;
  packingLayerBody = true;
  llvm::scope_exit done([&] { packingLayerBody = false; });
  llvm::ArrayRef<Operation *> ops = s.layerOps(layer);
  unsigned group = s.groupOf(layer);
  std::string prefix = layerPrefix(group);
  for (size_t j = 0; j < ops.size(); ++j) {
    Operation *op = ops[j];
    if (llvm::isa<llm::LinearOp>(op)) {
      if (failed(packLinear(op, j, paramName(op, j, prefix), packer, layerLocs)))
        return failure();
    } else if (llvm::isa<llm::LayerNormOp, llm::RMSNormOp>(op)) {
      layerLocs[{j, 2, 0}] = packNorm(op, packer);
      recordPlace(paramName(op, j, prefix), layerLocs[{j, 2, 0}]);
    } else if (auto att = dyn_cast<llm::AttentionOp>(op)) {
      int64_t hkv = att.getNumKvHeads(), dh = headDim;
      int64_t dhPad = Layout::heads(1, dh).pad;
      std::vector<float> ks = floatList(op->getAttr("k_scales"));
      std::vector<float> vs = floatList(op->getAttr("v_scales"));
      // Uncalibrated: the fixed range over the largest code (7 for 4-bit keys).
      float fallback =
          options.uncalibratedKVRange / (att.getKvBits() == 4 ? 7.0f : 127.0f);
      if (ks.empty())
        ks.assign(hkv * dh, fallback);
      if (vs.empty())
        vs.assign(hkv * dh, fallback);
      // Per kv head: k scale fp16 (for q), 1/k scale fp32, 1/v scale fp32,
      // v scale fp32 (PV output scales, zero on padding channels).
      uint64_t a = roundUp(2 * dh, kRowBytes), b = roundUp(4 * dh, kRowBytes),
               c = roundUp(4 * dhPad, kRowBytes);
      // A 4-bit cache has per-token value scales, folded into the
      // probabilities: its PV output scales are 1 (docs/execution-model.md).
      bool kv4 = att.getKvBits() == 4;
      for (int64_t g = 0; g < hkv; ++g) {
        HBMLoc kvLoc = packer.place(a + 2 * b + c, [&](uint8_t *dst) {
          std::memset(dst, 0, a + 2 * b + c);
          for (int64_t i = 0; i < dh; ++i) {
            float k = ks[g * dh + i], v = vs[g * dh + i];
            putF16(dst + 2 * i, k);
            putF32(dst + a + 4 * i, 1.0f / k);
            putF32(dst + a + b + 4 * i, 1.0f / v);
            putF32(dst + a + 2 * b + 4 * i, kv4 ? 1.0f : v);
          }
        });
        layerLocs[{j, 3, int(g)}] = kvLoc;
        recordPlace(prefix + "attention" + std::to_string(j) + ".kv_params" +
                        std::to_string(g),
                    kvLoc);
        std::string head = (group ? prefix : "") + "attention" +
                           std::to_string(j) + ".kv_head" + std::to_string(g);
        if (kv4) {
          // Keys: 4-bit codes with these per-channel scales; values: 4-bit
          // codes with one fp16 scale per token (a group of dh), kept in the
          // cache next to the value rows, none in the image.
          recordQuant(head + ".k_scales", kvLoc, 0, static_cast<uint32_t>(dh),
                      binary::Precision::F16, binary::Precision::I4);
          recordQuant(head + ".v_scales", kvLoc, a + 2 * b, 0,
                      binary::Precision::F16, binary::Precision::I4,
                      static_cast<uint32_t>(dh));
          continue;
        }
        recordQuant(head + ".k_scales", kvLoc, 0, static_cast<uint32_t>(dh),
                    binary::Precision::F16);
        recordQuant(head + ".v_scales", kvLoc, a + 2 * b,
                    static_cast<uint32_t>(dh), binary::Precision::F32);
      }
    }
  }
  return success();
}

void ModelLowering::sizeRunTimeAreas() {
  auto &dm = result.deviceMap;
  dm.embedRowBytes = Layout::dense(hidden).rowsPerToken() * kRowBytes;
  dm.vocab = vocab;
  dm.hiddenSize = hidden;
  dm.inputRows = roundUp(maxContext, options.prefillBucket);
  dm.logitsCount = vocab;
  dm.decodeBatch = options.batch > 1 ? options.batch : 0;
}

void ModelLowering::placeRunTimeAreas() {
  unsigned nch = target.hbmChannels;
  uint64_t top = globalBytes + uint64_t(s.numLayers) * layerStride;
  kvOrigin = roundUp(top, kUnitBytes);
  uint64_t rowKV = kvRowBytes();
  std::vector<uint64_t> used(nch, 0);
  kvOffset.assign(2 * numKVHeads, 0);
  kvChannel.assign(2 * numKVHeads, 0);
  for (int64_t i = 0; i < 2 * numKVHeads; ++i) {
    unsigned ch = i % nch;
    kvChannel[i] = ch;
    kvOffset[i] = used[ch];
    used[ch] += uint64_t(kvRows) * rowKV;
  }
  // A 4-bit cache keeps each kv head's fp16 value scales, one per position,
  // in the channel of its value rows.
  vsOffset.assign(kvBits == 4 ? numKVHeads : 0, 0);
  for (int64_t g = 0; g < int64_t(vsOffset.size()); ++g) {
    vsOffset[g] = used[kvChannel[2 * g + 1]];
    used[kvChannel[2 * g + 1]] += kvScaleBytes();
  }
  result.kvBits = kvBits == 4 ? 4 : 8;
  result.kvBytesPerToken =
      uint64_t(s.numLayers) * uint64_t(numKVHeads) *
      (2 * rowKV + (kvBits == 4 ? 2 : 0));
  kvStride = 0;
  for (uint64_t u : used)
    kvStride = std::max(kvStride, u);
  kvStride = roundUp(kvStride, kUnitBytes);
  // Each KV-cache slot holds every layer's cache; slot s is s strides on.
  uint32_t slots = std::max<uint32_t>(options.kvSlots, 1);
  kvSlotStride = kvStride * s.numLayers;
  result.kvCacheBytes = kvSlotStride * nch * slots;
  uint64_t io = kvOrigin + kvSlotStride * slots;
  if (slots > 1) {
    result.metadata.kvSlots = slots;
    result.metadata.kvSlotStrideUnits =
        static_cast<uint32_t>(kvSlotStride / kUnitBytes);
  }
  auto &dm = result.deviceMap;
  uint32_t rowBytesD = dm.embedRowBytes;
  // Input rows, logits and the prefill spill area, each in its own channel
  // when there are enough.
  std::vector<uint64_t> cursor(nch, io);
  auto take = [&](unsigned ch, uint64_t bytes) {
    uint64_t at = cursor[ch];
    cursor[ch] += roundUp(bytes, kUnitBytes);
    return at;
  };
  dm.inputChannel = 0;
  dm.inputOffset = take(0, uint64_t(dm.inputRows) * rowBytesD);
  dm.logitsChannel = 1 % nch;
  dm.logitsOffset = take(dm.logitsChannel, logitsAreaBytes());
  // The prefill spill area: one row per prompt position, so that one LD with
  // param S picks row S - 1 whichever tile computed it (docs/lowering.md).
  // The row in front of it keeps that LD's base address inside the channel.
  scratchChannel = 2 % nch;
  take(scratchChannel, rowBytesD);
  scratchOffset = take(scratchChannel, uint64_t(dm.inputRows) * rowBytesD);
  // A pipeline stage without the epilogue hands its layer output rows to
  // the next card from the spill area (every tile stores its rows there).
  dm.stageFlags = (options.stage.prologue ? 0 : binary::kStageHiddenInput) |
                  (options.stage.epilogue ? 0 : binary::kStageHiddenOutput);
  if (!options.stage.epilogue) {
    dm.outputChannel = scratchChannel;
    dm.outputOffset = scratchOffset;
  }
  runTimeEnd = 0;
  for (uint64_t c : cursor)
    runTimeEnd = std::max(runTimeEnd, c);

  // The regions instruction selection names.
  auto place = [&](const std::string &name, uint32_t channel, uint64_t offset,
                   uint64_t bytes) {
    places[name] = {{name, HBMLoc{channel, offset, bytes, false}, 0}};
  };
  place("input", dm.inputChannel, dm.inputOffset,
        uint64_t(dm.inputRows) * rowBytesD);
  place("logits", dm.logitsChannel, dm.logitsOffset, logitsAreaBytes());
  place("spill", scratchChannel, scratchOffset - rowBytesD,
        rowBytesD + uint64_t(dm.inputRows) * rowBytesD);
  for (auto [j, op] : llvm::enumerate(s.layerOps(0)))
    if (llvm::isa<llm::AttentionOp>(op))
      for (int64_t i = 0; i < 2 * numKVHeads; ++i)
        place("layer.attention" + std::to_string(j) + (i % 2 ? ".v" : ".k") +
                  std::to_string(i / 2),
              kvChannel[i], kvOffset[i], uint64_t(kvRows) * rowKV);
  for (auto [j, op] : llvm::enumerate(s.layerOps(0)))
    if (llvm::isa<llm::AttentionOp>(op))
      for (int64_t g = 0; g < int64_t(vsOffset.size()); ++g)
        place("layer.attention" + std::to_string(j) + ".vs" + std::to_string(g),
              kvChannel[2 * g + 1], vsOffset[g], kvScaleBytes());
}

LogicalResult ModelLowering::selectBuckets(std::vector<BucketRange> &buckets) {
  auto stageName = [](binary::Stage st) {
    return st == binary::Stage::Prefill ? "prefill" : "decode";
  };
  if (!options.onlyBuckets.empty()) {
    for (auto &[stage, len] : options.onlyBuckets) {
      if (llvm::any_of(buckets, [&](const BucketRange &b) {
            return b.stage == stage && b.maxLength == len;
          }))
        continue;
      // The valid ends: every width tokens, the last one at the context.
      std::vector<uint32_t> ends;
      for (const BucketRange &b : buckets)
        if (b.stage == stage)
          ends.push_back(b.maxLength);
      std::string list = std::to_string(ends[0]);
      if (ends.size() > 3)
        list += ", " + std::to_string(ends[1]) + ", ..., " +
                std::to_string(ends.back());
      else
        for (size_t i = 1; i < ends.size(); ++i)
          list += ", " + std::to_string(ends[i]);
      return s.func.emitError()
             << "bucket selection " << stageName(stage) << ":" << len
             << " selects no bucket: the " << stageName(stage)
             << " buckets end at " << list;
    }
    llvm::erase_if(buckets, [&](const BucketRange &b) {
      return !llvm::is_contained(options.onlyBuckets,
                                 std::make_pair(b.stage, b.maxLength));
    });
  }
  if (options.runnable)
    for (binary::Stage stage : {binary::Stage::Prefill, binary::Stage::Decode})
      if (llvm::none_of(buckets,
                        [&](const BucketRange &b) { return b.stage == stage; }))
        return s.func.emitError()
               << "the bucket selection has no " << stageName(stage)
               << " bucket: a binary needs at least one prefill and one "
                  "decode bucket (a subset of the streams can be inspected "
                  "with --emit=flight)";
  return success();
}

LogicalResult ModelLowering::prepare() {
  if (options.cores == 0)
    options.cores = static_cast<uint32_t>(target.cores);
  if (options.cores > target.cores)
    return s.func->emitError()
           << "--cores=" << options.cores << ": the target has "
           << target.cores << " cores";
  // A pipeline stage lowers a range of whole layers (lib/System plans them).
  const PipelineStageRange &stage = options.stage;
  if (stage.layerCount != 0) {
    if (stage.firstLayer >= s.totalLayers ||
        stage.layerCount > s.totalLayers - stage.firstLayer)
      return s.func.emitError()
             << "pipeline stage layers [" << stage.firstLayer << ", "
             << stage.firstLayer + stage.layerCount << ") exceed the model's "
             << s.totalLayers << " decoder layers";
    s.restrictToLayers(stage.firstLayer, stage.layerCount);
  }
  if (failed(checkOps()) || failed(chooseLayouts()) ||
      failed(checkWeightFormats()))
    return failure();
  // Model facts.
  for (Operation *op : s.prologue()) {
    auto emb = dyn_cast<llm::EmbeddingOp>(op);
    if (!emb)
      continue;
    if (auto pos = emb.getIds().getDefiningOp<llm::PositionIdsOp>()) {
      positionEmbedding = op;
      positionOffset = pos.getOffset();
    } else if (llvm::isa<BlockArgument>(emb.getIds())) {
      tokenEmbedding = op;
    }
  }
  if (!tokenEmbedding)
    return s.func.emitError("no token embedding of the input ids");
  auto tableType = cast<ShapedType>(tokenEmbedding->getOperand(0).getType());
  vocab = tableType.getDimSize(0);
  hidden = tableType.getDimSize(1);
  for (Operation *op : s.layerOps(0)) {
    if (auto att = dyn_cast<llm::AttentionOp>(op)) {
      numHeads = att.getNumHeads();
      numKVHeads = att.getNumKvHeads();
      headDim = lastDim(att.getQuery()) / numHeads;
      softmaxScale = att.getScale().convertToFloat();
    }
    if (auto rope = dyn_cast<llm::RopeOp>(op)) {
      ropeCos = rope.getCos().getDefiningOp();
      ropeSin = rope.getSin().getDefiningOp();
    }
    if (auto lin = dyn_cast<llm::LinearOp>(op))
      intermediate = std::max(intermediate, lastDim(lin.getResult()));
  }
  if (auto logits = dyn_cast<llm::LogitsOp>(s.ops.back()))
    vocab = lastDim(logits.getResult());
  // Context limit: the option, the model's own, 2048.
  maxContext = options.maxContext ? options.maxContext : 2048;
  if (auto limit = module->getAttrOfType<IntegerAttr>("llm.max_positions"))
    maxContext = std::min<uint32_t>(maxContext, limit.getInt());
  if (options.prefillBucket % target.mmTokens != 0 || options.decodeBucket % 16 != 0 ||
      options.prefillBucket == 0 || options.decodeBucket == 0)
    return s.func.emitError() << "bucket widths must be multiples of the MM "
                              << "tile (" << target.mmTokens << " tokens) for "
                              << "prefill and of 16 for decode";
  // A window of W positions excludes nothing while every position is below
  // W (t > p - W holds for all t >= 0), so up to that context the windowed
  // attention is the causal attention the streams compute. Beyond it the
  // streams would need a windowed mask: refuse rather than drop the window.
  for (Operation *op : s.ops)
    if (auto att = dyn_cast<llm::AttentionOp>(op))
      if (std::optional<int64_t> window = att.getWindow();
          window && *window < int64_t(maxContext))
        return op->emitError()
               << "sliding-window attention (window " << *window
               << ") is not supported by the accelerator lowering beyond the "
                  "window: the context is "
               << maxContext << "; compile with --max-context=" << *window
               << " or less (within the window it is causal attention)";
  static_assert(binary::kMaxDecodeBatch == isa::kMaxBatch,
                "the format and the ISA disagree on the largest batch");
  if (options.batch < 1 || options.batch > isa::kMaxBatch)
    return s.func.emitError()
           << "batch " << options.batch << " is not 1 to " << isa::kMaxBatch
           << " (the ISA's MaxBatch: one SEQ_P and SEQ_B2_ORIGIN register "
              "per sequence)";
  if (options.kvSlots < 1 || options.kvSlots > binary::kMaxKVSlots)
    return s.func.emitError() << "kv-slots " << options.kvSlots
                              << " is not 1 to " << binary::kMaxKVSlots;
  if (options.batch > 1) {
    if (options.kvSlots < options.batch)
      return s.func.emitError()
             << "batch " << options.batch << " needs at least as many "
             << "KV-cache slots (each sequence has its own), not "
             << options.kvSlots;
  }
  kvRows = roundUp(maxContext, options.prefillBucket);
  if (kvRows > isa::MM::n.max() || kvRows > (1u << 12) * 16)
    return s.func.emitError() << "context " << maxContext << " is beyond the ISA's limits";
  // The 4-bit cache rows load with one LD iteration per token.
  if (kvBits == 4 && kvRows > isa::LD::loop1.max())
    return s.func.emitError()
           << "context " << maxContext << " (" << kvRows
           << " cache rows) is beyond the " << isa::LD::loop1.max()
           << " tokens one LD moves of a 4-bit KV cache";

  // The size of every parameter block (the places are the HBM layout's).
  unsigned nch = target.hbmChannels;
  ImagePacker sizeGlobals(nch, false);
  if (failed(packGlobals(sizeGlobals)) || failed(layerSlotBytes()))
    return failure();
  sizeRunTimeAreas();
  result.numLayers = s.numLayers;
  for (const ModelStructure::LayerGroup &g : s.groups)
    result.layerGroups.push_back({g.first, g.count});

  auto &m = result.metadata;
  StringRef family = "unknown";
  if (auto f = module->getAttrOfType<StringAttr>("llm.family"))
    family = f.getValue();
  m.family = family == "gpt2"   ? uint32_t(binary::ModelFamily::GPT2)
             : family == "opt"  ? uint32_t(binary::ModelFamily::OPT)
             : family == "llama" ? uint32_t(binary::ModelFamily::Llama)
                                 : uint32_t(binary::ModelFamily::Unknown);
  result.name = family.str();
  m.numLayers = s.numLayers;
  m.hiddenSize = hidden;
  m.numHeads = numHeads;
  m.numKVHeads = numKVHeads;
  m.headDim = headDim;
  m.intermediateSize = intermediate;
  m.vocabSize = vocab;
  m.maxContext = maxContext;
  m.prefillBucketWidth = options.prefillBucket;
  m.decodeBucketWidth = options.decodeBucket;
  m.weightPrecision = uint16_t(binary::Precision::I8);
  m.activationPrecision = uint16_t(binary::Precision::I8);
  m.kvPrecision =
      uint16_t(kvBits == 4 ? binary::Precision::I4 : binary::Precision::I8);

  // The buckets of each stage, and the ones selected.
  std::vector<BucketRange> buckets;
  for (uint32_t lo = 1; lo <= maxContext; lo += options.prefillBucket)
    buckets.push_back({binary::Stage::Prefill, lo,
                       std::min(maxContext, lo + options.prefillBucket - 1)});
  for (uint32_t lo = 1; lo <= maxContext; lo += options.decodeBucket)
    buckets.push_back({binary::Stage::Decode, lo,
                       std::min(maxContext, lo + options.decodeBucket - 1)});
  if (failed(selectBuckets(buckets)))
    return failure();
  selected = std::move(buckets);
  return success();
}

FailureOr<uint64_t> ModelLowering::layerSlotBytes() {
  // Every slot has the largest group's size: B1 = origin + L * stride has
  // one stride per stream, so the layer register that also moves B2 over
  // the KV cache can address a group's layers only at a common stride.
  // The sizes of every group's regions (instruction selection's, before
  // the layout places them) come with it.
  uint64_t slot = 0;
  ddrLayerStride = 0;
  groupLocs.assign(s.groups.size(), {});
  for (auto [g, group] : llvm::enumerate(s.groups)) {
    ImagePacker sizeLayer(target.hbmChannels, true);
    ImagePacker sizeDDR(unsigned(target.ddrChannels), true, /*ddr=*/true);
    ddrPacker = options.ddrWeightPercent ? &sizeDDR : nullptr;
    layerLocs.clear();
    LogicalResult packed = packLayer(group.first, sizeLayer);
    ddrPacker = nullptr;
    if (failed(packed))
      return failure();
    groupLocs[g] = std::move(layerLocs);
    slot = std::max(slot, sizeLayer.maxUsed());
    ddrLayerStride = std::max(ddrLayerStride, sizeDDR.maxUsed());
    if (ddrSeen > result.layerTileBytes) {
      result.layerTileBytes = ddrSeen;
      result.ddrLayerBytes = ddrTaken;
    }
  }
  ddrLayerStride = roundUp(ddrLayerStride, kUnitBytes);
  return slot;
}

LogicalResult ModelLowering::layout(unsigned stripesPerTile) {
  stripes = stripesPerTile;
  // Size the image with this striping: globals, then one layer slot.
  unsigned nch = target.hbmChannels;
  ImagePacker sizeGlobals(nch, false);
  if (failed(packGlobals(sizeGlobals)))
    return failure();
  FailureOr<uint64_t> slot = layerSlotBytes();
  if (failed(slot))
    return failure();
  globalBytes = roundUp(sizeGlobals.maxUsed(), kUnitBytes);
  layerStride = roundUp(*slot, kUnitBytes);
  placeRunTimeAreas();
  uint64_t needed = runTimeEnd;
  if (needed > target.hbmBytesPerChannel)
    return s.func.emitError() << "the model needs " << needed << " bytes of each "
                              << "HBM channel (weights, KV cache for context "
                              << maxContext << ", I/O) but the target's channels "
                              << "hold " << target.hbmBytesPerChannel;
  // DDR tiles: from the end of the instruction memory's share of every DDR
  // channel (channel 0's holds the streams), one slot per layer.
  if (ddrLayerStride) {
    ddrBase = roundUp(target.instructionMemoryBytes / target.ddrChannels,
                      kUnitBytes);
    uint64_t end = ddrBase + uint64_t(s.numLayers) * ddrLayerStride;
    if (end > target.ddrBytesPerChannel)
      return s.func.emitError()
             << "the weights placed in DDR (ddr-weights="
             << options.ddrWeightPercent << ") need " << end
             << " bytes of each DDR channel (from " << ddrBase
             << ", after the instruction memory's share) but the target's "
                "channels hold "
             << target.ddrBytesPerChannel;
    if (ddrBase / kUnitBytes + uint64_t(s.numLayers) * ddrLayerStride /
                                   kUnitBytes > UINT32_MAX)
      return s.func.emitError()
             << "the weights placed in DDR end beyond the 32-bit base "
                "register B3";
    result.ddrOffset = ddrBase;
    result.ddrWeightPercent = options.ddrWeightPercent;
    result.ddr.assign(target.ddrChannels,
                      std::vector<uint8_t>(s.numLayers * ddrLayerStride, 0));
  }

  // Fill.
  packing = true;
  result.hbm.assign(nch, std::vector<uint8_t>(globalBytes + s.numLayers * layerStride, 0));
  ImagePacker fillGlobals(nch, false);
  fillGlobals.fillInto(&result.hbm, 0);
  globalLocs.clear();
  if (failed(packGlobals(fillGlobals)))
    return failure();
  // Reading a 7B model's weights from disk takes as long as quantizing them:
  // ask for the next layer's pages while this one is packed.
  auto prefetchLayer = [&](unsigned l) {
    if (l >= s.numLayers)
      return;
    for (Operation *op : s.layerOps(l))
      if (llvm::isa<llm::LinearOp>(op))
        if (auto res = dyn_cast<DenseResourceElementsAttr>(
                weightOf(op->getOperand(1)).getValue()))
          if (AsmResourceBlob *blob = res.getRawHandle().getBlob())
            prefetchPages(blob->getData().data(), blob->getData().size());
  };
  prefetchLayer(0);
  groupLocs.assign(s.groups.size(), {});
  for (unsigned l = 0; l < s.numLayers; ++l) {
    prefetchLayer(l + 1);
    packingLayer = static_cast<int>(l);
    ImagePacker layer(nch, true);
    layer.fillInto(&result.hbm, globalBytes + l * layerStride);
    ImagePacker ddrLayer(unsigned(target.ddrChannels), true, /*ddr=*/true);
    ddrLayer.fillInto(&result.ddr, l * ddrLayerStride);
    ddrPacker = ddrLayerStride ? &ddrLayer : nullptr;
    // The layers of a group share its first layer's places.
    layerLocs.clear();
    LogicalResult packed = packLayer(l, layer);
    ddrPacker = nullptr;
    if (failed(packed))
      return failure();
    if (packingGroupLeader())
      groupLocs[s.groupOf(l)] = std::move(layerLocs);
    if (options.progress)
      options.progress("packing weights", l + 1, s.numLayers);
  }
  result.baseOrigin[0] = globalBytes / kUnitBytes;
  result.baseStride[0] = layerStride / kUnitBytes;
  result.baseOrigin[1] = kvOrigin / kUnitBytes;
  result.baseStride[1] = kvStride / kUnitBytes;
  result.baseOrigin[2] = uint32_t(ddrBase / kUnitBytes);
  result.baseStride[2] = uint32_t(ddrLayerStride / kUnitBytes);
  return success();
}
