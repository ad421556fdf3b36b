//===- RaiseLinear.cpp - MatMul/Gemm with constant weights -> llm.linear --===//

#include "RaiseContext.h"
#include "RaiseSweeps.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"

namespace flightllm {
#define GEN_PASS_DEF_RAISELINEARPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

namespace {

/// A constant matrix operand, possibly behind a 2-D transpose.
struct WeightRef {
  Value constant;
  bool transposed = false;
  /// Set for a pre-quantized weight (then `constant` is unused).
  std::optional<PrequantizedWeight> quantized;
};

std::optional<WeightRef> matchWeight(Value v) {
  if (ElementsAttr c = getConstant(v))
    if (cast<ShapedType>(c.getType()).getRank() == 2)
      return WeightRef{v, false, std::nullopt};
  if (auto t = v.getDefiningOp<onnxir::TransposeOp>()) {
    ElementsAttr c = getConstant(t.getData());
    bool swap = !t.getPerm() || (t.getPerm()->size() == 2 &&
                                 (*t.getPerm())[0] == 1 && (*t.getPerm())[1] == 0);
    if (c && cast<ShapedType>(c.getType()).getRank() == 2 && swap)
      return WeightRef{t.getData(), true, std::nullopt};
  }
  return std::nullopt;
}

int64_t outFeatures(const WeightRef &w) {
  if (w.quantized)
    return w.quantized->n;
  auto type = cast<ShapedType>(getConstant(w.constant).getType());
  return type.getDimSize(w.transposed ? 0 : 1);
}

/// A constant bias `[N]` (or `[1, .., N]`) added to `v`, when that Add is
/// `v`'s only use.
std::pair<Value, Operation *> matchBias(Value v, int64_t n) {
  if (!v.hasOneUse())
    return {};
  auto add = dyn_cast<onnxir::AddOp>(*v.getUsers().begin());
  if (!add)
    return {};
  Value other = add.getA() == v ? add.getB() : add.getA();
  ElementsAttr c = getConstant(other);
  if (!c)
    return {};
  auto type = cast<ShapedType>(c.getType());
  if (type.getNumElements() != n || type.getRank() < 1 ||
      type.getShape().back() != n)
    return {};
  return {other, add};
}

struct LinearRaiser {
  func::FuncOp func;
  const ModelInterface &model;
  OpBuilder b;

  /// Set when a rewrite met an error of the graph (reported at its node).
  bool hardFailure = false;
  /// Shapes for the MatMul/Gemm rewrites, which only add ops and redirect
  /// uses: shared so that the sweep stays linear in depth.
  ProbeSession probes;

  LinearRaiser(func::FuncOp func, const ModelInterface &model)
      : func(func), model(model), b(func.getContext()), probes(model) {}

  /// Builds `llm.linear(x, w, bias)` replacing `result`.
  bool build(Operation *at, Value x, const WeightRef &w, Value bias,
             Value result) {
    auto xType = probes.type(x);
    if (failed(xType) || xType->getRank() < 1)
      return false;
    b.setInsertionPoint(at);
    Value xc = castTo(b, at->getLoc(), x, *xType);
    SmallVector<int64_t> shape(xType->getShape());
    shape.back() = outFeatures(w);
    auto type = RankedTensorType::get(shape, xType->getElementType());
    Value weight = w.quantized ? createWeight(w.quantized->name,
                                              w.quantized->codes,
                                              w.quantized->loc)
                               : getOrCreateWeight(b, func, w.constant);
    Value biasWeight;
    if (bias) {
      int64_t n = outFeatures(w);
      biasWeight = getOrCreateWeight(b, func, bias, ArrayRef<int64_t>{n});
    }
    auto linear = llm::LinearOp::create(b, at->getLoc(), type, xc, weight,
                                        biasWeight, w.transposed,
                                        /*weight_scales=*/nullptr,
                                        /*input_scale=*/nullptr);
    if (w.quantized)
      setWeightFormat(linear, *w.quantized);
    result.replaceAllUsesWith(linear.getResult());
    return true;
  }

  /// A constant weight, or a pre-quantized one (DequantizeLinear).
  std::optional<WeightRef> matchAnyWeight(Value v) {
    if (std::optional<WeightRef> w = matchWeight(v))
      return w;
    FailureOr<std::optional<PrequantizedWeight>> q =
        matchPrequantizedWeight(model, v);
    if (failed(q)) {
      hardFailure = true;
      return std::nullopt;
    }
    if (!*q)
      return std::nullopt;
    WeightRef w;
    w.transposed = (*q)->transposed;
    w.quantized = std::move(**q);
    return w;
  }

  bool raiseMatMul(onnxir::MatMulOp mm) {
    std::optional<WeightRef> w = matchAnyWeight(mm.getB());
    if (!w || getConstant(mm.getA()))
      return false;
    auto [bias, add] = matchBias(mm.getY(), outFeatures(*w));
    Value result = add ? add->getResult(0) : Value(mm.getY());
    return build(add ? add : mm.getOperation(), mm.getA(), *w, bias, result);
  }

  bool raiseGemm(onnxir::GemmOp g) {
    std::optional<WeightRef> w = matchAnyWeight(g.getB());
    if (!w || w->transposed || g.getTransA() || g.getAlpha().convertToFloat() != 1.0f)
      return false;
    // The pre-quantized weight's groups were read as [K, N].
    if (w->quantized && g.getTransB())
      return false;
    w->transposed = g.getTransB() != 0;
    Value bias = g.getC();
    if (bias) {
      ElementsAttr c = getConstant(bias);
      if (!c || g.getBeta().convertToFloat() != 1.0f ||
          cast<ShapedType>(c.getType()).getNumElements() != outFeatures(*w))
        return false;
    }
    // GPT-2's Conv1D: Reshape(x, [-1, K]) -> Gemm -> Reshape(., [.., N]).
    // The linear applies to the unflattened x when the outer reshape
    // restores its leading dimensions.
    Value x = g.getA(), result = g.getY();
    Operation *at = g;
    auto inner = x.getDefiningOp<onnxir::ReshapeOp>();
    if (inner && g.getY().hasOneUse())
      if (auto outer = dyn_cast<onnxir::ReshapeOp>(*g.getY().getUsers().begin())) {
        // Both reshapes are dropped when the outer one restores x. A 2-D
        // reshape feeding a Gemm over K rows is valid only as the flattening
        // to [rows, K]; one that is not is an error of the graph, reported
        // at it rather than raised around.
        auto inShapes = probes.shapes(inner.getData());
        if (succeeded(inShapes) &&
            failed(checkDroppedReshape(model, inner, [](ArrayRef<int64_t> in) {
              return SmallVector<int64_t>{
                  in.empty() ? 0 : reference::getNumElements(in.drop_back()),
                  in.empty() ? 0 : in.back()};
            }))) {
          hardFailure = true;
          return false;
        }
        auto outShapes = probes.shapes(outer.getReshaped());
        bool restores = succeeded(inShapes) && succeeded(outShapes);
        for (size_t i = 0; restores && i < inShapes->size(); ++i) {
          SmallVector<int64_t> want = (*inShapes)[i];
          want.back() = outFeatures(*w);
          restores = want == (*outShapes)[i];
        }
        if (restores) {
          x = inner.getData();
          result = outer.getReshaped();
          at = outer;
        }
      }
    return build(at, x, *w, bias, result);
  }

  /// The projection columns a Reshape -> Transpose -> Reshape of `v`
  /// reads, in order, when that chain only reorders the last axis of a
  /// linear's output (each op the previous one's only use); the ops are
  /// appended to `chain`. MultiHeadAttention's packed QKV, [B, S, N, 3, H]
  /// regrouped to [B, S, 3, N, H], is such a reordering.
  std::optional<SmallVector<int64_t>>
  reorderedColumns(Value v, llm::LinearOp &linear,
                   SmallVector<Operation *> &chain) {
    auto outer = v.getDefiningOp<onnxir::ReshapeOp>();
    auto transpose =
        outer ? outer.getData().getDefiningOp<onnxir::TransposeOp>() : nullptr;
    auto inner = transpose
                     ? transpose.getData().getDefiningOp<onnxir::ReshapeOp>()
                     : nullptr;
    auto source =
        inner ? inner.getData().getDefiningOp<llm::LinearOp>() : nullptr;
    if (!source || !transpose.getPerm() || !source.getResult().hasOneUse() ||
        !inner.getReshaped().hasOneUse() || !transpose->hasOneUse())
      return std::nullopt;
    auto in = probes.shapes(source.getResult());
    auto split = probes.shapes(inner.getReshaped());
    auto out = probes.shapes(outer.getReshaped());
    if (failed(in) || failed(split) || failed(out))
      return std::nullopt;
    // Leading axes kept; the last one split into `dims`, permuted, merged.
    int64_t lead = int64_t(in->front().size()) - 1;
    ArrayRef<int64_t> perm = *transpose.getPerm();
    SmallVector<int64_t> dims(split->front().begin() + std::min<int64_t>(
                                  lead, split->front().size()),
                              split->front().end());
    for (size_t i = 0; i < in->size(); ++i) {
      ArrayRef<int64_t> a = (*in)[i], b = (*split)[i];
      if ((*out)[i] != (*in)[i] || int64_t(b.size()) != lead + int64_t(dims.size()) ||
          a.drop_back() != b.take_front(lead) ||
          b.drop_front(lead) != ArrayRef<int64_t>(dims))
        return std::nullopt;
    }
    if (int64_t(perm.size()) != lead + int64_t(dims.size()))
      return std::nullopt;
    for (int64_t i = 0; i < lead; ++i)
      if (perm[i] != i)
        return std::nullopt;
    // Column of the output position (row-major over the permuted dims).
    int64_t n = in->front().back(), k = int64_t(dims.size());
    SmallVector<int64_t> strides(k, 1);
    for (int64_t i = k - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * dims[i + 1];
    SmallVector<int64_t> columns;
    columns.reserve(n);
    SmallVector<int64_t> index(k, 0); // over the permuted dims
    for (int64_t j = 0; j < n; ++j) {
      int64_t column = 0;
      for (int64_t i = 0; i < k; ++i)
        column += index[i] * strides[perm[lead + i] - lead];
      columns.push_back(column);
      for (int64_t i = k - 1; i >= 0; --i) {
        if (++index[i] < dims[perm[lead + i] - lead])
          break;
        index[i] = 0;
      }
    }
    chain = {outer, transpose, inner};
    linear = source;
    return columns;
  }

  /// One linear per part of a split output (fused QKV), slicing the weight
  /// (its columns reordered first when the split reads them so).
  bool raiseSplitOf(onnxir::SplitOp split) {
    auto linear = split.getInput().getDefiningOp<llm::LinearOp>();
    SmallVector<Operation *> chain;
    std::optional<SmallVector<int64_t>> order;
    if (!linear)
      order = reorderedColumns(split.getInput(), linear, chain);
    if (!linear || !linear.getResult().hasOneUse())
      return false;
    auto type = cast<RankedTensorType>(linear.getResult().getType());
    int64_t axis = int64_t(split.getAxis());
    if (axis < 0)
      axis += type.getRank();
    if (axis != type.getRank() - 1)
      return false;
    int64_t n = type.getShape().back();
    // Output column c of the split input is the linear's column at(c).
    auto at = [&](int64_t c) { return order ? (*order)[c] : c; };
    SmallVector<int64_t> sizes;
    if (split.getSplit()) {
      auto values = probe(model, split.getSplit());
      if (failed(values))
        return false;
      sizes = values->front().toInt64Vector();
    } else {
      int64_t parts = split.getNumResults();
      if (n % parts)
        return false;
      sizes.assign(parts, n / parts);
    }
    if (sizes.size() != split.getNumResults())
      return false;
    // The parts must tile the n columns exactly: a split input of the graph
    // is only a value, and sizes beyond n made sliceColumns allocate and
    // copy past the weight (found by fuzz-onnx-proto-raise).
    int64_t covered = 0;
    for (int64_t size : sizes) {
      if (size < 0 || size > n - covered)
        return false;
      covered += size;
    }
    if (covered != n)
      return false;
    auto weight = HostTensor::fromElementsAttr(
        getConstant(linear.getWeight()));
    std::optional<HostTensor> bias;
    if (linear.getBias()) {
      auto t = HostTensor::fromElementsAttr(getConstant(linear.getBias()));
      if (!t) {
        llvm::consumeError(t.takeError());
        return false;
      }
      bias = std::move(*t);
    }
    if (!weight) {
      llvm::consumeError(weight.takeError());
      return false;
    }
    bool transposed = linear.getTransposeWeight();
    auto weightOp = linear.getWeight().getDefiningOp<llm::WeightOp>();
    // A pre-quantized weight's per-channel parameters: rows of [N] / [N, G].
    auto rowsOf = [&](Attribute attr, int64_t start,
                      int64_t size) -> DenseElementsAttr {
      auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
      if (!dense)
        return {};
      auto t = HostTensor::fromElementsAttr(dense);
      if (!t) {
        llvm::consumeError(t.takeError());
        return {};
      }
      int64_t perRow = t->getNumElements() / n;
      HostTensor rows = gatherColumns(t->reshaped({n, perRow}), start, size,
                                      at, /*transposed=*/true);
      SmallVector<int64_t> shape(dense.getType().getShape());
      shape[0] = size;
      return cast<DenseElementsAttr>(rows.toDenseElementsAttr(b.getContext()))
          .reshape(RankedTensorType::get(shape,
                                         dense.getType().getElementType()));
    };
    b.setInsertionPoint(split);
    int64_t start = 0;
    for (auto [i, size] : llvm::enumerate(sizes)) {
      HostTensor part = gatherColumns(*weight, start, size, at, transposed);
      auto attr = part.toDenseElementsAttr(b.getContext());
      std::string name = weightOp.getName().str() + ".part" + std::to_string(i);
      Value w = createWeight(name, attr, linear.getLoc());
      Value bw;
      // A part's own constant bias (MultiHeadAttention's, added after the
      // split) becomes the part linear's when the projection has none.
      auto [partBias, partAdd] =
          bias ? std::pair<Value, Operation *>() : matchBias(split.getResult(i), size);
      if (bias) {
        HostTensor bpart = gatherColumns(bias->reshaped({1, n}), start, size,
                                         at, /*transposed=*/false)
                               .reshaped({size});
        bw = createWeight(name + ".bias", bpart.toDenseElementsAttr(b.getContext()),
                          linear.getLoc());
      } else if (partBias) {
        bw = getOrCreateWeight(b, func, partBias, ArrayRef<int64_t>{size});
      }
      SmallVector<int64_t> shape(type.getShape());
      shape.back() = size;
      auto partType = RankedTensorType::get(shape, type.getElementType());
      auto partLinear = llm::LinearOp::create(
          b, split.getLoc(), partType, linear.getX(), w, bw, transposed,
          /*weight_scales=*/nullptr, /*input_scale=*/nullptr);
      // Every other attribute (compressed format) carries over; the
      // per-channel ones are cut to the part's channels.
      for (NamedAttribute attr : linear->getAttrs())
        if (!partLinear->hasAttr(attr.getName()) ||
            attr.getName() == "weight_bits" || attr.getName() == "group_size")
          partLinear->setAttr(attr.getName(), attr.getValue());
      for (StringRef name : {"weight_scales", "weight_zero_points"})
        if (Attribute attr = linear->getAttr(name)) {
          if (DenseElementsAttr rows = rowsOf(attr, start, size))
            partLinear->setAttr(name, rows);
          else
            partLinear->removeAttr(name);
        }
      if (partAdd) {
        partAdd->getResult(0).replaceAllUsesWith(partLinear.getResult());
        probes.forget(partAdd->getResult(0));
        partAdd->erase();
      } else {
        split.getResult(i).replaceAllUsesWith(partLinear.getResult());
      }
      start += size;
    }
    split.erase();
    for (Operation *op : chain) {
      probes.forget(op->getResult(0));
      op->erase();
    }
    probes.forget(linear.getResult());
    linear.erase();
    return true;
  }

  Value createWeight(StringRef name, DenseElementsAttr value, Location loc) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&func.getBody().front());
    return llm::WeightOp::create(b, loc, value.getType(), b.getStringAttr(name),
                                 value)
        .getResult();
  }

  /// Output channels at(start), ..., at(start + size - 1) of the weight
  /// `w` ([K, N], or [N, K] when `transposed`).
  static HostTensor gatherColumns(const HostTensor &w, int64_t start,
                                  int64_t size,
                                  function_ref<int64_t(int64_t)> at,
                                  bool transposed) {
    int64_t rows = w.getDim(0), cols = w.getDim(1);
    unsigned elem = w.getElementSize();
    ArrayRef<char> src = w.getRawData();
    char *dst = nullptr;
    if (transposed) {
      HostTensor out(w.getKind(), {size, cols});
      dst = out.getMutableRawData().data();
      for (int64_t c = 0; c < size; ++c)
        std::memcpy(dst + c * cols * elem, src.data() + at(start + c) * cols * elem,
                    cols * elem);
      return out;
    }
    HostTensor out(w.getKind(), {rows, size});
    dst = out.getMutableRawData().data();
    // Runs of consecutive columns are copied whole (all of a plain split).
    for (int64_t c = 0; c < size;) {
      int64_t from = at(start + c), run = 1;
      while (c + run < size && at(start + c + run) == from + run)
        ++run;
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(dst + (r * size + c) * elem,
                    src.data() + (r * cols + from) * elem, run * elem);
      c += run;
    }
    return out;
  }
};

} // namespace

FailureOr<unsigned> raising::raiseLinear(func::FuncOp func,
                                        const ModelInterface &model) {
  LinearRaiser raiser(func, model);
  unsigned changed = 0;
  SmallVector<Operation *> candidates;
  func.walk([&](Operation *op) {
    if (isa<onnxir::MatMulOp, onnxir::GemmOp>(op))
      candidates.push_back(op);
  });
  for (Operation *op : candidates) {
    bool done = false;
    if (auto mm = dyn_cast<onnxir::MatMulOp>(op))
      done = raiser.raiseMatMul(mm);
    else
      done = raiser.raiseGemm(cast<onnxir::GemmOp>(op));
    if (raiser.hardFailure)
      return failure();
    changed += done;
  }
  SmallVector<onnxir::SplitOp> splits;
  func.walk([&](onnxir::SplitOp s) { splits.push_back(s); });
  for (onnxir::SplitOp s : splits)
    changed += raiser.raiseSplitOf(s);
  return changed;
}

namespace {
struct RaiseLinearPass : public flightllm::impl::RaiseLinearPassBase<RaiseLinearPass> {
  void runOnOperation() override {
    LogicalResult swept = success();
    if (failed(runOneSweep(getOperation(),
                           [&](func::FuncOp func, const ModelInterface &model) {
                             swept = success(
                                 succeeded(raiseLinear(func, model)));
                           })) ||
        failed(swept))
      signalPassFailure();
  }
};
} // namespace
