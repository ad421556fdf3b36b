//===- StreamLowering.cpp - One bucket's instruction stream ---------------===//
//
// Emits the instructions of one length bucket: per 128-token tile (prefill)
// or for the one new token (decode) the prologue (input rows, position
// embeddings), the decoder layer once inside a SYS loop over the layers, and
// for the last tile the epilogue (final norm, logits, stored to HBM) of the
// last new token, which prefill tiles leave in a spill area. Values
// live in act rows allocated by liveness; weight tiles and KV rows stream
// through the weight buffer, parameters through meta. Fusions: the gate/up
// linears of a SwiGLU share their tile loop with the SwiGLU, a ReLU after a
// linear becomes the MM's relu flag, one quantized copy of an input serves
// every linear reading it, and element-wise ops work in place when their
// operand dies. docs/lowering.md.
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using flightllm::lowering::Region;
using namespace flightllm;
using namespace flightllm::lowering;
using isa::Buffer;
using isa::Instruction;
using isa::Opcode;

namespace flightllm::lowering {

class StreamLowering {
public:
  StreamLowering(ModelLowering &m, StreamInfo &info)
      : m(m), info(info),
        act(Buffer::act, rowsOf(m.target.actBufferBytes)),
        weight(Buffer::weight, rowsOf(m.target.weightBufferBytes)),
        meta(Buffer::meta, rowsOf(m.target.metaBufferBytes)) {}

  LogicalResult emit(binary::Stage stage, uint32_t minLen, uint32_t maxLen);
  uint32_t peakAct() const { return act.peakRows(); }
  uint32_t peakWeight() const { return weight.peakRows(); }
  uint32_t peakMeta() const { return meta.peakRows(); }

private:
  static uint32_t rowsOf(uint64_t bytes) {
    return static_cast<uint32_t>(std::min<uint64_t>(bytes / kRowBytes, 1u << 16));
  }
  struct Val {
    Region region;
    Layout layout;
    std::optional<Region> qvec;
    bool pinned = false;
  };

  // Allocation.
  Region alloc(OnChipAllocator &a, uint32_t rows, Operation *at,
               bool value = false);
  void release(Value v);
  void consumed(Operation *op);

  // Instructions.
  void ld(Region dst, uint32_t channel, uint64_t addrUnits, isa::BaseReg base,
          isa::ParamReg param, uint32_t scale, uint64_t lengthUnits,
          OffChip off, uint64_t &stat);
  void ldParam(Region dst, const HBMLoc &loc, uint64_t &stat);
  /// Loads weight tile t of a linear (all its stripes) into `w`.
  void loadTile(Region w, const std::map<ParamKey, HBMLoc> &locs, uintptr_t key,
                const LinearPlan &p, int64_t t);
  void st(Region src, uint32_t channel, uint64_t addrUnits, isa::BaseReg base,
          isa::ParamReg param, uint32_t scale, uint64_t lengthUnits,
          OffChip off, uint64_t &stat);
  void misc(isa::MiscKind kind, uint32_t aAddr, isa::ASpace aSpace,
            uint32_t bAddr, isa::BSpace bSpace, uint32_t outAddr, uint32_t k,
            uint32_t rows, uint32_t aStep, uint32_t bStep, uint32_t outStep,
            const Access &access, bool masked = false, uint32_t posOff = 0);
  void matrix(uint32_t tokens, uint32_t aAddr, uint32_t bAddr,
              uint32_t outAddr, uint32_t scaleAddr, uint64_t kBlocks,
              uint64_t n, uint32_t outStride, isa::OutFormat format, bool bias,
              bool relu, bool kMajor, const Access &access);

  /// MISC quantize_dynamic of `rows` rows of k fp16 values at src (step
  /// srcStep) into qvecs at dst (one every qvecRows(k) rows).
  void quantizeRows(Region src, uint32_t srcStep, uint32_t k, uint32_t rows,
                    Region dst);

  // Values.
  Region quantized(Value v, uint32_t tokens);
  LogicalResult linear(Operation *op, const std::map<ParamKey, HBMLoc> &locs,
                       uintptr_t key, Region out, uint32_t outStride,
                       uint32_t tokens, bool relu, Region xq);
  LogicalResult lowerOp(Operation *op, const std::map<ParamKey, HBMLoc> &locs,
                        uintptr_t key, size_t index,
                        llvm::ArrayRef<Operation *> segment);
  LogicalResult attention(llm::AttentionOp op, size_t index);
  LogicalResult segment(llvm::ArrayRef<Operation *> ops,
                        const std::map<ParamKey, HBMLoc> &locs, bool layer);
  LogicalResult prologue();
  /// Prefill: stores the tile's layer output rows to the spill area, at the
  /// tile's rows.
  void spillTile();
  LogicalResult epilogue();

  LogicalResult failWith(Operation *at, const Twine &msg) {
    if (!failedAlready)
      at->emitError(msg);
    failedAlready = true;
    return failure();
  }

  ModelLowering &m;
  StreamInfo &info;
  StreamEmitter e;
  OnChipAllocator act, weight, meta;
  llvm::DenseMap<Value, Val> vals;
  llvm::DenseMap<Value, int> remaining;
  llvm::DenseSet<Operation *> done;
  TileContext ctx;
  Region ropeRows, constRegion;
  bool failedAlready = false;
};

} // namespace flightllm::lowering

//===----------------------------------------------------------------------===//
// Allocation
//===----------------------------------------------------------------------===//

lowering::Region StreamLowering::alloc(OnChipAllocator &a, uint32_t rows,
                                       Operation *at, bool value) {
  if (auto r = value ? a.allocateLow(rows) : a.allocate(rows))
    return *r;
  const char *name = isa::enumValueName(isa::EnumId::Buffer,
                                        static_cast<int64_t>(a.bufferKind()));
  (void)failWith(at, Twine("on-chip ") + (name ? name : "?") +
                         " buffer exhausted: " + Twine(rows) + " rows of " +
                         Twine(kRowBytes) + " bytes do not fit (" +
                         Twine(a.capacityRows()) + " rows)");
  return Region{Buffer::act, 0, rows};
}

void StreamLowering::release(Value v) {
  auto it = vals.find(v);
  if (it == vals.end() || it->second.pinned)
    return;
  act.free(it->second.region);
  if (it->second.qvec && it->second.qvec->row != it->second.region.row)
    act.free(*it->second.qvec);
  vals.erase(it);
}

void StreamLowering::consumed(Operation *op) {
  for (Value v : op->getOperands()) {
    auto it = remaining.find(v);
    if (it == remaining.end())
      continue;
    if (--it->second == 0)
      release(v);
  }
}

//===----------------------------------------------------------------------===//
// Instructions
//===----------------------------------------------------------------------===//

void StreamLowering::ld(Region dst, uint32_t channel, uint64_t addrUnits,
                        isa::BaseReg base, isa::ParamReg param, uint32_t scale,
                        uint64_t lengthUnits, OffChip off, uint64_t &stat) {
  Instruction i(Opcode::LD);
  i.set(isa::LD::onchip_addr, dst.row).set(isa::LD::buf, dst.buffer)
      .set(isa::LD::addr, int64_t(addrUnits)).set(isa::LD::mem, isa::Memory::hbm)
      .set(isa::LD::channel, channel).set(isa::LD::base, base)
      .set(isa::LD::param, param).set(isa::LD::scale, scale)
      .set(isa::LD::loop1, 1).set(isa::LD::loop2, 1).set(isa::LD::loop3, 1)
      .set(isa::LD::length, int64_t(lengthUnits));
  Access a;
  a.writes.push_back(Region{dst.buffer, dst.row, std::max<uint32_t>(1, rowsFor(lengthUnits * kUnitBytes))});
  a.offChipRead = off;
  e.emit(i, a);
  stat += lengthUnits * kUnitBytes * ctx.loopTrip;
}

void StreamLowering::ldParam(Region dst, const HBMLoc &loc, uint64_t &stat) {
  ld(dst, loc.channel, loc.offsetUnits(),
     loc.perLayer ? isa::BaseReg::B1 : isa::BaseReg::zero, isa::ParamReg::zero,
     0, loc.units(), OffChip::None, stat);
}

void StreamLowering::loadTile(Region w, const std::map<ParamKey, HBMLoc> &locs,
                              uintptr_t key, const LinearPlan &p, int64_t t) {
  int64_t n = p.tileChannels(t), rows = p.stripeRows(n);
  for (int64_t s = 0; s < p.stripes(n); ++s) {
    const HBMLoc &sl = locs.at({key, 0, LinearPlan::stripeKey(t, s)});
    uint32_t at = w.row + static_cast<uint32_t>(s * rows * p.rowBytes / kRowBytes);
    ldParam(Region{w.buffer, at, rowsFor(sl.bytes)}, sl, info.weightLoadBytes);
  }
}

void StreamLowering::st(Region src, uint32_t channel, uint64_t addrUnits,
                        isa::BaseReg base, isa::ParamReg param, uint32_t scale,
                        uint64_t lengthUnits, OffChip off, uint64_t &stat) {
  Instruction i(Opcode::ST);
  i.set(isa::ST::onchip_addr, src.row).set(isa::ST::buf, src.buffer)
      .set(isa::ST::addr, int64_t(addrUnits)).set(isa::ST::channel, channel)
      .set(isa::ST::length, int64_t(lengthUnits)).set(isa::ST::scale, scale)
      .set(isa::ST::param, param).set(isa::ST::base, base);
  Access a;
  a.reads.push_back(Region{src.buffer, src.row, std::max<uint32_t>(1, rowsFor(lengthUnits * kUnitBytes))});
  a.offChipWrite = off;
  e.emit(i, a);
  stat += lengthUnits * kUnitBytes * ctx.loopTrip;
}

void StreamLowering::misc(isa::MiscKind kind, uint32_t aAddr,
                          isa::ASpace aSpace, uint32_t bAddr,
                          isa::BSpace bSpace, uint32_t outAddr, uint32_t k,
                          uint32_t rows, uint32_t aStep, uint32_t bStep,
                          uint32_t outStep, const Access &access, bool masked,
                          uint32_t posOff) {
  Instruction i(Opcode::MISC);
  i.set(isa::MISC::kind, kind).set(isa::MISC::masked, masked ? 1 : 0)
      .set(isa::MISC::pos_param, masked ? isa::ParamReg::P : isa::ParamReg::zero)
      .set(isa::MISC::a_space, aSpace).set(isa::MISC::b_space, bSpace)
      .set(isa::MISC::a_addr, aAddr).set(isa::MISC::b_addr, bAddr)
      .set(isa::MISC::out_addr, outAddr).set(isa::MISC::k, k)
      .set(isa::MISC::rows, rows).set(isa::MISC::pos_off, posOff)
      .set(isa::MISC::a_step, aStep).set(isa::MISC::b_step, bStep)
      .set(isa::MISC::out_step, outStep);
  e.emit(i, access);
}

void StreamLowering::matrix(uint32_t tokens, uint32_t aAddr, uint32_t bAddr,
                            uint32_t outAddr, uint32_t scaleAddr,
                            uint64_t kBlocks, uint64_t n, uint32_t outStride,
                            isa::OutFormat format, bool bias, bool relu,
                            bool kMajor, const Access &access) {
  bool mm = tokens > 1;
  Instruction i(mm ? Opcode::MM : Opcode::MV);
  // MM and MV share one format: MM's field handles encode both.
  if (mm) {
    i.set(isa::MM::k_blocks, int64_t(kBlocks)).set(isa::MM::bias, bias)
        .set(isa::MM::b_kmajor, kMajor).set(isa::MM::a_addr, aAddr)
        .set(isa::MM::b_addr, bAddr).set(isa::MM::out_addr, outAddr)
        .set(isa::MM::scale_addr, scaleAddr).set(isa::MM::n, int64_t(n))
        .set(isa::MM::out_stride, outStride).set(isa::MM::out_format, format)
        .set(isa::MM::relu, relu);
  } else {
    i.set(isa::MV::k_blocks, int64_t(kBlocks)).set(isa::MV::bias, bias)
        .set(isa::MV::b_kmajor, kMajor).set(isa::MV::a_addr, aAddr)
        .set(isa::MV::b_addr, bAddr).set(isa::MV::out_addr, outAddr)
        .set(isa::MV::scale_addr, scaleAddr).set(isa::MV::n, int64_t(n))
        .set(isa::MV::out_stride, outStride).set(isa::MV::out_format, format)
        .set(isa::MV::relu, relu);
  }
  e.emit(i, access);
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

void StreamLowering::quantizeRows(Region src, uint32_t srcStep, uint32_t k,
                                  uint32_t rows, Region dst) {
  Access a;
  a.reads = {src};
  a.writes = {dst};
  misc(isa::MiscKind::quantize_dynamic, src.row, isa::ASpace::act, 0,
       isa::BSpace::meta, dst.row, k, rows, srcStep, 0, qvecRows(k), a);
}

lowering::Region StreamLowering::quantized(Value v, uint32_t tokens) {
  Val &val = vals[v];
  if (val.qvec)
    return *val.qvec;
  uint32_t k = val.layout.physical();
  uint32_t qr = qvecRows(k);
  // A value only matrix ops read is quantized in place: row r of the qvec
  // never reaches past row r of the fp16 rows, and MISC reads a row before
  // writing it.
  bool onlyMatrixUsers = llvm::all_of(v.getUsers(), [&](Operation *u) {
    return llvm::isa<llm::LinearOp, llm::LogitsOp>(u) && u->getOperand(0) == v;
  });
  Region q;
  if (onlyMatrixUsers && !val.pinned && qr <= val.layout.rowsPerToken() &&
      qr * tokens <= val.region.rows)
    q = val.region;
  else
    q = alloc(act, qr * tokens, v.getDefiningOp() ? v.getDefiningOp()
                                                  : m.s.func.getOperation());
  quantizeRows(val.region, val.layout.rowsPerToken(), k, tokens, q);
  vals[v].qvec = q;
  return q;
}

LogicalResult StreamLowering::linear(Operation *op,
                                     const std::map<ParamKey, HBMLoc> &locs,
                                     uintptr_t key, Region out,
                                     uint32_t outStride, uint32_t tokens,
                                     bool relu, Region xq) {
  LinearPlan p = m.planLinear(op);
  uint32_t elem = p.f32Out ? 4 : 2;
  for (int64_t t = 0; t < p.tiles; ++t) {
    int64_t n = p.tileChannels(t);
    const HBMLoc &ml = locs.at({key, 1, int(t)});
    Region w = alloc(weight, rowsFor(n * p.rowBytes), op);
    Region s = alloc(meta, rowsFor(ml.bytes), op);
    if (failedAlready)
      return failure();
    loadTile(w, locs, key, p, t);
    ldParam(s, ml, info.weightLoadBytes);
    Access a;
    a.reads = {xq, w, s};
    a.writes = {out};
    matrix(tokens, xq.row, w.row,
           out.row + static_cast<uint32_t>(t * p.tileN * elem / kRowBytes),
           s.row, p.kPhys / isa::kKBlock, n, outStride,
           p.f32Out ? isa::OutFormat::f32 : isa::OutFormat::f16, p.bias, relu,
           false, a);
    weight.free(w);
    meta.free(s);
  }
  return success();
}

LogicalResult StreamLowering::attention(llm::AttentionOp op, size_t index) {
  uint32_t R = ctx.tokens, T = ctx.context;
  int64_t hq = op.getNumHeads(), hkv = op.getNumKvHeads(), dh = m.headDim;
  Layout qL = vals[op.getQuery()].layout, kL = vals[op.getKey()].layout;
  Layout outL = Layout::heads(hq, dh);
  uint64_t rowKV = roundUp(dh, kRowBytes);
  uint32_t rowKVUnits = rowKV / kUnitBytes, rowKVRows = rowsFor(rowKV);
  Region out = alloc(act, outL.rowsPerToken() * R, op, /*value=*/true);
  vals[op.getOutput()] = Val{out, outL, std::nullopt, false};
  Val q = vals[op.getQuery()], k = vals[op.getKey()], v = vals[op.getValue()];
  uint64_t a = roundUp(2 * dh, kRowBytes), b = roundUp(4 * dh, kRowBytes);
  uint32_t scoreRows = rowsFor(2ull * T);
  uint64_t posBase = uint64_t(ctx.tile) * R;
  // Phase 1, per KV head: its parameters (kept until its last query head),
  // and this run's K and V rows quantized and appended to the cache.
  std::vector<Region> params(hkv);
  for (int64_t g = 0; g < hkv; ++g) {
    const HBMLoc &pl = m.layerLocs.at({index, 3, int(g)});
    Region pm = alloc(meta, rowsFor(pl.bytes), op);
    if (failedAlready)
      return failure();
    params[g] = pm;
    ldParam(pm, pl, info.weightLoadBytes);
    uint32_t ikAddr = pm.row + rowsFor(a), ivAddr = pm.row + rowsFor(a + b);
    for (int kv = 0; kv < 2; ++kv) {
      const Val &src = kv ? v : k;
      Region stg = alloc(act, rowKVRows * R, op);
      if (failedAlready)
        return failure();
      Access qa;
      qa.reads = {src.region, pm};
      qa.writes = {stg};
      misc(isa::MiscKind::quantize, src.region.row + g * kL.groupRows(),
           isa::ASpace::act, kv ? ivAddr : ikAddr, isa::BSpace::meta, stg.row,
           dh, R, src.layout.rowsPerToken(), 0, rowKVRows, qa);
      uint32_t slot = 2 * g + kv;
      st(stg, m.kvChannel[slot],
         (m.kvOffset[slot] + posBase * rowKV) / kUnitBytes, isa::BaseReg::B2,
         isa::ParamReg::P, rowKVUnits, uint64_t(R) * rowKVUnits,
         OffChip::KVCache, info.kvStoreBytes);
      act.free(stg);
    }
  }

  // Phase 2, per query head h, four stages: A (q times the K scales,
  // quantized; SFU), B (scores; matrix), C (softmax, quantized; SFU), D (P·V;
  // matrix). They are emitted software-pipelined, A(h+1) before C(h) and
  // B(h+1) before D(h), so each queue has the next head's work while the
  // other finishes this one's. A KV head's cache rows are loaded when its
  // first query head reaches B, together with the next KV head's (one
  // ahead), and freed after its last query head's D.
  int64_t perGroup = hq / hkv;
  std::vector<Region> wkOf(hkv), wvOf(hkv);
  std::vector<bool> loaded(hkv, false);
  auto ensureLoaded = [&](int64_t g) {
    if (g >= hkv || loaded[g])
      return;
    loaded[g] = true;
    wkOf[g] = alloc(weight, rowsFor(T * rowKV), op);
    wvOf[g] = alloc(weight, rowsFor(T * rowKV), op);
    if (failedAlready)
      return;
    ld(wkOf[g], m.kvChannel[2 * g], m.kvOffset[2 * g] / kUnitBytes,
       isa::BaseReg::B2, isa::ParamReg::zero, 0, uint64_t(T) * rowKVUnits,
       OffChip::KVCache, info.kvLoadBytes);
    ld(wvOf[g], m.kvChannel[2 * g + 1], m.kvOffset[2 * g + 1] / kUnitBytes,
       isa::BaseReg::B2, isa::ParamReg::zero, 0, uint64_t(T) * rowKVUnits,
       OffChip::KVCache, info.kvLoadBytes);
  };
  uint32_t qRows = rowsFor(2 * dh);
  struct HeadRegions {
    Region qq, sc, pq;
  };
  std::vector<HeadRegions> heads(hq);
  auto stageA = [&](int64_t h) {
    Region pm = params[h / perGroup];
    Region t1 = alloc(act, qRows * R, op);
    Region qq = alloc(act, qvecRows(dh) * R, op);
    if (failedAlready)
      return;
    Access ma;
    ma.reads = {q.region, pm};
    ma.writes = {t1};
    misc(isa::MiscKind::mul, q.region.row + h * qL.groupRows(),
         isa::ASpace::act, pm.row, isa::BSpace::meta, t1.row, dh, R,
         qL.rowsPerToken(), 0, qRows, ma);
    quantizeRows(t1, qRows, dh, R, qq);
    act.free(t1);
    heads[h].qq = qq;
  };
  auto stageB = [&](int64_t h) {
    int64_t g = h / perGroup;
    ensureLoaded(g);
    ensureLoaded(g + 1);
    Region sc = alloc(act, scoreRows * R, op);
    if (failedAlready)
      return;
    Access sa;
    sa.reads = {heads[h].qq, wkOf[g], constRegion};
    sa.writes = {sc};
    matrix(R, heads[h].qq.row, wkOf[g].row, sc.row, constRegion.row + 1,
           roundUp(dh, isa::kKBlock) / isa::kKBlock, T, scoreRows,
           isa::OutFormat::f16, false, false, false, sa);
    act.free(heads[h].qq);
    heads[h].sc = sc;
  };
  auto stageC = [&](int64_t h) {
    Region sc = heads[h].sc;
    Region pq = alloc(act, qvecRows(T) * R, op);
    if (failedAlready)
      return;
    Access xa;
    xa.reads = {sc, constRegion};
    xa.writes = {sc};
    misc(isa::MiscKind::softmax, sc.row, isa::ASpace::act, constRegion.row,
         isa::BSpace::meta, sc.row, T, R, scoreRows, 0, scoreRows, xa,
         /*masked=*/true, static_cast<uint32_t>(posBase));
    quantizeRows(sc, scoreRows, T, R, pq);
    act.free(sc);
    heads[h].pq = pq;
  };
  auto stageD = [&](int64_t h) {
    int64_t g = h / perGroup;
    Region pm = params[g];
    uint32_t vsAddr = pm.row + rowsFor(a + 2 * b);
    Access va;
    va.reads = {heads[h].pq, wvOf[g], pm};
    va.writes = {out};
    matrix(R, heads[h].pq.row, wvOf[g].row, out.row + h * outL.groupRows(),
           vsAddr, T / isa::kKBlock, outL.pad, outL.rowsPerToken(),
           isa::OutFormat::f16, false, false, true, va);
    act.free(heads[h].pq);
    if ((h + 1) % perGroup == 0) {
      weight.free(wkOf[g]);
      weight.free(wvOf[g]);
      meta.free(pm);
    }
  };
  stageA(0);
  stageB(0);
  for (int64_t h = 0; h < hq && !failedAlready; ++h) {
    if (h + 1 < hq)
      stageA(h + 1);
    stageC(h);
    if (h + 1 < hq)
      stageB(h + 1);
    stageD(h);
  }
  if (failedAlready)
    return failure();
  return success();
}

LogicalResult StreamLowering::lowerOp(Operation *op,
                                      const std::map<ParamKey, HBMLoc> &locs,
                                      uintptr_t key, size_t index,
                                      llvm::ArrayRef<Operation *> segment) {
  uint32_t R = ctx.tokens;
  auto newValue = [&](Value v, Layout l) -> Region {
    Region r = alloc(act, l.rowsPerToken() * R, op, /*value=*/true);
    vals[v] = Val{r, l, std::nullopt, false};
    return r;
  };
  auto singleUser = [](Value v) -> Operation * {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  };
  if (done.contains(op))
    return success();

  if (auto lin = dyn_cast<llm::LinearOp>(op)) {
    Value x = lin.getX();
    Operation *user = singleUser(lin.getResult());
    // SwiGLU(gate = linear, up = linear) over one input: one tile loop.
    if (auto sw = dyn_cast_or_null<llm::SwiGLUOp>(user)) {
      Value other = sw.getGate() == lin.getResult() ? sw.getUp() : sw.getGate();
      auto otherLin = other.getDefiningOp<llm::LinearOp>();
      if (otherLin && otherLin.getX() == x && other.hasOneUse() &&
          m.planLinear(otherLin).tileN == m.planLinear(lin).tileN &&
          m.planLinear(otherLin).nPhys == m.planLinear(lin).nPhys) {
        if (!done.contains(otherLin) && !vals.count(other)) {
          // Emit both when the second one is reached.
          bool otherFirst = false;
          for (Operation *o : segment) {
            if (o == op)
              break;
            otherFirst |= o == otherLin.getOperation();
          }
          if (!otherFirst) {
            done.insert(op); // handled together with otherLin below
            return success();
          }
        }
        auto gateLin = sw.getGate().getDefiningOp<llm::LinearOp>();
        auto upLin = sw.getUp().getDefiningOp<llm::LinearOp>();
        auto key0 = [&](Operation *o) -> uintptr_t {
          for (size_t j = 0; j < segment.size(); ++j)
            if (segment[j] == o)
              return j;
          return 0;
        };
        LinearPlan p = m.planLinear(gateLin);
        Layout hl = Layout::dense(p.nPhys);
        Region h = newValue(sw.getResult(), hl);
        Region xq = quantized(x, R);
        uint32_t chunkRows = rowsFor(2 * p.tileN);
        for (int64_t t = 0; t < p.tiles; ++t) {
          int64_t n = p.tileChannels(t);
          Region gt = alloc(act, chunkRows * R, op), ut = alloc(act, chunkRows * R, op);
          Region wg = alloc(weight, rowsFor(n * p.rowBytes), op);
          Region sg = alloc(meta, rowsFor(locs.at({key0(gateLin), 1, int(t)}).bytes), op);
          Region wu = alloc(weight, rowsFor(n * p.rowBytes), op);
          Region su = alloc(meta, rowsFor(locs.at({key0(upLin), 1, int(t)}).bytes), op);
          if (failedAlready)
            return failure();
          loadTile(wg, locs, key0(gateLin), p, t);
          ldParam(sg, locs.at({key0(gateLin), 1, int(t)}), info.weightLoadBytes);
          loadTile(wu, locs, key0(upLin), m.planLinear(upLin), t);
          ldParam(su, locs.at({key0(upLin), 1, int(t)}), info.weightLoadBytes);
          Access ga, ua, sa;
          ga.reads = {xq, wg, sg};
          ga.writes = {gt};
          matrix(R, xq.row, wg.row, gt.row, sg.row, p.kPhys / isa::kKBlock, n,
                 chunkRows, isa::OutFormat::f16, p.bias, false, false, ga);
          ua.reads = {xq, wu, su};
          ua.writes = {ut};
          matrix(R, xq.row, wu.row, ut.row, su.row, p.kPhys / isa::kKBlock, n,
                 chunkRows, isa::OutFormat::f16, p.bias, false, false, ua);
          sa.reads = {gt, ut};
          sa.writes = {h};
          misc(isa::MiscKind::swiglu, gt.row, isa::ASpace::act, ut.row,
               isa::BSpace::act, h.row + static_cast<uint32_t>(t * p.tileN * 2 / kRowBytes),
               n, R, chunkRows, chunkRows, hl.rowsPerToken(), sa);
          act.free(gt);
          act.free(ut);
          weight.free(wg);
          weight.free(wu);
          meta.free(sg);
          meta.free(su);
        }
        done.insert(gateLin);
        done.insert(upLin);
        done.insert(sw);
        consumed(gateLin);
        consumed(upLin);
        if (remaining.count(lin.getResult()))
          remaining[lin.getResult()] = 0;
        return success();
      }
    }
    bool relu = isa_and_nonnull<llm::ReluOp>(user);
    Layout ol = m.layoutOf(lin.getResult());
    Region out = newValue(lin.getResult(), ol);
    Region xq = quantized(x, R);
    if (failedAlready || failed(linear(op, locs, key, out, ol.rowsPerToken(), R, relu, xq)))
      return failure();
    if (relu) {
      // The ReLU is the MM's relu flag: its result is the linear's rows.
      vals[user->getResult(0)] = vals[lin.getResult()];
      vals.erase(lin.getResult());
      remaining.erase(lin.getResult());
      done.insert(user);
    }
    consumed(op);
    return success();
  }
  if (llvm::isa<llm::LayerNormOp, llm::RMSNormOp>(op)) {
    bool ln = llvm::isa<llm::LayerNormOp>(op);
    const HBMLoc &pl = locs.at({key, 2, 0});
    Val x = vals[op->getOperand(0)];
    Region pm = alloc(meta, rowsFor(pl.bytes), op);
    Region out = newValue(op->getResult(0), x.layout);
    if (failedAlready)
      return failure();
    ldParam(pm, pl, info.weightLoadBytes);
    Access a;
    a.reads = {x.region, pm};
    a.writes = {out};
    misc(ln ? isa::MiscKind::layernorm : isa::MiscKind::rmsnorm, x.region.row,
         isa::ASpace::act, pm.row, isa::BSpace::meta, out.row,
         x.layout.physical(), R, x.layout.rowsPerToken(), 0,
         x.layout.rowsPerToken(), a);
    meta.free(pm);
    consumed(op);
    return success();
  }
  if (auto rope = dyn_cast<llm::RopeOp>(op)) {
    Val x = vals[rope.getX()];
    Region out = newValue(rope.getResult(), x.layout);
    if (failedAlready)
      return failure();
    uint32_t ropeRowsPerPos = rowsFor(m.ropeRowBytes);
    for (int64_t h = 0; h < x.layout.groups; ++h) {
      Access a;
      a.reads = {x.region, ropeRows};
      a.writes = {out};
      misc(rope.getStyle() == llm::RopeStyle::Interleaved
               ? isa::MiscKind::rope_interleaved
               : isa::MiscKind::rope,
           x.region.row + h * x.layout.groupRows(), isa::ASpace::act,
           ropeRows.row, isa::BSpace::meta, out.row + h * x.layout.groupRows(),
           x.layout.size, R, x.layout.rowsPerToken(), ropeRowsPerPos,
           x.layout.rowsPerToken(), a);
    }
    consumed(op);
    return success();
  }
  if (auto att = dyn_cast<llm::AttentionOp>(op)) {
    if (failed(attention(att, index)))
      return failure();
    consumed(op);
    return success();
  }
  // Element-wise.
  isa::MiscKind kind;
  if (llvm::isa<llm::AddOp>(op))
    kind = isa::MiscKind::add;
  else if (llvm::isa<llm::MulOp>(op))
    kind = isa::MiscKind::mul;
  else if (llvm::isa<llm::SwiGLUOp>(op))
    kind = isa::MiscKind::swiglu;
  else if (llvm::isa<llm::SiluOp>(op))
    kind = isa::MiscKind::silu;
  else if (llvm::isa<llm::GeluOp>(op))
    kind = isa::MiscKind::gelu;
  else if (llvm::isa<llm::GeluTanhOp>(op))
    kind = isa::MiscKind::gelu_tanh;
  else if (llvm::isa<llm::ReluOp>(op))
    kind = isa::MiscKind::relu;
  else
    return failWith(op, "no accelerator lowering for this op");
  Val a = vals[op->getOperand(0)];
  std::optional<Val> b;
  if (op->getNumOperands() > 1)
    b = vals[op->getOperand(1)];
  // In place over an operand that dies here (the residual stream): its rows
  // become the result's (MISC reads a row before writing it).
  Region out;
  Value inPlace;
  for (Value v : op->getOperands())
    if (!inPlace && remaining.lookup(v) == 1 && vals.count(v) &&
        llvm::count(op->getOperands(), v) == 1)
      inPlace = v;
  if (inPlace) {
    Val reuse = vals[inPlace];
    if (reuse.qvec && reuse.qvec->row != reuse.region.row)
      act.free(*reuse.qvec);
    out = reuse.region;
    vals.erase(inPlace);
    remaining.erase(inPlace);
    vals[op->getResult(0)] = Val{out, a.layout, std::nullopt, reuse.pinned};
  } else {
    out = newValue(op->getResult(0), a.layout);
  }
  if (failedAlready)
    return failure();
  Access acc;
  acc.reads = {a.region};
  if (b)
    acc.reads.push_back(b->region);
  acc.writes = {out};
  misc(kind, a.region.row, isa::ASpace::act, b ? b->region.row : 0,
       isa::BSpace::act, out.row, a.layout.physical(), R,
       a.layout.rowsPerToken(), b ? b->layout.rowsPerToken() : 0,
       a.layout.rowsPerToken(), acc);
  consumed(op);
  return success();
}

LogicalResult StreamLowering::segment(llvm::ArrayRef<Operation *> ops,
                                      const std::map<ParamKey, HBMLoc> &locs,
                                      bool layer) {
  remaining.clear();
  done.clear();
  for (Operation *op : ops)
    for (Value v : op->getOperands())
      ++remaining[v];
  for (size_t j = 0; j < ops.size(); ++j) {
    uintptr_t key = layer ? j : reinterpret_cast<uintptr_t>(ops[j]);
    if (failed(lowerOp(ops[j], locs, key, j, ops)))
      return failure();
    if (!e.error().empty())
      return failWith(ops[j], "the model exceeds an ISA limit: " + e.error());
  }
  return success();
}

LogicalResult StreamLowering::prologue() {
  uint32_t R = ctx.tokens;
  Layout dl = Layout::dense(m.hidden);
  uint32_t rowUnits = dl.rowsPerToken() * kRowBytes / kUnitBytes;
  Value x = m.s.layerInputs[0];
  Region xr = alloc(act, dl.rowsPerToken() * R, m.tokenEmbedding, /*value=*/true);
  if (failedAlready)
    return failure();
  const auto &dm = m.result.deviceMap;
  ld(xr, dm.inputChannel,
     (dm.inputOffset + uint64_t(ctx.tile) * R * dm.embedRowBytes) / kUnitBytes,
     isa::BaseReg::zero, isa::ParamReg::zero, 0, uint64_t(R) * rowUnits,
     OffChip::None, info.inputLoadBytes);
  if (m.positionEmbedding) {
    Region pe = alloc(act, dl.rowsPerToken() * R, m.positionEmbedding);
    if (failedAlready)
      return failure();
    ld(pe, m.positionTable.channel,
       m.positionTable.offsetUnits() +
           (uint64_t(ctx.tile) * R + m.positionOffset) * rowUnits,
       isa::BaseReg::zero, isa::ParamReg::P, rowUnits, uint64_t(R) * rowUnits,
       OffChip::None, info.weightLoadBytes);
    Access a;
    a.reads = {xr, pe};
    a.writes = {xr};
    misc(isa::MiscKind::add, xr.row, isa::ASpace::act, pe.row, isa::BSpace::act,
         xr.row, m.hidden, R, dl.rowsPerToken(), dl.rowsPerToken(),
         dl.rowsPerToken(), a);
    act.free(pe);
  }
  vals[x] = Val{xr, dl, std::nullopt, true};
  return success();
}

void StreamLowering::spillTile() {
  Val x = vals[m.s.layerInputs[0]];
  uint32_t R = ctx.tokens;
  uint32_t rowUnits = x.layout.rowsPerToken() * kRowBytes / kUnitBytes;
  st(x.region, m.scratchChannel,
     m.scratchOffset / kUnitBytes + uint64_t(ctx.tile) * R * rowUnits,
     isa::BaseReg::zero, isa::ParamReg::zero, 0, uint64_t(R) * rowUnits,
     OffChip::Scratch, info.activationStoreBytes);
}

LogicalResult StreamLowering::epilogue() {
  // The final norm (and whatever else follows the last layer), then the
  // logits, of the last new token only. Decode has just that row; prefill
  // loads row S - 1 back from the spill area (param S selects it: the LD
  // starts one row before the area), whichever tile computed it.
  Value x = m.s.layerInputs[m.s.numLayers];
  Val xv = vals[m.s.layerInputs[0]];
  vals.erase(m.s.layerInputs[0]);
  llvm::ArrayRef<Operation *> ops = m.s.epilogue();
  for (Operation *op : ops.drop_back())
    if (llvm::isa<llm::AttentionOp, llm::RopeOp, llm::EmbeddingOp>(op))
      return failWith(op, "only per-token ops may follow the last decoder "
                          "layer");
  if (ctx.tokens > 1) {
    uint32_t rowUnits = xv.layout.rowsPerToken() * kRowBytes / kUnitBytes;
    Region last = alloc(act, xv.layout.rowsPerToken(), ops.back());
    if (failedAlready)
      return failure();
    ld(last, m.scratchChannel, m.scratchOffset / kUnitBytes - rowUnits,
       isa::BaseReg::zero, isa::ParamReg::S, rowUnits, rowUnits,
       OffChip::Scratch, info.activationLoadBytes);
    xv = Val{last, xv.layout, std::nullopt, false};
  }
  xv.pinned = true;
  vals[x] = xv;
  ctx.tokens = 1;
  ctx.loopTrip = 1;
  if (failed(segment(ops.drop_back(), m.globalLocs, false)))
    return failure();
  auto logits = cast<llm::LogitsOp>(ops.back());
  LinearPlan p = m.planLinear(logits);
  Region out = alloc(act, rowsFor(4ull * p.nPhys), logits);
  Region xq = quantized(logits.getX(), 1);
  if (failedAlready ||
      failed(linear(logits, m.globalLocs, reinterpret_cast<uintptr_t>(logits.getOperation()),
                    out, rowsFor(4ull * p.nPhys), 1, false, xq)))
    return failure();
  const auto &dm = m.result.deviceMap;
  st(out, dm.logitsChannel, dm.logitsOffset / kUnitBytes, isa::BaseReg::zero,
     isa::ParamReg::zero, 0, roundUp(4ull * m.vocab, kUnitBytes) / kUnitBytes,
     OffChip::Logits, info.outputStoreBytes);
  return success();
}

LogicalResult StreamLowering::emit(binary::Stage stage, uint32_t minLen,
                                   uint32_t maxLen) {
  bool prefill = stage == binary::Stage::Prefill;
  uint32_t R = prefill ? m.target.mmTokens : 1;
  uint32_t tiles = prefill ? (maxLen + R - 1) / R : 1;
  // Pinned for the whole stream: the constants and, for rotary models, the
  // cos/sin rows of every position the stream covers.
  constRegion = alloc(meta, rowsFor(m.constants.bytes), m.s.func);
  if (failedAlready)
    return failure();
  ctx = TileContext{stage, 0, R, 0, false, 1};
  ldParam(constRegion, m.constants, info.weightLoadBytes);
  for (uint32_t j = 0; j < tiles; ++j) {
    ctx = TileContext{stage, j, R,
                      prefill ? (j + 1) * R
                              : static_cast<uint32_t>(roundUp(maxLen, 16)),
                      j + 1 == tiles, 1};
    vals.clear();
    if (failed(prologue()))
      return failure();
    Val xIn = vals[m.s.layerInputs[0]];
    if (m.ropeCos) {
      uint32_t perPos = rowsFor(m.ropeRowBytes);
      ropeRows = alloc(meta, perPos * R, m.ropeCos);
      if (failedAlready)
        return failure();
      ld(ropeRows, m.ropeTable.channel,
         m.ropeTable.offsetUnits() + uint64_t(j) * R * (m.ropeRowBytes / kUnitBytes),
         isa::BaseReg::zero, isa::ParamReg::P, m.ropeRowBytes / kUnitBytes,
         uint64_t(R) * (m.ropeRowBytes / kUnitBytes), OffChip::None,
         info.weightLoadBytes);
    }
    size_t before = e.words().size();
    e.barrier();
    e.sys(isa::SysKind::set_layer, 0);
    e.sys(isa::SysKind::loop, m.s.numLayers);
    size_t bodyStart = e.words().size();
    ctx.loopTrip = m.s.numLayers;
    if (failed(segment(m.s.layerOps(0), m.layerLocs, true)))
      return failure();
    Value out0 = m.s.layerInputs[1];
    // The layer must leave its output where it found its input.
    if (!vals.count(out0))
      return failWith(m.s.layerOps(0).back(), "the layer output was not computed");
    Val o = vals[out0];
    if (o.region.row != xIn.region.row) {
      Access a;
      a.reads = {o.region};
      a.writes = {xIn.region};
      misc(isa::MiscKind::copy, o.region.row, isa::ASpace::act, 0,
           isa::BSpace::act, xIn.region.row,
           xIn.layout.rowsPerToken() * kRowBytes, R, xIn.layout.rowsPerToken(),
           0, xIn.layout.rowsPerToken(), a);
    }
    vals.clear();
    vals[m.s.layerInputs[0]] = xIn;
    e.sys(isa::SysKind::add_layer, 1);
    e.barrier();
    e.sys(isa::SysKind::endloop);
    info.bodyWords += e.words().size() - bodyStart;
    (void)before;
    ctx.loopTrip = 1;
    // The last new token (row S - 1) may be in any tile from the one holding
    // row minLen - 1 on.
    if (prefill && (j + 1) * R >= minLen)
      spillTile();
    if (ctx.last && failed(epilogue()))
      return failure();
    // The tile's rows are free for the next tile.
    act.reset();
    if (m.ropeCos)
      meta.free(ropeRows);
  }
  e.sys(isa::SysKind::end);
  // Dependency tokens, a separate step over the complete stream (the
  // flight-insert-tokens pass's algorithm); or the accesses, for that pass.
  if (m.options.insertTokens)
    e.insertTokens();
  else
    info.accesses = e.takeAccesses();
  info.tokenWork = e.trackerWork();
  info.otherWords = e.words().size() - info.bodyWords;
  info.instructions = e.stats().instructions;
  for (int i = 0; i < 16; ++i)
    info.perOpcode[i] = e.stats().perOpcode[i];
  info.words = e.takeWords();
  return success();
}

LogicalResult ModelLowering::emitBucket(binary::Stage stage, uint32_t minLen,
                                        uint32_t maxLen) {
  StreamInfo info;
  info.stage = stage;
  info.minLength = minLen;
  info.maxLength = maxLen;
  info.name = (stage == binary::Stage::Prefill ? "prefill_" : "decode_") +
              std::to_string(maxLen);
  StreamLowering lowering(*this, info);
  if (failed(lowering.emit(stage, minLen, maxLen)))
    return failure();
  result.peakActBytes = std::max<uint64_t>(result.peakActBytes, lowering.peakAct() * kRowBytes);
  result.peakWeightBytes = std::max<uint64_t>(result.peakWeightBytes, lowering.peakWeight() * kRowBytes);
  result.peakMetaBytes = std::max<uint64_t>(result.peakMetaBytes, lowering.peakMeta() * kRowBytes);
  result.streams.push_back(std::move(info));
  return success();
}
