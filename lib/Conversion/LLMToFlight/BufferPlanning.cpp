//===- BufferPlanning.cpp - Buffer level to addressed instructions --------===//

#include "BufferPlanning.h"

#include "Layouts.h"
#include "OnChipAllocator.h"
#include "StreamEmitter.h"

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/Transforms/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;
using flight::MemorySpace;
using Rows = flightllm::lowering::Region;

OnChipCapacity OnChipCapacity::of(const target::TargetDescription &target) {
  auto rows = [](uint64_t bytes) {
    return static_cast<uint32_t>(std::min<uint64_t>(bytes / kRowBytes, 1u << 16));
  };
  return {rows(target.actBufferBytes), rows(target.weightBufferBytes),
          rows(target.metaBufferBytes)};
}

namespace {

isa::BaseReg baseReg(flight::BaseRegister r) {
  switch (r) {
  case flight::BaseRegister::Zero: return isa::BaseReg::zero;
  case flight::BaseRegister::B1: return isa::BaseReg::B1;
  case flight::BaseRegister::B2: return isa::BaseReg::B2;
  case flight::BaseRegister::B3: return isa::BaseReg::B3;
  }
  llvm_unreachable("base register");
}

isa::ParamReg paramReg(flight::RunTimeParam p) {
  switch (p) {
  case flight::RunTimeParam::Zero: return isa::ParamReg::zero;
  case flight::RunTimeParam::P: return isa::ParamReg::P;
  case flight::RunTimeParam::S: return isa::ParamReg::S;
  case flight::RunTimeParam::T: return isa::ParamReg::T;
  }
  llvm_unreachable("run-time parameter");
}

OffChip offChip(flight::HbmData d) {
  switch (d) {
  case flight::HbmData::KVCache: return OffChip::KVCache;
  case flight::HbmData::Scratch: return OffChip::Scratch;
  case flight::HbmData::Logits: return OffChip::Logits;
  default: return OffChip::None;
  }
}

class BufferPlanner {
public:
  BufferPlanner(const OnChipCapacity &c, unsigned cores, StreamInfo &info)
      : act(isa::Buffer::act, c.act), weight(isa::Buffer::weight, c.weight),
        meta(isa::Buffer::meta, c.meta), cores(cores), info(info) {}

  LogicalResult run(flight::BucketOp bucket, bool insertTokens,
                    OnChipPeaks &peaks);

private:
  LogicalResult block(Block &body);
  LogicalResult plan(Operation *op);
  OnChipAllocator *allocatorOf(Value buffer) {
    switch (cast<flight::BufferType>(buffer.getType()).getSpace()) {
    case MemorySpace::Act: return &act;
    case MemorySpace::Weight: return &weight;
    case MemorySpace::Meta: return &meta;
    default: return nullptr;
    }
  }
  /// The rows of a placed buffer; an error at `user` otherwise.
  FailureOr<Rows> placement(Operation *user, Value buffer) {
    auto it = placed.find(buffer);
    if (it != placed.end())
      return it->second;
    return user->emitOpError()
           << "uses a buffer that is not allocated here (a flight.buf_alloc "
              "before it, not yet deallocated)";
  }
  FailureOr<flight::HbmRegionOp> hbmRegion(Operation *user, Value v) {
    if (auto r = v.getDefiningOp<flight::HbmRegionOp>()) {
      if (!r.isPlaced())
        return r.emitOpError() << "has no place in HBM (run flight-hbm-layout "
                                  "before flight-plan-buffers)";
      return r;
    }
    return user->emitOpError() << "the HBM side must be a flight.hbm_region";
  }
  LogicalResult transfer(Operation *op, bool load, Value onChip, int64_t row,
                         Value hbm, int64_t offset, int64_t length,
                         flight::BaseRegister base, flight::RunTimeParam param,
                         int64_t stride, int64_t chunk = 0);
  template <typename OpTy> LogicalResult matrix(OpTy op, bool mm);
  LogicalResult misc(flight::BufMiscOp op);
  LogicalResult exchange(flight::BufExchangeOp op);

  /// Appends to the streams of the op being planned: its core's, or every
  /// core's (one buffer plan serves all cores).
  void emit(const isa::Instruction &inst, const Access &access) {
    for (unsigned c = 0; c < cores; ++c)
      if (opCore < 0 || opCore == int64_t(c))
        es[c].emit(inst, access);
  }
  void sys(isa::SysKind kind, int64_t imm = 0) {
    for (StreamEmitter &s : es)
      s.sys(kind, imm);
  }
  void barrier() {
    for (StreamEmitter &s : es)
      s.barrier();
  }
  const std::string &emitError() const {
    for (const StreamEmitter &s : es)
      if (!s.error().empty())
        return s.error();
    return es[0].error();
  }
  uint64_t words() const {
    uint64_t n = 0;
    for (const StreamEmitter &s : es)
      n += s.words().size();
    return n;
  }

  OnChipAllocator act, weight, meta;
  llvm::DenseMap<Value, Rows> placed;
  unsigned cores;
  std::vector<StreamEmitter> es{cores};
  int64_t opCore = -1; // of the op being planned (-1: every core)
  StreamInfo &info;
  uint64_t loopTrip = 1;
};

} // namespace

LogicalResult BufferPlanner::transfer(Operation *op, bool load, Value onChip,
                                      int64_t row, Value hbm, int64_t offset,
                                      int64_t length, flight::BaseRegister base,
                                      flight::RunTimeParam param,
                                      int64_t stride, int64_t chunk) {
  FailureOr<Rows> r = placement(op, onChip);
  FailureOr<flight::HbmRegionOp> region = hbmRegion(op, hbm);
  if (failed(r) || failed(region))
    return failure();
  uint32_t onchipRow = r->row + static_cast<uint32_t>(row);
  int64_t addr = (int64_t(*region->getOffset()) + offset) / int64_t(kUnitBytes);
  int64_t units = length / int64_t(kUnitBytes);
  // With a chunk, each run of `chunk` bytes starts a row (LD row_align).
  uint32_t onChipRows =
      chunk ? uint32_t(length / chunk) * rowsFor(uint64_t(chunk))
            : rowsFor(uint64_t(length));
  Rows rows{r->buffer, onchipRow, std::max<uint32_t>(1, onChipRows)};
  Access a;
  uint64_t *stat = nullptr;
  flight::HbmData holds = region->getHolds();
  bool ddr = cast<flight::BufferType>(region->getType()).getSpace() ==
             flight::MemorySpace::Ddr;
  if (ddr && !load)
    return op->emitOpError() << "stores to '" << region->getName()
                             << "' in DDR: ST writes HBM only";
  isa::Instruction i(load ? isa::Opcode::LD : isa::Opcode::ST);
  if (load) {
    i.set(isa::LD::onchip_addr, onchipRow).set(isa::LD::buf, r->buffer)
        .set(isa::LD::addr, addr)
        .set(isa::LD::mem, ddr ? isa::Memory::ddr : isa::Memory::hbm)
        .set(isa::LD::channel, *region->getChannel())
        .set(isa::LD::base, baseReg(base)).set(isa::LD::param, paramReg(param))
        .set(isa::LD::scale, stride / int64_t(kUnitBytes))
        .set(isa::LD::loop1, 1).set(isa::LD::loop2, 1).set(isa::LD::loop3, 1)
        .set(isa::LD::length, units);
    if (chunk)
      i.set(isa::LD::loop1, length / chunk)
          .set(isa::LD::stride1, chunk / int64_t(kUnitBytes))
          .set(isa::LD::length, chunk / int64_t(kUnitBytes))
          .set(isa::LD::row_align, 1);
    a.writes.push_back(rows);
    a.offChipRead = offChip(holds);
    stat = holds == flight::HbmData::Input     ? &info.inputLoadBytes
           : holds == flight::HbmData::KVCache ? &info.kvLoadBytes
           : holds == flight::HbmData::Scratch ? &info.activationLoadBytes
           : ddr                               ? &info.ddrWeightLoadBytes
                                               : &info.weightLoadBytes;
  } else {
    i.set(isa::ST::onchip_addr, onchipRow).set(isa::ST::buf, r->buffer)
        .set(isa::ST::addr, addr).set(isa::ST::channel, *region->getChannel())
        .set(isa::ST::length, units)
        .set(isa::ST::scale, stride / int64_t(kUnitBytes))
        .set(isa::ST::param, paramReg(param)).set(isa::ST::base, baseReg(base));
    a.reads.push_back(rows);
    a.offChipWrite = offChip(holds);
    stat = holds == flight::HbmData::KVCache   ? &info.kvStoreBytes
           : holds == flight::HbmData::Scratch ? &info.activationStoreBytes
                                               : &info.outputStoreBytes;
  }
  emit(i, a);
  *stat += uint64_t(units) * kUnitBytes * loopTrip;
  return success();
}

template <typename OpTy>
LogicalResult BufferPlanner::matrix(OpTy op, bool mm) {
  FailureOr<Rows> x = placement(op, op.getX()), w = placement(op, op.getW()),
                    s = placement(op, op.getScales()),
                    out = placement(op, op.getOut());
  if (failed(x) || failed(w) || failed(s) || failed(out))
    return failure();
  auto format = op.getOutFormat() == "f32" ? isa::OutFormat::f32
                                           : isa::OutFormat::f16;
  uint32_t scaleAddr = s->row + static_cast<uint32_t>(op.getScalesRow());
  uint32_t outAddr = out->row + static_cast<uint32_t>(op.getOutRow());
  uint32_t aAddr = x->row + static_cast<uint32_t>(op.getXRow());
  auto wbits = op.getPrecision() == flight::Precision::W4A8
                   ? isa::WeightBits::int4
                   : isa::WeightBits::int8;
  // flight::Sparsity enumerates the ISA's Sparsity values in order.
  auto sparsity = static_cast<isa::Sparsity>(op.getSparsity());
  isa::Instruction i(mm ? isa::Opcode::MM : isa::Opcode::MV);
  // MM and MV share one format: MM's field handles encode both.
  if (mm) {
    i.set(isa::MM::k_blocks, op.getKBlocks()).set(isa::MM::bias, op.getBias())
        .set(isa::MM::b_kmajor, op.getBKmajor()).set(isa::MM::a_addr, aAddr)
        .set(isa::MM::b_addr, w->row).set(isa::MM::out_addr, outAddr)
        .set(isa::MM::scale_addr, scaleAddr).set(isa::MM::n, op.getN())
        .set(isa::MM::out_stride, op.getOutStride())
        .set(isa::MM::out_format, format).set(isa::MM::relu, op.getRelu())
        .set(isa::MM::wbits, wbits).set(isa::MM::sparsity, sparsity)
        .set(isa::MM::grouped, op.getGrouped());
  } else {
    i.set(isa::MV::k_blocks, op.getKBlocks()).set(isa::MV::bias, op.getBias())
        .set(isa::MV::b_kmajor, op.getBKmajor()).set(isa::MV::a_addr, aAddr)
        .set(isa::MV::b_addr, w->row).set(isa::MV::out_addr, outAddr)
        .set(isa::MV::scale_addr, scaleAddr).set(isa::MV::n, op.getN())
        .set(isa::MV::out_stride, op.getOutStride())
        .set(isa::MV::out_format, format).set(isa::MV::relu, op.getRelu())
        .set(isa::MV::wbits, wbits).set(isa::MV::sparsity, sparsity)
        .set(isa::MV::grouped, op.getGrouped());
  }
  Access a;
  a.reads = {*x, *w, *s};
  a.writes = {*out};
  emit(i, a);
  return success();
}

LogicalResult BufferPlanner::misc(flight::BufMiscOp op) {
  FailureOr<Rows> a = placement(op, op.getA()), out = placement(op, op.getOut());
  if (failed(a) || failed(out))
    return failure();
  std::optional<Rows> b;
  if (Value operandB = op.getB()) {
    FailureOr<Rows> r = placement(op, operandB);
    if (failed(r))
      return failure();
    b = *r;
  }
  auto kind = static_cast<isa::MiscKind>(
      *flight::lookupEnumerator(isa::EnumId::MiscKind, op.getKind()));
  // Without b the field still encodes a space: meta for quantize_dynamic
  // (the ISA's quantize group), act for the element-wise kinds.
  isa::BSpace bSpace =
      b ? (b->buffer == isa::Buffer::meta ? isa::BSpace::meta : isa::BSpace::act)
        : (kind == isa::MiscKind::quantize_dynamic ? isa::BSpace::meta
                                                   : isa::BSpace::act);
  bool masked = op.getMasked();
  isa::Instruction i(isa::Opcode::MISC);
  i.set(isa::MISC::kind, kind).set(isa::MISC::masked, masked ? 1 : 0)
      .set(isa::MISC::pos_param, masked || kind == isa::MiscKind::place
                                     ? isa::ParamReg::P
                                     : isa::ParamReg::zero)
      .set(isa::MISC::a_space, a->buffer == isa::Buffer::acc ? isa::ASpace::acc
                                                             : isa::ASpace::act)
      .set(isa::MISC::b_space, bSpace)
      .set(isa::MISC::a_addr, a->row + static_cast<uint32_t>(op.getARow()))
      .set(isa::MISC::b_addr, b ? b->row + static_cast<uint32_t>(op.getBRow()) : 0)
      .set(isa::MISC::out_addr, out->row + static_cast<uint32_t>(op.getOutRow()))
      .set(isa::MISC::k, op.getK()).set(isa::MISC::rows, op.getRows())
      .set(isa::MISC::pos_off, op.getPosOff())
      .set(isa::MISC::a_step, op.getAStep()).set(isa::MISC::b_step, op.getBStep())
      .set(isa::MISC::out_step, op.getOutStep());
  Access acc;
  acc.reads = {*a};
  if (b)
    acc.reads.push_back(*b);
  acc.writes = {*out};
  emit(i, acc);
  return success();
}

LogicalResult BufferPlanner::exchange(flight::BufExchangeOp op) {
  FailureOr<Rows> r = placement(op, op.getBuffer());
  if (failed(r))
    return failure();
  llvm::ArrayRef<int64_t> slices = op.getSlices();
  if (slices.size() != cores + 1)
    return op.emitOpError() << "has the slices of " << slices.size() - 1
                            << " cores in a bucket of " << cores;
  int64_t stride = op.getRowStride();
  // SYS sync: every core's slice is complete; LDs pull the other cores'
  // slices over the inter-core link; SYS sync: nobody overwrites a slice
  // another core still reads.
  for (StreamEmitter &s : es)
    s.syncBarrier();
  for (unsigned c = 0; c < cores; ++c)
    for (unsigned d = 0; d < cores; ++d) {
      int64_t begin = slices[d], bytes = slices[d + 1] - slices[d];
      if (d == c || bytes == 0)
        continue;
      for (int64_t t = 0; t < int64_t(op.getTokens()); ++t) {
        // Slices start on a row (tiles and heads are whole rows), so the
        // destination row is exact.
        uint64_t byte = uint64_t(t * stride) * kRowBytes + uint64_t(begin);
        uint32_t row = r->row + uint32_t(byte / kRowBytes);
        isa::Instruction i(isa::Opcode::LD);
        i.set(isa::LD::onchip_addr, row).set(isa::LD::buf, isa::Buffer::act)
            .set(isa::LD::addr, byte / kUnitBytes + uint64_t(r->row) *
                                    (kRowBytes / kUnitBytes))
            .set(isa::LD::src_core, d + 1)
            .set(isa::LD::loop1, 1).set(isa::LD::loop2, 1)
            .set(isa::LD::loop3, 1).set(isa::LD::length, bytes / kUnitBytes);
        Access a;
        a.writes.push_back(
            Rows{isa::Buffer::act, row, rowsFor(uint64_t(bytes))});
        es[c].emit(i, a);
      }
    }
  for (StreamEmitter &s : es)
    s.syncBarrier();
  return success();
}

LogicalResult BufferPlanner::plan(Operation *op) {
  opCore = -1;
  if (auto core = op->getAttrOfType<IntegerAttr>(flight::kCoreAttr)) {
    opCore = core.getInt();
    if (opCore < 0 || opCore >= int64_t(cores))
      return op->emitOpError() << "runs on core " << opCore
                               << " of a bucket of " << cores << " cores";
  }
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](flight::HbmRegionOp) { return success(); })
      .Case([&](flight::BufAllocOp alloc) -> LogicalResult {
        OnChipAllocator *a = allocatorOf(alloc.getResult());
        uint32_t rows = alloc.getRows();
        std::optional<Rows> r =
            alloc.getPolicy() == flight::AllocPolicy::Value ? a->allocateLow(rows)
                                                            : a->allocate(rows);
        if (!r)
          return alloc.emitError()
                 << "on-chip "
                 << flight::stringifyMemorySpace(
                        alloc.getResult().getType().getSpace())
                 << " buffer exhausted: " << rows << " rows of " << kRowBytes
                 << " bytes do not fit (" << a->capacityRows() << " rows)";
        placed[alloc.getResult()] = *r;
        return success();
      })
      .Case([&](flight::BufDeallocOp dealloc) -> LogicalResult {
        FailureOr<Rows> r = placement(dealloc, dealloc.getBuffer());
        if (failed(r))
          return failure();
        allocatorOf(dealloc.getBuffer())->free(*r);
        placed.erase(dealloc.getBuffer());
        return success();
      })
      .Case([&](flight::TileLoadOp ld) {
        return transfer(ld, true, ld.getDest(), ld.getRow(), ld.getSource(),
                        ld.getOffset(), ld.getLength(), ld.getBase(),
                        ld.getParam(), ld.getStride(), ld.getChunk());
      })
      .Case([&](flight::TileStoreOp st) {
        return transfer(st, false, st.getSource(), st.getRow(), st.getDest(),
                        st.getOffset(), st.getLength(), st.getBase(),
                        st.getParam(), st.getStride());
      })
      .Case([&](flight::BufMMOp mm) { return matrix(mm, true); })
      .Case([&](flight::BufMVOp mv) { return matrix(mv, false); })
      .Case([&](flight::BufMiscOp m) { return misc(m); })
      .Case([&](flight::BufExchangeOp x) { return exchange(x); })
      .Case([&](flight::SelectSeqOp sel) -> LogicalResult {
        // Executed by the dispatcher in order: no tokens needed.
        sys(isa::SysKind::select_seq, sel.getIndex());
        return success();
      })
      .Case([&](flight::PrefillTileOp tile) -> LogicalResult {
        if (failed(block(tile.getBody().front())))
          return failure();
        // A tile's act rows are all free at its end; the next tile's
        // allocation starts afresh.
        act.reset();
        return success();
      })
      .Case([&](flight::LayerBodyOp layer) -> LogicalResult {
        barrier();
        sys(isa::SysKind::set_layer, layer.getFirstLayerIndex());
        sys(isa::SysKind::loop, layer.getLayers());
        size_t bodyStart = words();
        loopTrip = layer.getLayers();
        if (failed(block(layer.getBody().front())))
          return failure();
        sys(isa::SysKind::add_layer, 1);
        barrier();
        sys(isa::SysKind::endloop);
        info.bodyWords += words() - bodyStart;
        info.unrolledBodyWords += (words() - bodyStart) * layer.getLayers();
        loopTrip = 1;
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitOpError()
               << "is not a buffer-level op flight-plan-buffers places";
      });
}

LogicalResult BufferPlanner::block(Block &body) {
  for (Operation &op : body) {
    if (failed(plan(&op)))
      return failure();
    if (!emitError().empty())
      return op.emitError("the model exceeds an ISA limit: " + emitError());
  }
  return success();
}

LogicalResult BufferPlanner::run(flight::BucketOp bucket, bool insertTokens,
                                 OnChipPeaks &peaks) {
  info.name = bucket.getSymName().str();
  info.stage = bucket.getStage() == flight::Stage::Prefill
                   ? binary::Stage::Prefill
                   : binary::Stage::Decode;
  info.minLength = static_cast<uint32_t>(bucket.getMinLength());
  info.maxLength = static_cast<uint32_t>(bucket.getMaxLength());
  if (bucket.getBody().empty() || failed(block(bucket.getBody().front())))
    return failure();
  sys(isa::SysKind::end);
  // Dependency tokens, a separate step over each complete stream (the
  // flight-insert-tokens pass's algorithm); or the accesses, for that pass.
  info.otherWords = words() - info.bodyWords;
  info.tokenWork = 0;
  info.instructions = 0;
  for (unsigned c = 0; c < cores; ++c) {
    StreamEmitter &e = es[c];
    if (insertTokens)
      e.insertTokens();
    else if (c == 0)
      info.accesses = e.takeAccesses();
    else
      info.otherCoreAccesses.push_back(e.takeAccesses());
    info.tokenWork += e.trackerWork();
    info.instructions += e.stats().instructions;
    for (int i = 0; i < 16; ++i)
      info.perOpcode[i] += e.stats().perOpcode[i];
    if (c == 0)
      info.words = e.takeWords();
    else
      info.otherCoreWords.push_back(e.takeWords());
  }
  peaks.act = std::max(peaks.act, act.peakRows());
  peaks.weight = std::max(peaks.weight, weight.peakRows());
  peaks.meta = std::max(peaks.meta, meta.peakRows());
  return success();
}

LogicalResult flightllm::lowering::planBucket(flight::BucketOp bucket,
                                              const OnChipCapacity &capacity,
                                              bool insertTokens,
                                              StreamInfo &info,
                                              OnChipPeaks &peaks,
                                              unsigned cores) {
  // cores 0: as many as the bucket's ops name.
  if (cores == 0) {
    cores = 1;
    bucket.walk([&](Operation *op) {
      if (auto c = op->getAttrOfType<IntegerAttr>(flight::kCoreAttr))
        cores = std::max<int64_t>(cores, c.getInt() + 1);
      if (auto x = dyn_cast<flight::BufExchangeOp>(op))
        cores = std::max<unsigned>(cores, x.getSlices().size() - 1);
    });
  }
  BufferPlanner planner(capacity, cores, info);
  return planner.run(bucket, insertTokens, peaks);
}

LogicalResult flightllm::lowering::checkInstructionMemory(
    llvm::ArrayRef<StreamInfo> streams, const target::TargetDescription &target,
    Operation *at) {
  // The runtime places the streams one after another in DDR channel 0, each
  // at a 64-byte boundary; they must fit the instruction memory.
  uint64_t streamBytes = 0;
  size_t count = 0;
  for (const StreamInfo &st : streams) {
    streamBytes = roundUp(streamBytes, 64) + 4 * uint64_t(st.words.size());
    for (const std::vector<uint32_t> &w : st.otherCoreWords)
      streamBytes = roundUp(streamBytes, 64) + 4 * uint64_t(w.size());
    count += st.cores();
  }
  if (streamBytes > target.instructionMemoryBytes)
    return at->emitError()
           << "the instruction streams take " << streamBytes << " bytes ("
           << streams.size() << " streams), more than the target's "
           << "instruction memory of " << target.instructionMemoryBytes
           << " bytes (instruction_memory_bytes)";
  return success();
}
