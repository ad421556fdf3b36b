//===- EvalShape.cpp - Data movement and shape onnx ops -------------------===//
//
// Gather, Reshape, Transpose, Unsqueeze, Squeeze, Concat, Slice, Split,
// Shape, ConstantOfShape, Expand, Range and Trilu. These move bytes without
// looking at them, so they work for every element type alike.
//===----------------------------------------------------------------------===//

#include "ONNXEvalCommon.h"

#include "llvm/ADT/SmallBitVector.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstring>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;
using namespace flightllm::reference::onnxeval;

namespace {

/// Reads a 1-D integer operand (a shape, axes, starts, ...).
FailureOr<SmallVector<int64_t>>
readVector(const EvalContext &ctx, const HostTensor &t, StringRef what) {
  if (t.getRank() != 1) {
    ctx.error() << what << " must be a 1-D tensor, got " << t.describeType();
    return failure();
  }
  return t.toInt64Vector();
}

/// Element count of a shape from user data, failing instead of overflowing.
FailureOr<int64_t> checkedNumElements(const EvalContext &ctx,
                                      ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || llvm::MulOverflow(n, d, n)) {
      ctx.error() << "shape has a negative dimension or too many elements";
      return failure();
    }
  return n;
}

/// Copies `count` rows of `rowBytes` bytes each from `src` with a source
/// row pitch into `dst` with a destination row pitch.
void copyRows(char *dst, int64_t dstPitch, const char *src, int64_t srcPitch,
              int64_t count, int64_t rowBytes) {
  if (!rowBytes)
    return;
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(dst + i * dstPitch, src + i * srcPitch, rowBytes);
}

} // namespace

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::GatherOp op) {
  const HostTensor &data = *ctx.operand(op, 0), &indices = *ctx.operand(op, 1);
  auto axis = ctx.normalizeAxis(int64_t(op.getAxis()), data.getRank());
  if (failed(axis))
    return failure();
  int64_t dim = data.getDim(*axis);
  SmallVector<int64_t> idx = indices.toInt64Vector();
  for (int64_t &i : idx) {
    if (i < -dim || i >= dim) {
      ctx.error() << "index " << i << " is out of range for axis " << *axis
                  << " of size " << dim;
      return failure();
    }
    if (i < 0)
      i += dim;
  }
  ArrayRef<int64_t> shape = data.getShape();
  SmallVector<int64_t> outShape(shape.take_front(*axis));
  llvm::append_range(outShape, indices.getShape());
  llvm::append_range(outShape, shape.drop_front(*axis + 1));
  auto out = ctx.allocate(data.getKind(), outShape);
  if (failed(out))
    return failure();
  int64_t outer = getNumElements(shape.take_front(*axis));
  int64_t inner = getNumElements(shape.drop_front(*axis + 1));
  int64_t rowBytes = inner * data.getElementSize();
  const char *src = data.getRawData().data();
  char *dst = out->getMutableRawData().data();
  int64_t n = idx.size();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      if (rowBytes)
        std::memcpy(dst + (o * n + j) * rowBytes,
                    src + (o * dim + idx[j]) * rowBytes, rowBytes);
  return single(std::move(out));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ReshapeOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  auto shape = readVector(ctx, *ctx.operand(op, 1), "shape");
  if (failed(shape))
    return failure();
  bool allowZero = op.getAllowzero() != 0;
  int64_t inferred = -1;
  bool hasZero = false;
  for (auto [i, d] : llvm::enumerate(*shape)) {
    if (d == -1) {
      if (inferred >= 0) {
        ctx.error() << "shape has more than one -1";
        return failure();
      }
      inferred = i;
    } else if (d == 0) {
      hasZero = true;
      if (!allowZero) {
        if (int64_t(i) >= data.getRank()) {
          ctx.error() << "shape entry " << i
                      << " is 0 (copy the input dimension) but the input has "
                         "rank "
                      << data.getRank();
          return failure();
        }
        d = data.getDim(i);
      }
    } else if (d < -1) {
      ctx.error() << "shape entry " << i << " is " << d
                  << " (only -1 may be negative)";
      return failure();
    }
  }
  if (allowZero && hasZero && inferred >= 0) {
    ctx.error() << "shape has both 0 and -1 with allowzero = 1";
    return failure();
  }
  int64_t known = 1;
  for (auto [i, d] : llvm::enumerate(*shape))
    if (int64_t(i) != inferred && llvm::MulOverflow(known, d, known)) {
      ctx.error() << "shape has too many elements";
      return failure();
    }
  int64_t n = data.getNumElements();
  if (inferred >= 0) {
    if (known == 0 || n % known != 0) {
      ctx.error() << "cannot infer the -1 dimension: " << n
                  << " elements are not a multiple of " << known;
      return failure();
    }
    (*shape)[inferred] = n / known;
  } else if (known != n) {
    ctx.error() << "cannot reshape " << data.describeType() << " into " << known
                << " elements";
    return failure();
  }
  return single(data.reshaped(*shape));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::TransposeOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  int64_t rank = data.getRank();
  SmallVector<int64_t> perm;
  if (auto p = op.getPerm())
    perm.assign(p->begin(), p->end());
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  llvm::SmallBitVector seen(rank);
  if (int64_t(perm.size()) != rank) {
    ctx.error() << "perm has " << perm.size() << " entries for rank " << rank;
    return failure();
  }
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen.test(p)) {
      ctx.error() << "perm is not a permutation of [0, " << rank << ")";
      return failure();
    }
    seen.set(p);
  }
  SmallVector<int64_t> inStrides = getStrides(data.getShape());
  SmallVector<int64_t> outShape, strides;
  for (int64_t p : perm) {
    outShape.push_back(data.getDim(p));
    strides.push_back(inStrides[p]);
  }
  return single(gatherStrided(ctx, data, outShape, strides));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::UnsqueezeOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  auto axes = readVector(ctx, *ctx.operand(op, 1), "axes");
  if (failed(axes))
    return failure();
  int64_t outRank = data.getRank() + int64_t(axes->size());
  auto normalized = ctx.normalizeAxes(*axes, outRank);
  if (failed(normalized))
    return failure();
  llvm::SmallBitVector inserted(outRank);
  for (int64_t a : *normalized)
    inserted.set(a);
  SmallVector<int64_t> shape;
  ArrayRef<int64_t> in = data.getShape();
  for (int64_t d = 0; d < outRank; ++d) {
    if (inserted.test(d)) {
      shape.push_back(1);
    } else {
      shape.push_back(in.front());
      in = in.drop_front();
    }
  }
  return single(data.reshaped(shape));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SqueezeOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  int64_t rank = data.getRank();
  llvm::SmallBitVector removed(rank);
  if (const HostTensor *axesTensor = ctx.operand(op, 1)) {
    auto axes = readVector(ctx, *axesTensor, "axes");
    if (failed(axes))
      return failure();
    auto normalized = ctx.normalizeAxes(*axes, rank);
    if (failed(normalized))
      return failure();
    for (int64_t a : *normalized) {
      if (data.getDim(a) != 1) {
        ctx.error() << "cannot squeeze axis " << a << " of size "
                    << data.getDim(a);
        return failure();
      }
      removed.set(a);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      if (data.getDim(d) == 1)
        removed.set(d);
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d)
    if (!removed.test(d))
      shape.push_back(data.getDim(d));
  return single(data.reshaped(shape));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ConcatOp op) {
  ArrayRef<HostTensor> inputs = ctx.variadicOperand(op, 0);
  if (inputs.empty()) {
    ctx.error() << "needs at least one input";
    return failure();
  }
  const HostTensor &first = inputs.front();
  int64_t rank = first.getRank();
  auto axis = ctx.normalizeAxis(int64_t(op.getAxis()), rank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (const HostTensor &t : inputs) {
    bool ok = t.getKind() == first.getKind() && t.getRank() == rank;
    for (int64_t d = 0; ok && d < rank; ++d)
      ok = d == *axis || t.getDim(d) == first.getDim(d);
    if (!ok) {
      ctx.error() << "cannot concatenate " << t.describeType() << " with "
                  << first.describeType() << " along axis " << *axis;
      return failure();
    }
    shape[*axis] += t.getDim(*axis);
  }
  auto out = ctx.allocate(first.getKind(), shape);
  if (failed(out))
    return failure();
  int64_t outer = getNumElements(ArrayRef<int64_t>(shape).take_front(*axis));
  int64_t innerBytes =
      getNumElements(ArrayRef<int64_t>(shape).drop_front(*axis + 1)) *
      first.getElementSize();
  int64_t outRow = shape[*axis] * innerBytes;
  char *dst = out->getMutableRawData().data();
  for (const HostTensor &t : inputs) {
    int64_t row = t.getDim(*axis) * innerBytes;
    copyRows(dst, outRow, t.getRawData().data(), row, outer, row);
    dst += row;
  }
  return single(std::move(out));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SliceOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  int64_t rank = data.getRank();
  auto starts = readVector(ctx, *ctx.operand(op, 1), "starts");
  auto ends = readVector(ctx, *ctx.operand(op, 2), "ends");
  if (failed(starts) || failed(ends))
    return failure();
  size_t n = starts->size();
  SmallVector<int64_t> axes, steps(n, 1);
  if (const HostTensor *t = ctx.operand(op, 3)) {
    auto v = readVector(ctx, *t, "axes");
    if (failed(v))
      return failure();
    axes = *v;
  } else {
    for (size_t i = 0; i < n; ++i)
      axes.push_back(i);
  }
  if (const HostTensor *t = ctx.operand(op, 4)) {
    auto v = readVector(ctx, *t, "steps");
    if (failed(v))
      return failure();
    steps = *v;
  }
  if (ends->size() != n || axes.size() != n || steps.size() != n) {
    ctx.error() << "starts, ends, axes and steps must have the same length";
    return failure();
  }
  auto normalized = ctx.normalizeAxes(axes, rank);
  if (failed(normalized))
    return failure();

  SmallVector<int64_t> inStrides = getStrides(data.getShape());
  SmallVector<int64_t> shape(data.getShape()), strides(inStrides);
  int64_t base = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t axis = (*normalized)[i], step = steps[i];
    int64_t dim = data.getDim(axis);
    if (step == 0) {
      ctx.error() << "slice step along axis " << axis << " is 0";
      return failure();
    }
    int64_t start = (*starts)[i], end = (*ends)[i];
    if (start < 0)
      start += dim; // No overflow: dim >= 0.
    if (end < 0)
      end += dim;
    int64_t count = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start)
        count = int64_t((uint64_t(end - start) + uint64_t(step) - 1) /
                        uint64_t(step));
    } else if (dim > 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      uint64_t magnitude = 0 - uint64_t(step); // Also right for INT64_MIN.
      if (start > end)
        count = int64_t((uint64_t(start - end) + magnitude - 1) / magnitude);
    }
    shape[axis] = count;
    if (count)
      base += start * inStrides[axis];
    // With two or more elements |step| < dim, so the product cannot
    // overflow; a single element never moves along the axis.
    strides[axis] = count > 1 ? step * inStrides[axis] : 0;
  }
  return single(gatherStrided(ctx, data, shape, strides, base));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::SplitOp op) {
  const HostTensor &input = *ctx.operand(op, 0);
  auto axis = ctx.normalizeAxis(int64_t(op.getAxis()), input.getRank());
  if (failed(axis))
    return failure();
  int64_t dim = input.getDim(*axis);
  int64_t numOutputs = op->getNumResults();
  SmallVector<int64_t> sizes;
  // An empty `split` means equal parts, as if it were absent.
  const HostTensor *split = ctx.operand(op, 1);
  if (split && split->getNumElements() != 0) {
    auto v = readVector(ctx, *split, "split");
    if (failed(v))
      return failure();
    sizes = *v;
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0 || s > dim) {
        ctx.error() << "split size " << s << " is out of range [0, " << dim
                    << "]";
        return failure();
      }
      total += s;
    }
    if (int64_t(sizes.size()) != numOutputs || total != dim) {
      ctx.error() << "split sizes must be " << numOutputs
                  << " entries summing to " << dim;
      return failure();
    }
  } else {
    if (numOutputs == 0 || dim % numOutputs != 0) {
      ctx.error() << "cannot split a dimension of " << dim << " into "
                  << numOutputs << " equal parts";
      return failure();
    }
    sizes.assign(numOutputs, dim / numOutputs);
  }
  SmallVector<int64_t> strides = getStrides(input.getShape());
  SmallVector<int64_t> shape(input.getShape());
  Results results;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    shape[*axis] = s;
    auto part =
        gatherStrided(ctx, input, shape, strides, offset * strides[*axis]);
    if (failed(part))
      return failure();
    results.push_back(std::move(*part));
    offset += s;
  }
  return results;
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ShapeOp op) {
  ArrayRef<int64_t> shape = ctx.operand(op, 0)->getShape();
  std::optional<int64_t> end;
  if (op.getEnd())
    end = int64_t(*op.getEnd());
  auto [first, last] =
      getShapeOpRange(shape.size(), int64_t(op.getStart()), end);
  ArrayRef<int64_t> dims = shape.slice(first, last - first);
  return single(HostTensor::get<int64_t>({int64_t(dims.size())}, dims));
}

std::pair<int64_t, int64_t>
flightllm::reference::getShapeOpRange(int64_t rank, int64_t start,
                                      std::optional<int64_t> end) {
  auto clampIndex = [&](int64_t i) {
    return std::clamp<int64_t>(i < 0 ? i + rank : i, 0, rank);
  };
  int64_t first = clampIndex(start);
  int64_t last = end ? clampIndex(*end) : rank;
  return {first, std::max(first, last)};
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::ConstantOfShapeOp op) {
  auto shape = readVector(ctx, *ctx.operand(op, 0), "input");
  if (failed(shape))
    return failure();
  HostTensor value = HostTensor::scalar<float>(0.0f);
  if (ElementsAttr attr = op.getValueAttr()) {
    auto v = HostTensor::fromElementsAttr(attr);
    if (!v) {
      ctx.error() << "cannot read 'value': " << llvm::toString(v.takeError());
      return failure();
    }
    if (v->getNumElements() != 1) {
      ctx.error() << "'value' must hold one element, has "
                  << v->getNumElements();
      return failure();
    }
    value = std::move(*v);
  }
  auto out = ctx.allocate(value.getKind(), *shape);
  if (failed(out))
    return failure();
  size_t size = value.getElementSize();
  char *dst = out->getMutableRawData().data();
  for (int64_t i = 0, e = out->getNumElements(); i < e; ++i)
    std::memcpy(dst + i * size, value.getRawData().data(), size);
  return single(std::move(out));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::ExpandOp op) {
  const HostTensor &input = *ctx.operand(op, 0);
  auto shape = readVector(ctx, *ctx.operand(op, 1), "shape");
  if (failed(shape))
    return failure();
  if (failed(checkedNumElements(ctx, *shape)))
    return failure();
  auto outShape = ctx.broadcastShapes({input.getShape(), *shape});
  if (failed(outShape))
    return failure();
  return single(gatherStrided(
      ctx, input, *outShape, getBroadcastStrides(input.getShape(), *outShape)));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::TileOp op) {
  const HostTensor &input = *ctx.operand(op, 0);
  auto repeats = readVector(ctx, *ctx.operand(op, 1), "repeats");
  if (failed(repeats))
    return failure();
  if (int64_t(repeats->size()) != input.getRank()) {
    ctx.error() << "repeats has " << repeats->size()
                << " entries for an input of rank " << input.getRank();
    return failure();
  }
  SmallVector<int64_t> shape;
  for (auto [d, r] : llvm::zip(input.getShape(), *repeats)) {
    if (r < 0) {
      ctx.error() << "repeats must not be negative, got " << r;
      return failure();
    }
    shape.push_back(d * r);
  }
  auto out = ctx.allocate(input.getKind(), shape);
  if (failed(out))
    return failure();
  size_t size = input.getElementSize();
  const char *from = input.getRawData().data();
  char *to = out->getMutableRawData().data();
  int64_t rank = input.getRank();
  for (int64_t i = 0, n = out->getNumElements(); i < n; ++i) {
    // Output index -> input index, dimension by dimension from the last.
    int64_t rest = i, offset = 0, stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t at = rest % shape[d];
      rest /= shape[d];
      offset += (at % input.getDim(d)) * stride;
      stride *= input.getDim(d);
    }
    std::memcpy(to + i * size, from + offset * size, size);
  }
  return single(std::move(*out));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx,
                                      onnxir::ScatterNDOp op) {
  const HostTensor &data = *ctx.operand(op, 0);
  const HostTensor &indices = *ctx.operand(op, 1);
  const HostTensor &updates = *ctx.operand(op, 2);
  if (op.getReduction() != "none") {
    ctx.error() << "reduction '" << op.getReduction() << "' is not supported";
    return failure();
  }
  if (indices.getRank() < 1 || updates.getKind() != data.getKind()) {
    ctx.error() << "needs indices of rank >= 1 and updates of the data's type";
    return failure();
  }
  int64_t k = indices.getShape().back();
  if (k > data.getRank()) {
    ctx.error() << "index tuples of " << k << " entries for data of rank "
                << data.getRank();
    return failure();
  }
  // updates = indices.shape[:-1] + data.shape[k:].
  SmallVector<int64_t> want(indices.getShape().drop_back());
  want.append(data.getShape().begin() + k, data.getShape().end());
  if (ArrayRef<int64_t>(want) != updates.getShape()) {
    ctx.error() << "updates must have shape [indices.shape[:-1], data.shape["
                << k << ":]]";
    return failure();
  }
  auto out = ctx.allocate(data.getKind(), data.getShape());
  if (failed(out))
    return failure();
  size_t size = data.getElementSize();
  std::memcpy(out->getMutableRawData().data(), data.getRawData().data(),
              data.getRawData().size());
  int64_t slice = 1;
  for (int64_t d = k; d < data.getRank(); ++d)
    slice *= data.getDim(d);
  SmallVector<int64_t> idx = indices.toInt64Vector();
  int64_t tuples = k ? int64_t(idx.size()) / k : 0;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t offset = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t dim = data.getDim(j), at = idx[t * k + j];
      if (at < -dim || at >= dim) {
        ctx.error() << "index " << at << " is out of range for dimension "
                    << j << " of size " << dim;
        return failure();
      }
      offset = offset * dim + (at < 0 ? at + dim : at);
    }
    std::memcpy(out->getMutableRawData().data() + offset * slice * size,
                updates.getRawData().data() + t * slice * size, slice * size);
  }
  return single(std::move(*out));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::RangeOp op) {
  const HostTensor &start = *ctx.operand(op, 0), &limit = *ctx.operand(op, 1),
                   &delta = *ctx.operand(op, 2);
  if (failed(ctx.requireSameKind({&start, &limit, &delta})))
    return failure();
  for (const HostTensor *t : {&start, &limit, &delta})
    if (t->getNumElements() != 1 || t->getRank() > 1) {
      ctx.error() << "start, limit and delta must be scalars";
      return failure();
    }
  return single(dispatchAllowed<NumericKinds>(
      ctx, start.getKind(), [&](auto tag) -> FailureOr<HostTensor> {
        using T = decltype(tag);
        using C = ComputeT<T>;
        C s = load(start.getValues<T>()[0]), l = load(limit.getValues<T>()[0]),
          d = load(delta.getValues<T>()[0]);
        if (d == 0) {
          ctx.error() << "delta is zero";
          return failure();
        }
        int64_t n;
        if constexpr (isFloatType<T>()) {
          // numpy's arange: the length in double precision.
          double len = std::ceil((double(l) - double(s)) / double(d));
          if (std::isnan(len) || len > 9.0e18) {
            ctx.error() << "cannot produce " << len << " elements";
            return failure();
          }
          n = len > 0 ? int64_t(len) : 0;
        } else {
          __int128 diff = __int128(l) - __int128(s);
          __int128 len = diff / d + ((diff % d) != 0 && (diff > 0) == (d > 0));
          n = len > 0 ? (len > INT64_MAX ? INT64_MAX : int64_t(len)) : 0;
        }
        auto out = ctx.allocate(start.getKind(), {n});
        if (failed(out))
          return failure();
        MutableArrayRef<T> dst = out->getMutableValues<T>();
        for (int64_t i = 0; i < n; ++i) {
          if constexpr (isFloatType<T>())
            dst[i] = store<T>(C(s + C(i) * d));
          else
            // Exact: the true value lies in [start, limit).
            dst[i] =
                T(uint64_t(int64_t(s)) + uint64_t(i) * uint64_t(int64_t(d)));
        }
        return out;
      }));
}

FailureOr<Results> onnxeval::evaluate(EvalContext &ctx, onnxir::TriluOp op) {
  const HostTensor &input = *ctx.operand(op, 0);
  if (input.getRank() < 2) {
    ctx.error() << "input must have rank >= 2, got " << input.describeType();
    return failure();
  }
  int64_t k = 0;
  if (const HostTensor *kt = ctx.operand(op, 1)) {
    auto v = ctx.scalarInt(*kt, "k");
    if (failed(v))
      return failure();
    k = *v;
  }
  bool upper = op.getUpper() != 0;
  HostTensor out = input;
  int64_t rows = input.getDim(input.getRank() - 2);
  int64_t cols = input.getDim(input.getRank() - 1);
  int64_t matrices = getNumElements(input.getShape().drop_back(2));
  size_t size = input.getElementSize();
  char *data = out.getMutableRawData().data();
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        // Keep j - i >= k (upper) or j - i <= k (lower); no overflow since
        // |j - i| fits and k is compared, not added.
        bool keep = upper ? j - i >= k : j - i <= k;
        if (!keep)
          std::memset(data + ((m * rows + i) * cols + j) * size, 0, size);
      }
  return single(std::move(out));
}
