//===- Regions.cpp - Subgraphs between raised values and their checks -----===//

#include "RaiseSweeps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/SetVector.h"

#include <deque>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

static bool isONNX(Operation *op) {
  return op && isa<onnxir::ONNXDialect>(op->getDialect());
}

/// Sorts an operand met while walking back: constants and shape-determined
/// values are evaluated where needed (nothing to do), raised values and
/// arguments are region inputs, and onnx ops computing data are returned to
/// be walked into.
static Operation *classifyOperand(Value v, Subgraph &r) {
  Operation *def = v.getDefiningOp();
  if (getConstant(v) || (def && isa<onnxir::ShapeOp>(def)))
    return nullptr;
  if (!isONNX(def)) {
    r.inputs.insert(v);
    return nullptr;
  }
  if (isShapeDetermined(v))
    return nullptr;
  return def;
}

FailureOr<Subgraph> raising::collectRegion(Operation *anchor, unsigned maxOps,
                                         function_ref<bool(Operation *)> allowed,
                                         function_ref<bool(Operation *)> isBoundary) {
  Subgraph r;
  llvm::DenseSet<Operation *> forwardOps;
  std::deque<std::pair<Operation *, bool>> work{{anchor, true}};
  while (!work.empty()) {
    auto [op, forward] = work.front();
    work.pop_front();
    if (forward)
      forwardOps.insert(op);
    if (!r.ops.insert(op))
      continue;
    if (r.ops.size() > maxOps || (allowed && !allowed(op)))
      return failure();
    if (forward)
      for (Operation *user : op->getUsers())
        if (isONNX(user) && !isa<onnxir::ShapeOp>(user) &&
            !(isBoundary && isBoundary(user)))
          work.push_back({user, true});
    for (Value operand : op->getOperands()) {
      Operation *def = classifyOperand(operand, r);
      if (def)
        work.push_back({def, false});
    }
  }
  // Values computed downstream of the anchor are outputs wherever they are
  // used; values it reads (the shared rotary lookups, say) only where raised
  // ops or the return use them.
  for (Operation *op : r.ops)
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers()) {
        bool outside = !r.ops.contains(user) && !isa<onnxir::ShapeOp>(user);
        if (outside && (forwardOps.contains(op) || !isONNX(user))) {
          r.outputs.insert(result);
          break;
        }
      }
  return r;
}

Subgraph raising::backwardRegion(Value v) {
  Subgraph r;
  SmallVector<Value> work{v};
  while (!work.empty()) {
    Operation *def = classifyOperand(work.pop_back_val(), r);
    if (!def || !r.ops.insert(def))
      continue;
    for (Value operand : def->getOperands())
      work.push_back(operand);
  }
  return r;
}

void raising::bindArguments(Evaluator &e, const ModelInterface &model,
                            RandomTensors &random) {
  const DimAssignment &a = e.getAssignment();
  e.bind(model.inputIds, HostTensor(reference::ElementKind::I64,
                                    model.argShape(model.inputIds, a)));
  SmallVector<BlockArgument> caches(model.pastKeys);
  caches.append(model.pastValues.begin(), model.pastValues.end());
  for (BlockArgument arg : caches) {
    SmallVector<int64_t> shape = model.argShape(arg, a);
    if (!model.graphHasPast)
      shape[2] = 0;
    e.bind(arg, random.uniformFor(arg, shape));
  }
}

std::optional<unsigned>
raising::pickMatchingCandidate(const ModelInterface &model,
                               ArrayRef<Value> inputs, ArrayRef<Value> expected,
                               ArrayRef<Candidate> candidates, float inputScale,
                               ArrayRef<DimAssignment> assignments) {
  RandomTensors random;
  SmallVector<bool> ok(candidates.size(), true);
  // The worst error of each candidate over the probes (in f16, GELU's erf
  // and tanh forms both fit the wider tolerance: the closer one is meant).
  SmallVector<double> worst(candidates.size(), 0.0);
  double tolerance = 0;
  for (Value v : expected)
    tolerance =
        std::max(tolerance, matchTolerance(getElementTypeOrSelf(v.getType())));
  SmallVector<DimAssignment, 3> probes = model.probes();
  if (assignments.empty())
    assignments = probes;
  for (const DimAssignment &a : assignments) {
    Evaluator e(model, a);
    bindArguments(e, model, random);
    for (Value v : inputs) {
      if (isa<BlockArgument>(v))
        continue;
      auto shape = e.shape(v);
      if (failed(shape))
        return std::nullopt;
      e.bind(v, random.uniformFor(v, *shape, -inputScale, inputScale));
    }
    SmallVector<HostTensor> want;
    for (Value v : expected) {
      auto t = e.eval(v);
      if (failed(t))
        return std::nullopt;
      want.push_back(t->getKind() == reference::ElementKind::F32
                         ? std::move(*t)
                         : t->castTo(reference::ElementKind::F32));
    }
    for (auto [i, candidate] : llvm::enumerate(candidates)) {
      if (!ok[i])
        continue;
      for (auto [result, w] : llvm::zip(candidate.results, want)) {
        auto got = e.eval(result);
        double error = failed(got) ? tolerance + 1 : relativeError(*got, w);
        worst[i] = std::max(worst[i], error);
        if (error > tolerance) {
          ok[i] = false;
          break;
        }
      }
    }
  }
  // Candidates are listed by preference: the first that matches, or with
  // the wider tolerance of f16/bf16 values, the first of the closest.
  bool closest = tolerance > kMatchTolerance;
  std::optional<unsigned> best;
  for (auto [i, good] : llvm::enumerate(ok))
    if (good && (!best || (closest && worst[i] < worst[*best])))
      best = unsigned(i);
  return best;
}

/// Erases created ops that ended up unused, users first.
static void eraseUnused(ArrayRef<Operation *> ops) {
  bool erased = true;
  // Candidates share ops (the rotary embeddings of several attention
  // candidates): each must be visited once.
  llvm::SetVector<Operation *> unique(ops.begin(), ops.end());
  SmallVector<Operation *> live(unique.begin(), unique.end());
  while (erased) {
    erased = false;
    for (Operation *&op : live)
      if (op && op->use_empty()) {
        op->erase();
        op = nullptr;
        erased = true;
      }
  }
}

void raising::commitCandidate(ArrayRef<Value> expected,
                              MutableArrayRef<Candidate> candidates,
                              unsigned chosen) {
  if (chosen < candidates.size())
    for (auto [old, replacement] :
         llvm::zip(expected, candidates[chosen].results))
      Value(old).replaceAllUsesWith(replacement);
  SmallVector<Operation *> dead;
  for (auto [i, c] : llvm::enumerate(candidates))
    if (i != chosen)
      dead.append(c.ops.begin(), c.ops.end());
  eraseUnused(dead);
}

FailureOr<RankedTensorType> raising::probedType(const ModelInterface &model,
                                                Value v) {
  auto shapes = probeShapes(model, v);
  if (failed(shapes))
    return failure();
  return symbolicType(*shapes, getElementTypeOrSelf(v.getType()));
}
