//===- InstructionSelection.cpp - One bucket at the buffer level ----------===//
//
// Selects the instructions of one length bucket as buffer-level flight ops
// (flight-select-instructions): per 128-token tile (prefill) or for the one
// new token (decode) the prologue (input rows, position embeddings), the
// decoder layer once inside a flight.layer_body, and for the last tile the
// epilogue (final norm, logits, stored to HBM) of the last new token, which
// prefill tiles leave in a spill area. Values get `value` buffers in act
// that live until their last use; weight tiles and KV rows stream through
// `temporary` buffers in weight, parameters through meta. flight-plan-buffers
// then gives every buffer its rows. Each op is lowered on its own, unfused:
// every result gets rows of its own, every linear quantizes its input into
// a temporary of its own, a SwiGLU is a MISC over its gate and up linears'
// full results. The fusion passes that follow (flight-fuse-swiglu,
// flight-share-quantize, flight-fuse-in-place, flight-fuse) decide the
// rest. docs/lowering.md.
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "flightllm/Dialect/Flight/FlightDialect.h"
#include "flightllm/Dialect/Flight/Transforms/Passes.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;
using flight::BaseRegister;
using flight::HbmData;
using flight::MemorySpace;
using flight::RunTimeParam;

namespace flightllm::lowering {

/// Tags every op the builder creates with the core that runs it
/// (flight::kCoreAttr); core -1: all cores, no tag.
struct CoreTagger : public OpBuilder::Listener {
  int64_t core = -1;
  void notifyOperationInserted(Operation *op,
                               OpBuilder::InsertPoint) override {
    if (core >= 0 && !llvm::isa<flight::HbmRegionOp>(op))
      op->setAttr(flight::kCoreAttr,
                  IntegerAttr::get(IntegerType::get(op->getContext(), 64),
                                   core));
  }
};

class InstructionSelection {
public:
  InstructionSelection(ModelLowering &m, OpBuilder &b) : m(m), b(b) {
    previousListener = b.getListener();
    if (cores() > 1)
      b.setListener(&tagger);
  }
  ~InstructionSelection() { b.setListener(previousListener); }

  FailureOr<flight::BucketOp> select(const BucketRange &range);

private:
  struct Val {
    Value buffer;
    Layout layout;
    bool pinned = false; ///< never deallocated here (the layer's input)
  };

  // Buffers.
  Value alloc(MemorySpace space, uint32_t rows, Operation *at,
              bool value = false);
  void dealloc(Value buffer);
  void release(Value v);
  void consumed(Operation *op);
  /// The HBM region `name` of `bytes` (one op per region and bucket),
  /// without a place: flight-hbm-layout gives it one.
  Value region(uint64_t bytes, HbmData holds, const Twine &name);
  static uint32_t rowsOf(Value buffer) {
    return static_cast<uint32_t>(
        cast<flight::BufferType>(buffer.getType()).getSizeInBytes() / kRowBytes);
  }

  // Instructions.
  void ld(Value dst, uint32_t row, Value src, uint64_t offset, uint64_t length,
          BaseRegister base = BaseRegister::Zero,
          RunTimeParam param = RunTimeParam::Zero, uint64_t stride = 0,
          uint64_t chunk = 0);
  void ldParam(Value dst, uint32_t row, const HBMLoc &loc, const Twine &name);
  void st(Value src, Value dst, uint64_t offset, uint64_t length,
          BaseRegister base = BaseRegister::Zero,
          RunTimeParam param = RunTimeParam::Zero, uint64_t stride = 0,
          uint32_t row = 0);
  /// Loads weight tile t of a linear into `w` (flight-hbm-layout splits the
  /// load into one per stripe).
  void loadTile(Value w, const std::map<ParamKey, HBMLoc> &locs, uintptr_t key,
                const LinearPlan &p, int64_t t, const std::string &name);
  struct MiscOperand {
    Value buffer;
    uint32_t row = 0, step = 0;
  };
  void misc(isa::MiscKind kind, MiscOperand a, std::optional<MiscOperand> bOp,
            MiscOperand out, uint32_t k, uint32_t rows, bool masked = false,
            uint32_t posOff = 0);
  void matrix(uint32_t tokens, Value x, Value w, Value scales,
              uint32_t scalesRow, Value out, uint32_t outRow, uint64_t kBlocks,
              uint64_t n, uint32_t outStride, bool f32, bool bias, bool relu,
              bool kMajor, const LinearPlan *format = nullptr);
  /// MISC quantize_dynamic of `rows` rows of k fp16 values (step srcStep)
  /// into qvecs in `dst` (one every qvecRows(k) rows).
  void quantizeRows(Value src, uint32_t srcStep, uint32_t k, uint32_t rows,
                    Value dst);

  // Cores.
  unsigned cores() const { return m.options.cores; }
  /// The core of item i of n (tiles, KV heads): contiguous blocks.
  int64_t coreOf(int64_t i, int64_t n) const { return i * cores() / n; }
  /// Runs the ops created in `emitOps` on core `core` (-1: all).
  template <typename F> void onCore(int64_t core, F &&emitOps) {
    int64_t saved = tagger.core;
    tagger.core = cores() > 1 ? core : -1;
    emitOps();
    tagger.core = saved;
  }
  /// After items split over the cores (item i at bytes [i * itemBytes, ...)
  /// of each token, at most `endBytes`): every core gets every slice.
  void exchange(Value buffer, uint32_t tokens, uint32_t rowStride,
                int64_t items, uint64_t itemBytes, uint64_t endBytes);

  // Values.
  /// A temporary with v's rows quantized for one linear (the caller
  /// deallocates it after the linear; flight-share-quantize shares it).
  Value quantized(Value v, uint32_t tokens, Operation *user);
  void linear(Operation *op, const std::map<ParamKey, HBMLoc> &locs,
              uintptr_t key, const std::string &name, Value out,
              uint32_t outStride, uint32_t tokens, bool relu, Value xq);
  LogicalResult lowerOp(Operation *op, const std::map<ParamKey, HBMLoc> &locs,
                        uintptr_t key, size_t index, bool layer);
  void attention(llm::AttentionOp op, size_t index);
  /// Attention of `rows` rows from token row `seq` of q, k, v into `out`
  /// (all rows of a prefill tile; one sequence of a batched decode run).
  void attentionRows(llm::AttentionOp op, size_t index, Value out,
                     uint32_t seq, uint32_t rows);
  /// Batched decode: the sequences are the rows (docs/lowering.md).
  bool batched() const {
    return ctx.stage == binary::Stage::Decode && ctx.tokens > 1;
  }
  /// Per sequence of a batched decode run (each with its own P and KV
  /// slot: SYS select_seq), or once for the whole tile.
  template <typename F> void perSequence(F &&emitRows) {
    if (!batched()) {
      emitRows(0u, ctx.tokens);
      return;
    }
    for (uint32_t seq = 0; seq < ctx.tokens; ++seq) {
      flight::SelectSeqOp::create(b, loc, int64_t(seq));
      emitRows(seq, 1u);
    }
  }
  /// 4-bit KV cache, phase 1 for kv head g: this run's keys and values as
  /// packed 4-bit rows appended to the cache, their value scales placed in
  /// the head's scale vector (loaded here, stored back, and returned in
  /// `scales` for the probabilities). `R` rows from token rows kBase/vBase.
  void appendKV4(llm::AttentionOp op, int64_t g, const Val &k, const Val &v,
                 const Layout &kL, uint32_t R, uint32_t kBase, uint32_t vBase,
                 Value pm, uint32_t ikAddr, Value kCache, Value vCache,
                 const std::string &name, uint64_t posBase, Value &scales);
  LogicalResult segment(llvm::ArrayRef<Operation *> ops,
                        const std::map<ParamKey, HBMLoc> &locs, bool layer);
  void prologue();
  /// Prefill: stores the tile's layer output rows to the spill area, at the
  /// tile's rows.
  void spillTile();
  LogicalResult epilogue();

  /// The spill area's region starts with the row in front of the area that
  /// keeps the epilogue's LD (param S: row S - 1) inside the channel.
  uint64_t spillFront() const { return m.result.deviceMap.embedRowBytes; }
  Value spillArea() {
    const auto &dm = m.result.deviceMap;
    return region(spillFront() + uint64_t(dm.inputRows) * dm.embedRowBytes,
                  HbmData::Scratch, "spill");
  }

  /// Region names of the current layer group's (or the epilogue's)
  /// parameters.
  std::string paramName(Operation *op, size_t index, bool layer) const {
    return ModelLowering::paramName(
        op, index, layer ? m.layerPrefix(group) : std::string("final."));
  }

  ModelLowering &m;
  OpBuilder &b;
  CoreTagger tagger;
  OpBuilder::Listener *previousListener = nullptr;
  /// Where the next HBM region goes: the top of the bucket.
  OpBuilder::InsertPoint regionPoint;
  /// The regions by name (one name per place).
  llvm::StringMap<Value> regions;
  Location loc = UnknownLoc::get(b.getContext());
  llvm::DenseMap<Value, Val> vals;
  llvm::DenseMap<Value, int> remaining;
  TileContext ctx;
  Value ropeRows, constRegion;
  /// The layer group whose body is being selected.
  unsigned group = 0;
};

} // namespace flightllm::lowering

//===----------------------------------------------------------------------===//
// Buffers
//===----------------------------------------------------------------------===//

Value InstructionSelection::alloc(MemorySpace space, uint32_t rows,
                                  Operation *at, bool value) {
  // A buffer holds whole rows; an empty one takes a row (as the allocator
  // always did).
  auto type = flight::BufferType::get(
      {int64_t(std::max<uint32_t>(rows, 1)), int64_t(kRowBytes)},
      b.getIntegerType(8), space);
  return flight::BufAllocOp::create(
      b, at->getLoc(), type,
      value ? flight::AllocPolicy::Value : flight::AllocPolicy::Temporary);
}

void InstructionSelection::dealloc(Value buffer) {
  flight::BufDeallocOp::create(b, loc, buffer);
}

void InstructionSelection::release(Value v) {
  auto it = vals.find(v);
  if (it == vals.end() || it->second.pinned)
    return;
  dealloc(it->second.buffer);
  vals.erase(it);
}

void InstructionSelection::consumed(Operation *op) {
  for (Value v : op->getOperands()) {
    auto it = remaining.find(v);
    if (it == remaining.end())
      continue;
    if (--it->second == 0)
      release(v);
  }
}

Value InstructionSelection::region(uint64_t bytes, HbmData holds,
                                   const Twine &name) {
  std::string key = name.str();
  auto it = regions.find(key);
  if (it != regions.end())
    return it->second;
  OpBuilder::InsertionGuard guard(b);
  b.restoreInsertionPoint(regionPoint);
  auto type = flight::BufferType::get({int64_t(std::max<uint64_t>(bytes, 1))},
                                      b.getIntegerType(8), MemorySpace::Hbm);
  Value r = flight::HbmRegionOp::create(b, b.getUnknownLoc(), type, key,
                                        holds, IntegerAttr(), IntegerAttr());
  regionPoint = b.saveInsertionPoint();
  regions[key] = r;
  return r;
}

//===----------------------------------------------------------------------===//
// Instructions
//===----------------------------------------------------------------------===//

void InstructionSelection::ld(Value dst, uint32_t row, Value src,
                              uint64_t offset, uint64_t length,
                              BaseRegister base, RunTimeParam param,
                              uint64_t stride, uint64_t chunk) {
  flight::TileLoadOp::create(b, loc, src, dst, int64_t(offset), int64_t(row),
                             int64_t(length), base, param, int64_t(stride),
                             int64_t(chunk));
}

void InstructionSelection::ldParam(Value dst, uint32_t row, const HBMLoc &l,
                                   const Twine &name) {
  ld(dst, row, region(l.bytes, HbmData::Params, name), 0,
     roundUp(l.bytes, kUnitBytes),
     l.perLayer ? BaseRegister::B1 : BaseRegister::Zero);
}

void InstructionSelection::st(Value src, Value dst, uint64_t offset,
                              uint64_t length, BaseRegister base,
                              RunTimeParam param, uint64_t stride,
                              uint32_t row) {
  flight::TileStoreOp::create(b, loc, src, dst, int64_t(row), int64_t(offset),
                              int64_t(length), base, param, int64_t(stride));
}

void InstructionSelection::loadTile(Value w,
                                    const std::map<ParamKey, HBMLoc> &locs,
                                    uintptr_t key, const LinearPlan &p,
                                    int64_t t, const std::string &name) {
  uint64_t bytes = uint64_t(p.tileChannels(t)) * p.rowBytes;
  ld(w, 0, region(bytes, HbmData::Params, name + ".w" + std::to_string(t)), 0,
     bytes,
     locs.at({key, 1, int(t)}).perLayer ? BaseRegister::B1 : BaseRegister::Zero);
}

void InstructionSelection::misc(isa::MiscKind kind, MiscOperand a,
                                std::optional<MiscOperand> bOp,
                                MiscOperand out, uint32_t k, uint32_t rows,
                                bool masked, uint32_t posOff) {
  const char *name =
      isa::enumValueName(isa::EnumId::MiscKind, static_cast<int64_t>(kind));
  flight::BufMiscOp::create(
      b, loc, llvm::StringRef(name), a.buffer, bOp ? bOp->buffer : Value(),
      out.buffer, a.row, bOp ? bOp->row : 0, out.row, k, rows, a.step,
      bOp ? bOp->step : 0, out.step, masked, posOff);
}

void InstructionSelection::matrix(uint32_t tokens, Value x, Value w,
                                  Value scales, uint32_t scalesRow, Value out,
                                  uint32_t outRow, uint64_t kBlocks, uint64_t n,
                                  uint32_t outStride, bool f32, bool bias,
                                  bool relu, bool kMajor,
                                  const LinearPlan *format) {
  auto precision = format && format->bits == 4 ? flight::Precision::W4A8
                                               : flight::Precision::W8A8;
  auto sparsity = flight::Sparsity::Dense;
  if (format && format->kept < 16)
    sparsity = format->kept == 8   ? flight::Sparsity::N8
               : format->kept == 4 ? flight::Sparsity::N4
                                   : flight::Sparsity::N2;
  bool grouped = format && format->grouped();
  auto build = [&](auto tag, uint32_t xRow, uint32_t oRow) {
    using OpTy = decltype(tag);
    auto op = OpTy::create(b, loc, x, w, scales, out, scalesRow, oRow,
                           int64_t(kBlocks), int64_t(n), outStride,
                           f32 ? "f32" : "f16", bias, relu, kMajor, precision,
                           sparsity, grouped, xRow);
    (void)op;
  };
  // A batched decode run: one MV per sequence on the weight tile loaded
  // once (what batching buys when weights stream from HBM). The MM would
  // compute a whole mm.tokens tile for a few rows, slower below 32 rows on
  // the u280 (docs/lowering.md, "Batched decode").
  if (batched()) {
    uint32_t xStride = qvecRows(kBlocks * isa::kKBlock);
    for (uint32_t t = 0; t < tokens; ++t)
      build(flight::BufMVOp(), t * xStride, outRow + t * outStride);
  } else if (tokens > 1) {
    build(flight::BufMMOp(), 0, outRow);
  } else {
    build(flight::BufMVOp(), 0, outRow);
  }
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

void InstructionSelection::quantizeRows(Value src, uint32_t srcStep,
                                        uint32_t k, uint32_t rows, Value dst) {
  misc(isa::MiscKind::quantize_dynamic, {src, 0, srcStep}, std::nullopt,
       {dst, 0, qvecRows(k)}, k, rows);
}

Value InstructionSelection::quantized(Value v, uint32_t tokens,
                                     Operation *user) {
  const Val &val = vals[v];
  uint32_t k = val.layout.physical();
  Value q = alloc(MemorySpace::Act, qvecRows(k) * tokens, user);
  quantizeRows(val.buffer, val.layout.rowsPerToken(), k, tokens, q);
  return q;
}

void InstructionSelection::linear(Operation *op,
                                  const std::map<ParamKey, HBMLoc> &locs,
                                  uintptr_t key, const std::string &name,
                                  Value out, uint32_t outStride,
                                  uint32_t tokens, bool relu, Value xq) {
  LinearPlan p = m.planLinear(op);
  uint32_t elem = p.f32Out ? 4 : 2;
  for (int64_t t = 0; t < p.tiles; ++t) {
    onCore(coreOf(t, p.tiles), [&] {
      int64_t n = p.tileChannels(t);
      const HBMLoc &ml = locs.at({key, 1, int(t)});
      Value w = alloc(MemorySpace::Weight, rowsFor(n * p.rowBytes), op);
      Value s = alloc(MemorySpace::Meta, rowsFor(ml.bytes), op);
      loadTile(w, locs, key, p, t, name);
      ldParam(s, 0, ml, name + ".scales" + std::to_string(t));
      matrix(tokens, xq, w, s, 0, out,
             static_cast<uint32_t>(t * p.tileN * elem / kRowBytes),
             p.kPhys / isa::kKBlock, n, outStride, p.f32Out, p.bias, relu,
             false, &p);
      dealloc(w);
      dealloc(s);
    });
  }
  exchange(out, tokens, outStride, p.tiles, uint64_t(p.tileN) * elem,
           uint64_t(p.nPhys) * elem);
}

void InstructionSelection::exchange(Value buffer, uint32_t tokens,
                                    uint32_t rowStride, int64_t items,
                                    uint64_t itemBytes, uint64_t endBytes) {
  if (cores() <= 1)
    return;
  endBytes = roundUp(endBytes, kUnitBytes);
  SmallVector<int64_t> slices;
  int64_t item = 0;
  for (unsigned c = 0; c <= cores(); ++c) {
    while (item < items && coreOf(item, items) < int64_t(c))
      ++item;
    slices.push_back(int64_t(std::min<uint64_t>(item * itemBytes, endBytes)));
  }
  slices.back() = int64_t(endBytes);
  flight::BufExchangeOp::create(b, loc, buffer, b.getI64IntegerAttr(tokens),
                                b.getI64IntegerAttr(rowStride),
                                b.getDenseI64ArrayAttr(slices));
}

void InstructionSelection::attention(llm::AttentionOp op, size_t index) {
  Layout outL = Layout::heads(op.getNumHeads(), m.headDim);
  Value out = alloc(MemorySpace::Act, outL.rowsPerToken() * ctx.tokens, op,
                    /*value=*/true);
  perSequence([&](uint32_t seq, uint32_t rows) {
    attentionRows(op, index, out, seq, rows);
  });
  vals[op.getOutput()] = Val{out, outL, false};
  int64_t hq = op.getNumHeads(), hkv = op.getNumKvHeads();
  exchange(out, ctx.tokens, outL.rowsPerToken(), hkv,
           uint64_t(hq / hkv) * outL.groupRows() * kRowBytes,
           uint64_t(hq) * outL.groupRows() * kRowBytes);
}

void InstructionSelection::attentionRows(llm::AttentionOp op, size_t index,
                                         Value out, uint32_t seq,
                                         uint32_t rows) {
  uint32_t R = rows, T = ctx.context;
  int64_t hq = op.getNumHeads(), hkv = op.getNumKvHeads(), dh = m.headDim;
  Layout qL = vals[op.getQuery()].layout, kL = vals[op.getKey()].layout;
  Layout outL = Layout::heads(hq, dh);
  // One token's K (V) row in HBM; on chip it takes whole rows (the 4-bit
  // rows load with LD row_align: one MM/MV B row per token).
  bool kv4 = m.kvBits == 4;
  uint64_t rowKV = m.kvRowBytes();
  uint32_t rowKVRows = rowsFor(rowKV);
  uint64_t chunk = kv4 ? rowKV : 0;
  // The K and V operands' format: INT8, or INT4 nibbles (dense, per channel).
  LinearPlan kvFormat;
  kvFormat.bits = kv4 ? 4 : 8;
  Val q = vals[op.getQuery()], k = vals[op.getKey()], v = vals[op.getValue()];
  // Token row `seq` of each operand (0 unless batched).
  uint32_t qBase = seq * qL.rowsPerToken(), kBase = seq * kL.rowsPerToken(),
           vBase = seq * v.layout.rowsPerToken(),
           outBase = seq * outL.rowsPerToken();
  uint64_t a = roundUp(2 * dh, kRowBytes), bb = roundUp(4 * dh, kRowBytes);
  uint32_t scoreRows = rowsFor(2ull * T);
  uint64_t posBase = uint64_t(ctx.tile) * R;
  std::string name = "layer.attention" + std::to_string(index);
  auto cache = [&](int64_t slot) {
    return region(uint64_t(m.kvRows) * rowKV, HbmData::KVCache,
                  name + (slot % 2 ? ".v" : ".k") + std::to_string(slot / 2));
  };
  std::string paramsName =
      m.layerPrefix(group) + "attention" + std::to_string(index);
  // Phase 1, per KV head: its parameters (kept until its last query head),
  // and this run's K and V rows quantized and appended to the cache.
  std::vector<Value> params(hkv), valueScales(hkv);
  for (int64_t g = 0; g < hkv; ++g) {
   onCore(coreOf(g, hkv), [&] {
    const HBMLoc &pl = m.groupLocs[group].at({index, 3, int(g)});
    Value pm = alloc(MemorySpace::Meta, rowsFor(pl.bytes), op);
    params[g] = pm;
    ldParam(pm, 0, pl, paramsName + ".kv_params" + std::to_string(g));
    uint32_t ikAddr = rowsFor(a), ivAddr = rowsFor(a + bb);
    if (kv4) {
      appendKV4(op, g, k, v, kL, R, kBase, vBase, pm, ikAddr, cache(2 * g),
                cache(2 * g + 1), name, posBase, valueScales[g]);
      return;
    }
    for (int kv = 0; kv < 2; ++kv) {
      const Val &src = kv ? v : k;
      Value stg = alloc(MemorySpace::Act, rowKVRows * R, op);
      misc(isa::MiscKind::quantize,
           {src.buffer,
            static_cast<uint32_t>(g * kL.groupRows()) + (kv ? vBase : kBase),
            src.layout.rowsPerToken()},
           MiscOperand{pm, kv ? ivAddr : ikAddr, 0}, {stg, 0, rowKVRows}, dh,
           R);
      st(stg, cache(2 * g + kv), posBase * rowKV, uint64_t(R) * rowKV,
         BaseRegister::B2, RunTimeParam::P, rowKV);
      dealloc(stg);
    }
   });
  }

  // Phase 2, per query head h, four stages: A (q times the K scales,
  // quantized; SFU), B (scores; matrix), C (softmax, quantized; SFU), D (P·V;
  // matrix). flight-schedule reorders them software-pipelined, A(h+1) before
  // C(h) and B(h+1) before D(h), so each queue has the next head's work
  // while the other finishes this one's. A KV head's cache rows are loaded
  // when its first query head reaches B, together with the next KV head's
  // (one ahead), and freed after its last query head's D.
  int64_t perGroup = hq / hkv;
  std::vector<Value> wkOf(hkv), wvOf(hkv);
  std::vector<bool> loaded(hkv, false);
  auto ensureLoaded = [&](int64_t g) {
    if (g >= hkv || loaded[g])
      return;
    loaded[g] = true;
    onCore(coreOf(g, hkv), [&] {
      uint32_t rows = kv4 ? T * rowKVRows : rowsFor(T * rowKV);
      wkOf[g] = alloc(MemorySpace::Weight, rows, op);
      wvOf[g] = alloc(MemorySpace::Weight, rows, op);
      ld(wkOf[g], 0, cache(2 * g), 0, uint64_t(T) * rowKV, BaseRegister::B2,
         RunTimeParam::Zero, 0, chunk);
      ld(wvOf[g], 0, cache(2 * g + 1), 0, uint64_t(T) * rowKV,
         BaseRegister::B2, RunTimeParam::Zero, 0, chunk);
    });
  };
  uint32_t qRows = rowsFor(2 * dh);
  struct HeadBuffers {
    Value qq, sc, pq;
  };
  std::vector<HeadBuffers> heads(hq);
  auto stageA = [&](int64_t h) {
    Value pm = params[h / perGroup];
    Value t1 = alloc(MemorySpace::Act, qRows * R, op);
    Value qq = alloc(MemorySpace::Act, qvecRows(dh) * R, op);
    misc(isa::MiscKind::mul,
         {q.buffer, static_cast<uint32_t>(h * qL.groupRows()) + qBase,
          qL.rowsPerToken()},
         MiscOperand{pm, 0, 0}, {t1, 0, qRows}, dh, R);
    quantizeRows(t1, qRows, dh, R, qq);
    dealloc(t1);
    heads[h].qq = qq;
  };
  auto stageB = [&](int64_t h) {
    int64_t g = h / perGroup;
    ensureLoaded(g);
    ensureLoaded(g + 1);
    Value sc = alloc(MemorySpace::Act, scoreRows * R, op);
    matrix(R, heads[h].qq, wkOf[g], constRegion, 1, sc, 0,
           roundUp(dh, isa::kKBlock) / isa::kKBlock, T, scoreRows,
           /*f32=*/false, false, false, false, &kvFormat);
    dealloc(heads[h].qq);
    heads[h].sc = sc;
  };
  auto stageC = [&](int64_t h) {
    Value sc = heads[h].sc;
    Value pq = alloc(MemorySpace::Act, qvecRows(T) * R, op);
    misc(isa::MiscKind::softmax, {sc, 0, scoreRows},
         MiscOperand{constRegion, 0, 0}, {sc, 0, scoreRows}, T, R,
         /*masked=*/true, static_cast<uint32_t>(posBase));
    // 4-bit values: p' = h(p * vs) carries the per-token value scales
    // (masked: the scales beyond a row's position are stale).
    if (kv4)
      misc(isa::MiscKind::mul, {sc, 0, scoreRows},
           MiscOperand{valueScales[h / perGroup], 0, 0}, {sc, 0, scoreRows}, T,
           R, /*masked=*/true, static_cast<uint32_t>(posBase));
    quantizeRows(sc, scoreRows, T, R, pq);
    dealloc(sc);
    heads[h].pq = pq;
  };
  auto stageD = [&](int64_t h) {
    int64_t g = h / perGroup;
    Value pm = params[g];
    matrix(R, heads[h].pq, wvOf[g], pm, rowsFor(a + 2 * bb), out,
           static_cast<uint32_t>(h * outL.groupRows()) + outBase,
           T / isa::kKBlock,
           outL.pad, outL.rowsPerToken(), /*f32=*/false, false, false, true,
           &kvFormat);
    dealloc(heads[h].pq);
    if ((h + 1) % perGroup == 0) {
      dealloc(wkOf[g]);
      dealloc(wvOf[g]);
      dealloc(pm);
      if (kv4)
        dealloc(valueScales[g]);
    }
  };
  // Plain per-head order, each stage's ops tagged for flight-schedule,
  // which pipelines them across heads.
  Block *block = b.getInsertionBlock();
  auto staged = [&](int64_t h, int64_t stage, auto &&emitStage) {
    Operation *last = block->empty() ? nullptr : &block->back();
    onCore(coreOf(h / perGroup, hkv), [&] { emitStage(h); });
    if (block->empty())
      return;
    auto tag = b.getDenseI64ArrayAttr({int64_t(index), h, stage});
    for (Operation *op = last ? last->getNextNode() : &block->front(); op;
         op = op->getNextNode())
      op->setAttr(flight::kAttentionStageAttr, tag);
  };
  for (int64_t h = 0; h < hq; ++h) {
    staged(h, 0, stageA);
    staged(h, 1, stageB);
    staged(h, 2, stageC);
    staged(h, 3, stageD);
  }
}

void InstructionSelection::appendKV4(llm::AttentionOp op, int64_t g,
                                     const Val &k, const Val &v,
                                     const Layout &kL, uint32_t R,
                                     uint32_t kBase, uint32_t vBase, Value pm,
                                     uint32_t ikAddr, Value kCache,
                                     Value vCache, const std::string &name,
                                     uint64_t posBase, Value &scales) {
  uint32_t T = ctx.context;
  uint32_t dh = uint32_t(m.headDim);
  uint64_t rowKV = m.kvRowBytes();
  Value vsRegion = region(m.kvScaleBytes(), HbmData::KVCache,
                          name + ".vs" + std::to_string(g));
  // The head's scale vector, positions 0 .. T - 1 (fp16).
  scales = alloc(MemorySpace::Act, rowsFor(2ull * T), op);
  ld(scales, 0, vsRegion, 0, 2ull * T, BaseRegister::B2);
  uint32_t headRow = static_cast<uint32_t>(g * kL.groupRows());
  // Keys: static per-channel scales, R packed rows, one ST at row P.
  Value kRows = alloc(MemorySpace::Act, rowsFor(R * rowKV), op);
  misc(isa::MiscKind::quantize4,
       {k.buffer, headRow + kBase, k.layout.rowsPerToken()},
       MiscOperand{pm, ikAddr, 0}, {kRows, 0, 0}, dh, R);
  st(kRows, kCache, posBase * rowKV, uint64_t(R) * rowKV, BaseRegister::B2,
     RunTimeParam::P, rowKV);
  dealloc(kRows);
  // Values: per-token scales after the packed rows; the rows go to the
  // cache, the scales into the vector at positions P + posBase + r, which
  // goes back whole (an ST moves whole 32-byte units, 16 scales).
  uint32_t scalesAt = numerics::kv4ScalesOffset(dh, R);
  Value vRows = alloc(MemorySpace::Act, rowsFor(scalesAt + 2ull * R), op);
  misc(isa::MiscKind::quantize_value4,
       {v.buffer, headRow + vBase, v.layout.rowsPerToken()}, std::nullopt,
       {vRows, 0, 0}, dh, R);
  st(vRows, vCache, posBase * rowKV, uint64_t(R) * rowKV, BaseRegister::B2,
     RunTimeParam::P, rowKV);
  misc(isa::MiscKind::place, {vRows, scalesAt / uint32_t(kRowBytes), 0},
       std::nullopt, {scales, 0, 0}, R, 1, /*masked=*/false,
       static_cast<uint32_t>(posBase));
  dealloc(vRows);
  st(scales, vsRegion, 0, 2ull * T, BaseRegister::B2);
}

LogicalResult InstructionSelection::lowerOp(
    Operation *op, const std::map<ParamKey, HBMLoc> &locs, uintptr_t key,
    size_t index, bool layer) {
  uint32_t R = ctx.tokens;
  loc = op->getLoc();
  auto newValue = [&](Value v, Layout l) -> Value {
    Value r = alloc(MemorySpace::Act, l.rowsPerToken() * R, op, /*value=*/true);
    vals[v] = Val{r, l, false};
    return r;
  };
  if (auto lin = dyn_cast<llm::LinearOp>(op)) {
    // A ReLU or SwiGLU after the linear stays a MISC here (flight-fuse folds
    // the ReLU into the MM, flight-fuse-swiglu fuses gate, up and SwiGLU).
    Layout ol = m.layoutOf(lin.getResult());
    Value out = newValue(lin.getResult(), ol);
    Value xq = quantized(lin.getX(), R, op);
    linear(op, locs, key, paramName(op, index, layer), out, ol.rowsPerToken(),
           R, /*relu=*/false, xq);
    consumed(op);
    dealloc(xq);
    return success();
  }
  if (llvm::isa<llm::LayerNormOp, llm::RMSNormOp>(op)) {
    bool ln = llvm::isa<llm::LayerNormOp>(op);
    const HBMLoc &pl = locs.at({key, 2, 0});
    Val x = vals[op->getOperand(0)];
    Value pm = alloc(MemorySpace::Meta, rowsFor(pl.bytes), op);
    Value out = newValue(op->getResult(0), x.layout);
    ldParam(pm, 0, pl, paramName(op, index, layer));
    misc(ln ? isa::MiscKind::layernorm : isa::MiscKind::rmsnorm,
         {x.buffer, 0, x.layout.rowsPerToken()}, MiscOperand{pm, 0, 0},
         {out, 0, x.layout.rowsPerToken()}, x.layout.physical(), R);
    dealloc(pm);
    consumed(op);
    return success();
  }
  if (auto rope = dyn_cast<llm::RopeOp>(op)) {
    Val x = vals[rope.getX()];
    Value out = newValue(rope.getResult(), x.layout);
    uint32_t ropeRowsPerPos = rowsFor(m.ropeRowBytes);
    for (int64_t h = 0; h < x.layout.groups; ++h) {
      uint32_t row = static_cast<uint32_t>(h * x.layout.groupRows());
      misc(rope.getStyle() == llm::RopeStyle::Interleaved
               ? isa::MiscKind::rope_interleaved
               : isa::MiscKind::rope,
           {x.buffer, row, x.layout.rowsPerToken()},
           MiscOperand{ropeRows, 0, ropeRowsPerPos},
           {out, row, x.layout.rowsPerToken()}, x.layout.size, R);
    }
    consumed(op);
    return success();
  }
  if (auto att = dyn_cast<llm::AttentionOp>(op)) {
    attention(att, index);
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
    return op->emitError("no accelerator lowering for this op");
  Val a = vals[op->getOperand(0)];
  std::optional<Val> bv;
  if (op->getNumOperands() > 1)
    bv = vals[op->getOperand(1)];
  // Rows of its own; flight-fuse-in-place writes it over an operand that
  // dies here (the residual stream).
  Value out = newValue(op->getResult(0), a.layout);
  std::optional<MiscOperand> bOp;
  if (bv)
    bOp = MiscOperand{bv->buffer, 0, bv->layout.rowsPerToken()};
  misc(kind, {a.buffer, 0, a.layout.rowsPerToken()}, bOp,
       {out, 0, a.layout.rowsPerToken()}, a.layout.physical(), R);
  consumed(op);
  return success();
}

LogicalResult InstructionSelection::segment(
    llvm::ArrayRef<Operation *> ops, const std::map<ParamKey, HBMLoc> &locs,
    bool layer) {
  remaining.clear();
  for (Operation *op : ops)
    for (Value v : op->getOperands())
      ++remaining[v];
  for (size_t j = 0; j < ops.size(); ++j) {
    uintptr_t key = layer ? j : reinterpret_cast<uintptr_t>(ops[j]);
    if (failed(lowerOp(ops[j], locs, key, j, layer)))
      return failure();
  }
  return success();
}

void InstructionSelection::prologue() {
  uint32_t R = ctx.tokens;
  Layout dl = Layout::dense(m.hidden);
  uint64_t rowBytes = dl.rowsPerToken() * kRowBytes;
  Value x = m.s.layerInputs[0];
  loc = m.tokenEmbedding->getLoc();
  Value xr = alloc(MemorySpace::Act, dl.rowsPerToken() * R, m.tokenEmbedding,
                   /*value=*/true);
  const auto &dm = m.result.deviceMap;
  Value input = region(uint64_t(dm.inputRows) * dm.embedRowBytes,
                       HbmData::Input, "input");
  ld(xr, 0, input, uint64_t(ctx.tile) * R * dm.embedRowBytes, R * rowBytes);
  // A later pipeline stage's input rows already hold hidden states.
  if (m.positionEmbedding && m.options.stage.prologue) {
    loc = m.positionEmbedding->getLoc();
    Value pe = alloc(MemorySpace::Act, dl.rowsPerToken() * R, m.positionEmbedding);
    Value table =
        region(m.positionTable.bytes, HbmData::Params, "position_table");
    perSequence([&](uint32_t seq, uint32_t rows) {
      ld(pe, seq * dl.rowsPerToken(), table,
         (uint64_t(ctx.tile) * rows + m.positionOffset) * rowBytes,
         rows * rowBytes, BaseRegister::Zero, RunTimeParam::P, rowBytes);
    });
    misc(isa::MiscKind::add, {xr, 0, dl.rowsPerToken()},
         MiscOperand{pe, 0, dl.rowsPerToken()}, {xr, 0, dl.rowsPerToken()},
         m.hidden, R);
    dealloc(pe);
  }
  vals[x] = Val{xr, dl, true};
}

void InstructionSelection::spillTile() {
  Val x = vals[m.s.layerInputs[0]];
  uint32_t R = ctx.tokens;
  uint64_t rowBytes = x.layout.rowsPerToken() * kRowBytes;
  st(x.buffer, spillArea(), spillFront() + uint64_t(ctx.tile) * R * rowBytes,
     R * rowBytes);
}

LogicalResult InstructionSelection::epilogue() {
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
      return op->emitError("only per-token ops may follow the last decoder "
                           "layer");
  if (ctx.stage == binary::Stage::Prefill && ctx.tokens > 1) {
    uint64_t rowBytes = xv.layout.rowsPerToken() * kRowBytes;
    loc = ops.back()->getLoc();
    Value last = alloc(MemorySpace::Act, xv.layout.rowsPerToken(), ops.back());
    ld(last, 0, spillArea(), 0, rowBytes, BaseRegister::Zero, RunTimeParam::S,
       rowBytes);
    xv = Val{last, xv.layout, false};
  }
  xv.pinned = true;
  vals[x] = xv;
  // A batched decode run computes every sequence's logits (one row each).
  uint32_t R = batched() ? ctx.tokens : 1;
  ctx.tokens = R;
  if (failed(segment(ops.drop_back(), m.globalLocs, false)))
    return failure();
  auto logits = cast<llm::LogitsOp>(ops.back());
  loc = logits.getLoc();
  LinearPlan p = m.planLinear(logits);
  uint32_t outRows = rowsFor(4ull * p.nPhys);
  Value out = alloc(MemorySpace::Act, outRows * R, logits);
  Value xq = quantized(logits.getX(), R, logits);
  linear(logits, m.globalLocs,
         reinterpret_cast<uintptr_t>(logits.getOperation()), "head", out,
         outRows, R, false, xq);
  release(logits.getX());
  dealloc(xq);
  Value area = region(m.logitsAreaBytes(), HbmData::Logits, "logits");
  for (uint32_t seq = 0; seq < R; ++seq)
    st(out, area, seq * m.logitsRowBytes(),
       roundUp(4ull * m.vocab, kUnitBytes), BaseRegister::Zero,
       RunTimeParam::Zero, 0, seq * outRows);
  return success();
}

FailureOr<flight::BucketOp>
InstructionSelection::select(const BucketRange &range) {
  bool prefill = range.stage == binary::Stage::Prefill;
  uint32_t R = prefill ? m.target.mmTokens : m.batch();
  uint32_t tiles = prefill ? (range.maxLength + R - 1) / R : 1;
  auto bucket = flight::BucketOp::create(
      b, m.s.func.getLoc(), bucketName(range),
      prefill ? flight::Stage::Prefill : flight::Stage::Decode,
      range.minLength, range.maxLength);
  Block &body = bucket.getBody().emplaceBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&body);
  // Pinned for the whole stream: the constants and, for rotary models, the
  // cos/sin rows of every position the stream covers.
  loc = m.s.func.getLoc();
  constRegion = alloc(MemorySpace::Meta, rowsFor(m.constants.bytes), m.s.func);
  // The HBM regions go to the top of the bucket, in the order of first use.
  regionPoint = OpBuilder::InsertPoint(
      &body, Block::iterator(constRegion.getDefiningOp()));
  ctx = TileContext{range.stage, 0, R, 0, false};
  ldParam(constRegion, 0, m.constants, "constants");
  for (uint32_t j = 0; j < tiles; ++j) {
    OpBuilder::InsertionGuard tileGuard(b);
    if (prefill) {
      auto tile = flight::PrefillTileOp::create(b, m.s.func.getLoc(), j, R);
      b.setInsertionPointToStart(&tile.getBody().emplaceBlock());
    }
    ctx = TileContext{range.stage, j, R,
                      prefill ? (j + 1) * R
                              : static_cast<uint32_t>(roundUp(range.maxLength, 16)),
                      j + 1 == tiles};
    vals.clear();
    prologue();
    Val xIn = vals[m.s.layerInputs[0]];
    if (m.ropeCos) {
      uint32_t perPos = rowsFor(m.ropeRowBytes);
      loc = m.ropeCos->getLoc();
      ropeRows = alloc(MemorySpace::Meta, perPos * R, m.ropeCos);
      Value table = region(m.ropeTable.bytes, HbmData::Params, "rope_table");
      perSequence([&](uint32_t seq, uint32_t rows) {
        ld(ropeRows, seq * perPos, table, uint64_t(j) * rows * m.ropeRowBytes,
           uint64_t(rows) * m.ropeRowBytes, BaseRegister::Zero,
           RunTimeParam::P, m.ropeRowBytes);
      });
    }
    // One body per layer group (consecutive layers with the same weight
    // formats), selected from the group's first layer.
    for (group = 0; group < m.s.groups.size(); ++group) {
      OpBuilder::InsertionGuard layerGuard(b);
      const ModelStructure::LayerGroup &g = m.s.groups[group];
      auto layer = flight::LayerBodyOp::create(
          b, m.s.func.getLoc(), g.count, IntegerAttr(), IntegerAttr(),
          g.first ? b.getI64IntegerAttr(g.first) : IntegerAttr(),
          IntegerAttr());
      b.setInsertionPointToStart(&layer.getBody().emplaceBlock());
      vals.clear();
      vals[m.s.layerInputs[g.first]] = xIn;
      llvm::ArrayRef<Operation *> ops = m.s.layerOps(g.first);
      if (failed(segment(ops, m.groupLocs[group], true)))
        return failure();
      Value out0 = m.s.layerInputs[g.first + 1];
      // The layer must leave its output where it found its input.
      if (!vals.count(out0)) {
        ops.back()->emitError("the layer output was not computed");
        return failure();
      }
      // flight-fuse-in-place writes the residual adds over the input, and
      // the copy goes.
      Val o = vals[out0];
      if (o.buffer != xIn.buffer) {
        loc = ops.back()->getLoc();
        misc(isa::MiscKind::copy, {o.buffer, 0, xIn.layout.rowsPerToken()},
             std::nullopt, {xIn.buffer, 0, xIn.layout.rowsPerToken()},
             xIn.layout.rowsPerToken() * kRowBytes, R);
      }
    }
    group = 0;
    vals.clear();
    vals[m.s.layerInputs[0]] = xIn;
    // The last new token (row S - 1) may be in any tile from the one holding
    // row minLen - 1 on.
    // A pipeline stage without the epilogue stores every tile's rows there
    // for the next card instead.
    loc = m.s.func.getLoc();
    bool epilogueHere = m.options.stage.epilogue;
    if (!epilogueHere || (prefill && (j + 1) * R >= range.minLength))
      spillTile();
    if (ctx.last && epilogueHere && failed(epilogue()))
      return failure();
    // A prefill tile's act rows are all free at its end (the tile region
    // says so); the rotary rows are not act.
    loc = m.s.func.getLoc();
    if (m.ropeCos)
      dealloc(ropeRows);
  }
  return bucket;
}

std::string flightllm::lowering::bucketName(const BucketRange &range) {
  return (range.stage == binary::Stage::Prefill ? "prefill_" : "decode_") +
         std::to_string(range.maxLength);
}

FailureOr<flight::BucketOp>
ModelLowering::selectBucket(const BucketRange &range, OpBuilder &builder) {
  InstructionSelection selection(*this, builder);
  return selection.select(range);
}
