//===- RaiseEmbeddings.cpp - Token and learned-position embeddings --------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Reference/ONNXEvaluator.h"

#include "mlir/IR/Diagnostics.h"

#include <cmath>
#include <cstring>

namespace flightllm {
#define GEN_PASS_DEF_RAISEEMBEDDINGSPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

/// The offset `o` such that `index[.., s] == P + s + o` for every probe, if
/// the shape-determined `index` holds positions.
static std::optional<int64_t> positionOffset(const ModelInterface &model,
                                             Value index) {
  if (!isShapeDetermined(index))
    return std::nullopt;
  auto values = probe(model, index);
  if (failed(values))
    return std::nullopt;
  std::optional<int64_t> offset;
  for (auto [a, t] :
       llvm::zip(model.probes(), *values)) {
    ArrayRef<int64_t> shape = t.getShape();
    if (shape.empty() || shape.back() != a.newTokens)
      return std::nullopt;
    if (shape.size() == 2 && shape[0] != 1 && shape[0] != a.batch)
      return std::nullopt;
    if (shape.size() > 2)
      return std::nullopt;
    for (int64_t i = 0; i < t.getNumElements(); ++i) {
      int64_t s = i % a.newTokens;
      int64_t o = t.getInt(i) - a.past - s;
      if (offset && *offset != o)
        return std::nullopt;
      offset = o;
    }
  }
  if (offset && *offset < 0)
    return std::nullopt;
  return offset;
}

/// A table sliced to the sequence length before the position gather
/// (`cos_cached[:seq_len]`, possibly with squeezes and casts around it): the
/// whole table, as a constant placed at the top of the function, when `data`
/// is, at every probe, a prefix of its rows. A gather by positions reads
/// only rows below the sliced length, so it reads the same rows of the
/// whole table.
static Value wholePositionTable(OpBuilder &b, func::FuncOp func,
                                const ModelInterface &model, Value data) {
  // The chain of single-data-operand ops back to the constant.
  SmallVector<Operation *> chain;
  Value root = data;
  while (!getConstant(root)) {
    Operation *op = root.getDefiningOp();
    if (!op || !isa<onnxir::SliceOp, onnxir::SqueezeOp, onnxir::UnsqueezeOp,
                    onnxir::CastOp>(op))
      return {};
    for (Value operand : op->getOperands().drop_front())
      if (!isShapeDetermined(operand))
        return {};
    chain.push_back(op);
    root = op->getOperand(0);
  }
  if (llvm::none_of(chain, [](Operation *op) { return isa<onnxir::SliceOp>(op); }))
    return {};
  // The same chain without the slices, evaluated on the constant.
  auto table = HostTensor::fromElementsAttr(getConstant(root));
  if (!table) {
    llvm::consumeError(table.takeError());
    return {};
  }
  Evaluator e(model, model.probes().front());
  HostTensor whole = std::move(*table);
  ScopedDiagnosticHandler silence(func.getContext(),
                                  [](Diagnostic &) { return success(); });
  for (Operation *op : llvm::reverse(chain)) {
    if (auto slice = dyn_cast<onnxir::SliceOp>(op)) {
      auto starts = e.eval(slice.getStarts());
      if (failed(starts) ||
          llvm::any_of(starts->toInt64Vector(), [](int64_t s) { return s != 0; }))
        return {};
      if (slice.getSteps()) {
        auto steps = e.eval(slice.getSteps());
        if (failed(steps) || llvm::any_of(steps->toInt64Vector(),
                                          [](int64_t s) { return s != 1; }))
          return {};
      }
      continue;
    }
    SmallVector<HostTensor> operands{whole};
    for (Value operand : op->getOperands().drop_front()) {
      auto t = e.eval(operand);
      if (failed(t))
        return {};
      operands.push_back(*t);
    }
    auto r = reference::evaluateONNXOp(op, operands);
    if (failed(r))
      return {};
    whole = std::move(r->front());
  }
  if (whole.getRank() != 2)
    return {};
  // At every probe the sliced table is the first rows of the whole one.
  auto sliced = probe(model, data);
  if (failed(sliced))
    return {};
  for (const HostTensor &t : *sliced) {
    if (t.getRank() != 2 || t.getDim(1) != whole.getDim(1) ||
        t.getDim(0) > whole.getDim(0))
      return {};
    ArrayRef<char> got = t.getRawData(), want = whole.getRawData();
    if (t.getKind() != whole.getKind() ||
        std::memcmp(got.data(), want.data(), got.size()) != 0)
      return {};
  }
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&func.getBody().front());
  DenseElementsAttr value = whole.toDenseElementsAttr(func.getContext());
  auto constant = onnxir::ConstantOp::create(
      b, root.getLoc(), value.getType(), value, nullptr, nullptr, nullptr,
      nullptr, nullptr, nullptr);
  if (Operation *def = root.getDefiningOp())
    if (auto name = def->getAttrOfType<StringAttr>("onnx.name"))
      constant->setAttr("onnx.name", name);
  return constant.getResult();
}

/// Rows of the table that stands for a rotary embedding computed in the
/// graph from the positions (the graph has no table, and so no limit).
constexpr int64_t kComputedRotaryRows = 4096;

/// A rotary embedding computed in the graph (Llama 4.38:
/// cos(inv_freq @ position_ids)): a shape-determined `x` of [B or 1, S, D]
/// whose row s is, at every probe, row P + s of one table. Returns that
/// table (kComputedRotaryRows rows, placed at the top of the function).
static Value computedPositionTable(OpBuilder &b, func::FuncOp func,
                                   const ModelInterface &model, Value x,
                                   StringRef name) {
  if (!isShapeDetermined(x) || model.pastKeys.empty())
    return {};
  auto type = dyn_cast<RankedTensorType>(x.getType());
  if (type && type.getRank() != 3)
    return {};
  // The table: the value for positions 0 .. rows-1 of one sequence.
  Evaluator whole(model, {1, kComputedRotaryRows, 0});
  auto table = whole.eval(x);
  if (failed(table) || table->getRank() != 3 || table->getDim(0) != 1 ||
      table->getDim(1) != kComputedRotaryRows ||
      !reference::isFloatKind(table->getKind()))
    return {};
  int64_t d = table->getDim(2);
  HostTensor rows = table->reshaped({kComputedRotaryRows, d});
  auto values = probe(model, x);
  if (failed(values))
    return {};
  for (auto [a, t] : llvm::zip(model.probes(), *values)) {
    if (t.getRank() != 3 || t.getDim(1) != a.newTokens || t.getDim(2) != d ||
        (t.getDim(0) != 1 && t.getDim(0) != a.batch) ||
        t.getKind() != rows.getKind())
      return {};
    for (int64_t i = 0; i < t.getNumElements(); ++i) {
      int64_t s = (i / d) % a.newTokens, j = i % d;
      double want = rows.getDouble((a.past + s) * d + j);
      if (std::abs(t.getDouble(i) - want) > 1e-6 * (1 + std::abs(want)))
        return {};
    }
  }
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&func.getBody().front());
  DenseElementsAttr value = rows.toDenseElementsAttr(func.getContext());
  auto constant = onnxir::ConstantOp::create(b, x.getLoc(), value.getType(),
                                             value, nullptr, nullptr, nullptr,
                                             nullptr, nullptr, nullptr);
  constant->setAttr("onnx.name", b.getStringAttr(name));
  return constant.getResult();
}

/// Replaces the rotary embeddings computed in the graph (Cos and Sin of the
/// positions) by lookups of their tables.
static unsigned raiseComputedRotary(OpBuilder &b, func::FuncOp func,
                                    const ModelInterface &model) {
  SmallVector<Operation *> trig;
  func.walk([&](Operation *op) {
    if (isa<onnxir::CosOp, onnxir::SinOp>(op))
      trig.push_back(op);
  });
  unsigned changed = 0;
  for (Operation *op : trig) {
    Value x = op->getResult(0);
    // The table is of the value the rotation reads: after any cast.
    while (x.hasOneUse())
      if (auto cast = dyn_cast<onnxir::CastOp>(*x.getUsers().begin()))
        x = cast.getOutput();
      else
        break;
    std::string name = isa<onnxir::CosOp>(op) ? "rotary_cos" : "rotary_sin";
    name += "." + std::to_string(changed);
    Value table = computedPositionTable(b, func, model, x, name);
    if (!table)
      continue;
    b.setInsertionPointAfterValue(x);
    Value weight = getOrCreateWeight(b, func, table);
    Value ids = getOrCreatePositionIds(b, func, model, 0);
    auto idsType = cast<RankedTensorType>(ids.getType());
    auto tableType = cast<ShapedType>(weight.getType());
    auto type = RankedTensorType::get(
        {idsType.getDimSize(0), idsType.getDimSize(1), tableType.getDimSize(1)},
        tableType.getElementType());
    Value emb = llm::EmbeddingOp::create(b, x.getLoc(), type, weight, ids);
    x.replaceAllUsesWith(emb);
    ++changed;
  }
  return changed;
}

Value raising::getOrCreatePositionIds(OpBuilder &b, func::FuncOp func,
                                      const ModelInterface &model,
                                      int64_t offset) {
  for (auto p : func.getOps<llm::PositionIdsOp>())
    if (int64_t(p.getOffset()) == offset)
      return p.getResult();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&func.getBody().front());
  Value ids = model.inputIds;
  auto op = llm::PositionIdsOp::create(b, func.getLoc(), ids.getType(), ids,
                                       model.pastKeys.front(),
                                       b.getI64IntegerAttr(offset));
  return op.getResult();
}

unsigned raising::raiseEmbeddings(func::FuncOp func, const ModelInterface &model) {
  OpBuilder b(func.getContext());
  unsigned changed = 0;
  SmallVector<onnxir::GatherOp> gathers;
  func.walk([&](onnxir::GatherOp g) { gathers.push_back(g); });
  changed += raiseComputedRotary(b, func, model);
  for (onnxir::GatherOp g : gathers) {
    if (g.getAxis() != 0)
      continue;
    Value data = g.getData();
    // Casts of the ids are looked through only when they keep every id: to
    // 32 or 64-bit integers (vocabularies are far below 2^31).
    Value indices = g.getIndices();
    while (auto c = indices.getDefiningOp<onnxir::CastOp>()) {
      auto to = dyn_cast<IntegerType>(getElementTypeOrSelf(c.getType()));
      if (!to || to.getWidth() < 32)
        break;
      indices = c.getInput();
    }
    b.setInsertionPoint(g);
    Value ids;
    if (indices == model.inputIds) {
      ids = model.inputIds;
    } else if (std::optional<int64_t> offset = positionOffset(model, indices)) {
      if (model.pastKeys.empty())
        continue;
      if (!getConstant(data))
        data = wholePositionTable(b, func, model, data);
      if (!data)
        continue;
      ids = getOrCreatePositionIds(b, func, model, *offset);
    } else {
      continue;
    }
    ElementsAttr table = getConstant(data);
    if (!table || cast<ShapedType>(table.getType()).getRank() != 2)
      continue;
    Value weight = getOrCreateWeight(b, func, data);
    auto idsType = cast<RankedTensorType>(ids.getType());
    SmallVector<int64_t> shape(idsType.getShape());
    shape.push_back(cast<ShapedType>(table.getType()).getDimSize(1));
    auto type = RankedTensorType::get(
        shape, cast<ShapedType>(table.getType()).getElementType());
    Value emb = llm::EmbeddingOp::create(b, g.getLoc(), type, weight, ids);
    g.getResult().replaceAllUsesWith(emb);
    g.erase();
    ++changed;
  }
  return changed;
}

namespace {
struct RaiseEmbeddingsPass
    : public flightllm::impl::RaiseEmbeddingsPassBase<RaiseEmbeddingsPass> {
  void runOnOperation() override {
    if (failed(runOneSweep(getOperation(), raiseEmbeddings)))
      signalPassFailure();
  }
};
} // namespace
