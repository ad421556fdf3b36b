//===- RaiseEmbeddings.cpp - Token and learned-position embeddings --------===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

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
       llvm::zip(probeAssignments(model.graphHasPast), *values)) {
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
  for (onnxir::GatherOp g : gathers) {
    ElementsAttr table = getConstant(g.getData());
    if (!table || cast<ShapedType>(table.getType()).getRank() != 2 ||
        g.getAxis() != 0)
      continue;
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
      ids = getOrCreatePositionIds(b, func, model, *offset);
    } else {
      continue;
    }
    Value weight = getOrCreateWeight(b, func, g.getData());
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
