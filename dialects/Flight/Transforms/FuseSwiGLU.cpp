//===- FuseSwiGLU.cpp - The flight-fuse-swiglu pass -----------------------===//
//
// SwiGLU(gate, up) where gate and up are two linears over one input: their
// tile loops become one, each tile's gate and up products going to two
// small temporaries that the tile's SwiGLU turns into its columns of the
// result, so neither full-width product is ever stored (docs/lowering.md).
// A SwiGLU that does not match stays as it is.
//===----------------------------------------------------------------------===//

#include "BufferRewrites.h"

#include "flightllm/Dialect/Flight/Transforms/Passes.h"
#include "flightllm/ISA/ISA.h"

#include "mlir/IR/Builders.h"

namespace flightllm::flight {
#define GEN_PASS_DEF_FUSESWIGLUPASS
#include "flightllm/Dialect/Flight/Transforms/Passes.h.inc"
} // namespace flightllm::flight

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

namespace {

/// One output tile of a linear: its product and the weight and scale
/// buffers only it reads.
struct Tile {
  Operation *product;
  Value w, scales;
  SmallVector<Operation *> loads; // into w, then into scales
  int64_t outRow() const {
    return cast<IntegerAttr>(product->getAttr("out_row")).getInt();
  }
  int64_t channels() const {
    return cast<IntegerAttr>(product->getAttr("n")).getInt();
  }
  Value x() const { return product->getOperand(0); }
};

/// The tile loop that wrote `out`: products side by side from row 0, each
/// with weight and scale buffers of its own, plus at most one exchange.
struct TileLoop {
  Value out;
  SmallVector<Tile> tiles;
  BufExchangeOp exchange;
  Operation *first = nullptr, *last = nullptr; // in program order
};

/// The single-use temporary `buffer` of `product`: alloc, loads into it,
/// the product, one dealloc.
bool ownTemporary(Value buffer, Operation *product,
                  SmallVector<Operation *> &loads) {
  if (!buffer.getDefiningOp<BufAllocOp>() || deallocsOf(buffer).size() != 1)
    return false;
  for (Operation *user : buffer.getUsers()) {
    if (user == product || llvm::isa<BufDeallocOp>(user))
      continue;
    auto ld = dyn_cast<TileLoadOp>(user);
    if (!ld || ld.getDest() != buffer || ld->getBlock() != product->getBlock() ||
        !ld->isBeforeInBlock(product))
      return false;
    loads.push_back(ld);
  }
  return true;
}

/// The tile loop writing `out`, whose only other users are `reader` and
/// deallocs; nullopt when it is not one.
std::optional<TileLoop> tileLoopOf(Value out, Operation *reader,
                                   int64_t step, int64_t tokens) {
  TileLoop loop{out, {}, {}};
  Block *block = reader->getBlock();
  for (Operation *user : out.getUsers()) {
    if (user == reader || llvm::isa<BufDeallocOp>(user))
      continue;
    if (auto x = dyn_cast<BufExchangeOp>(user)) {
      if (loop.exchange)
        return std::nullopt;
      loop.exchange = x;
      continue;
    }
    if (!llvm::isa<BufMMOp, BufMVOp>(user) || user->getBlock() != block ||
        !user->isBeforeInBlock(reader))
      return std::nullopt;
    Tile t{user, user->getOperand(1), user->getOperand(2), {}};
    bool mm = llvm::isa<BufMMOp>(user);
    int64_t productTokens = 1;
    if (mm) {
      auto tile = user->getParentOfType<PrefillTileOp>();
      if (!tile)
        return std::nullopt;
      productTokens = tile.getTokens();
    }
    auto attr = [&](StringRef name) {
      return cast<IntegerAttr>(user->getAttr(name)).getInt();
    };
    if (user->getOperand(3) != out || t.x() == out || t.w == out ||
        t.scales == out || t.w == t.scales || user->hasAttr("relu") ||
        cast<StringAttr>(user->getAttr("out_format")).getValue() != "f16" ||
        attr("out_stride") != step || productTokens != tokens ||
        !ownTemporary(t.w, user, t.loads) ||
        !ownTemporary(t.scales, user, t.loads))
      return std::nullopt;
    // In program order (the weight tile's loads, then the scales').
    llvm::sort(t.loads, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
    loop.tiles.push_back(std::move(t));
  }
  if (loop.tiles.empty())
    return std::nullopt;
  llvm::sort(loop.tiles, [](const Tile &a, const Tile &b) {
    return a.outRow() < b.outRow();
  });
  // The tiles' ops, in program order: allocs, loads, product, deallocs.
  auto extend = [&](Operation *op) {
    if (!loop.first || op->isBeforeInBlock(loop.first))
      loop.first = op;
    if (!loop.last || loop.last->isBeforeInBlock(op))
      loop.last = op;
  };
  for (const Tile &t : loop.tiles) {
    for (Value v : {t.w, t.scales}) {
      Operation *alloc = v.getDefiningOp();
      if (alloc->getBlock() != block)
        return std::nullopt;
      extend(alloc);
      extend(deallocsOf(v).front());
    }
  }
  return loop;
}

class SwiGLUFusion {
public:
  explicit SwiGLUFusion(BufMiscOp swiglu) : m(swiglu) {}
  bool run();

private:
  bool match();
  void rewrite();

  BufMiscOp m;
  std::optional<TileLoop> gate, up;
  TileLoop *firstLoop = nullptr, *secondLoop = nullptr;
  int64_t tokens = 1;
};

bool SwiGLUFusion::run() {
  if (!match())
    return false;
  rewrite();
  return true;
}

bool SwiGLUFusion::match() {
  Value g = m.getA(), u = m.getB(), h = m.getOut();
  if (!u || g == u || m.getARow() != 0 || m.getBRow() != 0 ||
      m.getOutRow() != 0 || m.getAStep() != m.getBStep() ||
      m.getAStep() != m.getOutStep() || !g.getDefiningOp<BufAllocOp>() ||
      !u.getDefiningOp<BufAllocOp>() || !h.getDefiningOp<BufAllocOp>() ||
      cast<BufferType>(u.getType()).getSpace() != MemorySpace::Act)
    return false;
  tokens = int64_t(m.getRows());
  gate = tileLoopOf(g, m, int64_t(m.getAStep()), tokens);
  up = tileLoopOf(u, m, int64_t(m.getAStep()), tokens);
  if (!gate || !up || gate->tiles.size() != up->tiles.size() ||
      bool(gate->exchange) != bool(up->exchange))
    return false;
  // Paired tiles side by side from row 0, covering the SwiGLU's k elements.
  constexpr int64_t kPerRow = isa::kOnChipRowBytes / 2;
  int64_t covered = 0;
  for (auto [tg, tu] : llvm::zip(gate->tiles, up->tiles)) {
    if (tg.outRow() != tu.outRow() || tg.channels() != tu.channels() ||
        tg.outRow() * kPerRow != covered ||
        tg.product->getName() != tu.product->getName() ||
        tg.product->getAttr(kCoreAttr) != tu.product->getAttr(kCoreAttr))
      return false;
    covered += tg.channels();
  }
  if (covered != int64_t(m.getK()))
    return false;
  bool gateFirst = gate->first->isBeforeInBlock(up->first);
  firstLoop = gateFirst ? &*gate : &*up;
  secondLoop = gateFirst ? &*up : &*gate;
  // The loops do not interleave, and nothing else sits inside the second.
  if (!firstLoop->last->isBeforeInBlock(secondLoop->first))
    return false;
  llvm::SmallPtrSet<Operation *, 32> loopOps;
  for (const Tile &t : secondLoop->tiles) {
    loopOps.insert(t.product);
    loopOps.insert(t.loads.begin(), t.loads.end());
    for (Value v : {t.w, t.scales}) {
      loopOps.insert(v.getDefiningOp());
      loopOps.insert(deallocsOf(v).front());
    }
  }
  for (Operation *op = secondLoop->first; op != secondLoop->last->getNextNode();
       op = op->getNextNode())
    if (!loopOps.contains(op))
      return false;
  // Both read one quantized input: the same buffer, or two copies of the
  // same rows (then one serves both).
  Value x = firstLoop->tiles.front().x();
  Value x2 = secondLoop->tiles.front().x();
  auto readsOnly = [](const TileLoop &loop, Value x) {
    return llvm::all_of(loop.tiles, [&](const Tile &t) { return t.x() == x; });
  };
  if (!readsOnly(*firstLoop, x) || !readsOnly(*secondLoop, x2))
    return false;
  if (x != x2) {
    BufMiscOp first, second;
    for (Operation *user : x.getUsers())
      if (auto q = dyn_cast<BufMiscOp>(user); q && q.getOut() == x)
        first = q;
    for (Operation *user : x2.getUsers())
      if (auto q = dyn_cast<BufMiscOp>(user); q && q.getOut() == x2)
        second = q;
    if (!first || !second || !sameQuantization(first, second))
      return false;
    shareQuantization(first, second);
  }
  return true;
}

void SwiGLUFusion::rewrite() {
  Value h = m.getOut();
  OpBuilder b(m->getContext());
  Operation *anchor = secondLoop->last->getNextNode();
  // The result lives from where the first of the two products did.
  Value firstOut = firstLoop->out;
  if (h != gate->out && h != up->out)
    h.getDefiningOp()->moveBefore(firstOut.getDefiningOp());
  int64_t chunkRows =
      (2 * gate->tiles.front().channels() + isa::kOnChipRowBytes - 1) /
      isa::kOnChipRowBytes;
  auto move = [&](Operation *op) { op->moveBefore(anchor); };
  for (auto [tg, tu] : llvm::zip(gate->tiles, up->tiles)) {
    // The tile's columns, before its products write the temporaries.
    int64_t row = tg.outRow(), channels = tg.channels();
    b.setInsertionPoint(anchor);
    Attribute core = tg.product->getAttr(kCoreAttr);
    auto tagged = [&](Operation *op) {
      if (core)
        op->setAttr(kCoreAttr, core);
      return op;
    };
    auto chunkType = BufferType::get(
        {chunkRows * tokens, int64_t(isa::kOnChipRowBytes)},
        b.getIntegerType(8), MemorySpace::Act);
    Location loc = m.getLoc();
    Value gt = tagged(BufAllocOp::create(b, tg.product->getLoc(), chunkType,
                                         AllocPolicy::Temporary))
                   ->getResult(0);
    Value ut = tagged(BufAllocOp::create(b, tu.product->getLoc(), chunkType,
                                         AllocPolicy::Temporary))
                   ->getResult(0);
    for (const Tile *t : {&tg, &tu})
      for (Value v : {t->w, t->scales})
        move(v.getDefiningOp());
    for (const Tile *t : {&tg, &tu})
      for (Operation *ld : t->loads)
        move(ld);
    for (auto [t, chunk] : {std::pair{&tg, gt}, std::pair{&tu, ut}}) {
      move(t->product);
      t->product->setOperand(3, chunk);
      t->product->setAttr("out_row", b.getI64IntegerAttr(0));
      t->product->setAttr("out_stride", b.getI64IntegerAttr(chunkRows));
    }
    b.setInsertionPoint(anchor);
    tagged(BufMiscOp::create(b, loc, "swiglu", gt, ut, h, 0, 0, row,
                             channels, tokens, chunkRows, chunkRows,
                             int64_t(m.getOutStep()), false, 0));
    tagged(BufDeallocOp::create(b, loc, gt));
    tagged(BufDeallocOp::create(b, loc, ut));
    for (Value v : {tg.w, tu.w, tg.scales, tu.scales})
      move(deallocsOf(v).front());
  }
  // One all-gather of the result where the second product's was.
  if (secondLoop->exchange) {
    secondLoop->exchange->setOperand(0, h);
    firstLoop->exchange->erase();
  }
  m->erase();
  for (Value out : {gate->out, up->out}) {
    if (out == h)
      continue;
    for (BufDeallocOp d : deallocsOf(out))
      d->erase();
    out.getDefiningOp()->erase();
  }
}

struct FuseSwiGLUPass
    : public flight::impl::FuseSwiGLUPassBase<FuseSwiGLUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkBufferLifetimes(getOperation(), getArgument())))
      return signalPassFailure();
    SmallVector<BufMiscOp> swiglus;
    getOperation().walk([&](BufMiscOp op) {
      if (op.getKind() == "swiglu")
        swiglus.push_back(op);
    });
    for (BufMiscOp op : swiglus)
      (void)SwiGLUFusion(op).run();
  }
};
} // namespace
