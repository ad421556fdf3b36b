//===- LLMOps.cpp - Verifiers and folders of the llm ops ------------------===//
//
// ODS checks element types and attribute ranges; the verifiers here check the
// shape rules of docs/llm-dialect.md. Dimensions may be dynamic, so every rule
// compares only the sizes that are static.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>
#include <string>

using namespace mlir;
using namespace flightllm::llm;

namespace {

/// Collects the sizes that several operands and results give to one logical
/// dimension (batch, head size, ...) and reports the first static size that
/// disagrees with an earlier static one.
class DimAgreement {
public:
  DimAgreement(Operation *op, std::string what)
      : op(op), what(std::move(what)) {}

  LogicalResult add(StringRef source, int64_t size) {
    if (ShapedType::isDynamic(size))
      return success();
    if (!known) {
      known = size;
      knownSource = source.str();
      return success();
    }
    if (*known == size)
      return success();
    return op->emitOpError() << what << " mismatch: " << source << " has "
                             << size << ", " << knownSource << " has "
                             << *known;
  }

  /// The static size, if any source gave one.
  std::optional<int64_t> get() const { return known; }

private:
  Operation *op;
  std::string what;
  std::optional<int64_t> known;
  std::string knownSource;
};

} // namespace

static RankedTensorType rankedType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Requires `v` to have rank `rank`; `layout` spells the expected shape.
static LogicalResult verifyRank(Operation *op, StringRef name, Value v,
                                int64_t rank, StringRef layout) {
  int64_t actual = rankedType(v).getRank();
  if (actual == rank)
    return success();
  return op->emitOpError() << name << " must be " << layout << ", got rank "
                           << actual;
}

static LogicalResult verifyNotScalar(Operation *op, StringRef name, Value v) {
  if (rankedType(v).getRank() >= 1)
    return success();
  return op->emitOpError() << name << " must have at least one dimension";
}

static LogicalResult verifySameType(Operation *op, StringRef name, Value v,
                                    StringRef refName, Value ref) {
  if (v.getType() == ref.getType())
    return success();
  return op->emitOpError() << name << " type " << v.getType()
                           << " must equal " << refName << "'s type "
                           << ref.getType();
}

/// `size / divisor` when `size` is static (and divisible), dynamic otherwise.
static int64_t divideDim(int64_t size, int64_t divisor) {
  return ShapedType::isDynamic(size) ? ShapedType::kDynamic : size / divisor;
}

static LogicalResult verifyDivisible(Operation *op, StringRef name,
                                     int64_t size, StringRef attrName,
                                     int64_t divisor) {
  if (ShapedType::isDynamic(size) || size % divisor == 0)
    return success();
  return op->emitOpError() << name << " hidden size " << size
                           << " is not divisible by " << attrName << " "
                           << divisor;
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError() << "name must not be empty";
  return success();
}

OpFoldResult WeightOp::fold(FoldAdaptor) { return getValueAttr(); }

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  if (failed(verifyRank(*this, "table", getTable(), 2, "[V, D]")))
    return failure();
  RankedTensorType table = rankedType(getTable());
  RankedTensorType ids = rankedType(getIds());
  RankedTensorType result = rankedType(getResult());
  if (result.getElementType() != table.getElementType())
    return emitOpError() << "result element type " << result.getElementType()
                         << " must equal the table's "
                         << table.getElementType();
  if (result.getRank() != ids.getRank() + 1)
    return emitOpError() << "result must be [ids dims..., D] of rank "
                         << ids.getRank() + 1 << ", got rank "
                         << result.getRank();
  for (int64_t i = 0, e = ids.getRank(); i < e; ++i) {
    DimAgreement dim(*this, "dim " + std::to_string(i));
    if (failed(dim.add("ids", ids.getDimSize(i))) ||
        failed(dim.add("result", result.getDimSize(i))))
      return failure();
  }
  DimAgreement hidden(*this, "embedding size");
  return failure(failed(hidden.add("table", table.getDimSize(1))) ||
                 failed(hidden.add("result", result.getShape().back())));
}

//===----------------------------------------------------------------------===//
// LinearOp, LogitsOp
//===----------------------------------------------------------------------===//

/// The rules `llm.linear` and `llm.logits` share: x `[..., K]` times a `[K, N]`
/// weight (`[N, K]` when transposed) plus an optional `[N]` bias gives
/// `[..., N]` with x's leading dims and element type.
static LogicalResult verifyMatmulLike(Operation *op, Value x, Value weight,
                                      Value bias, Value result,
                                      bool transposeWeight) {
  if (failed(verifyNotScalar(op, "x", x)) ||
      failed(verifyRank(op, "weight", weight, 2,
                        transposeWeight ? "[N, K] (transpose_weight)"
                                        : "[K, N]")))
    return failure();
  RankedTensorType xType = rankedType(x);
  RankedTensorType wType = rankedType(weight);
  RankedTensorType rType = rankedType(result);
  if (rType.getElementType() != xType.getElementType())
    return op->emitOpError()
           << "result element type " << rType.getElementType()
           << " must equal x's " << xType.getElementType();
  if (rType.getRank() != xType.getRank())
    return op->emitOpError() << "result rank " << rType.getRank()
                             << " must equal x's rank " << xType.getRank();
  for (int64_t i = 0, e = xType.getRank() - 1; i < e; ++i) {
    DimAgreement dim(op, "dim " + std::to_string(i));
    if (failed(dim.add("x", xType.getDimSize(i))) ||
        failed(dim.add("result", rType.getDimSize(i))))
      return failure();
  }

  int64_t kDim = transposeWeight ? 1 : 0;
  DimAgreement k(op, "reduction size");
  if (failed(k.add("x", xType.getShape().back())) ||
      failed(k.add("weight", wType.getDimSize(kDim))))
    return failure();

  DimAgreement n(op, "output size");
  if (failed(n.add("weight", wType.getDimSize(1 - kDim))))
    return failure();
  if (bias) {
    if (failed(verifyRank(op, "bias", bias, 1, "[N]")) ||
        failed(n.add("bias", rankedType(bias).getDimSize(0))))
      return failure();
  }
  return n.add("result", rType.getShape().back());
}

/// Weights whose values the verifier reads to check the compression claims
/// (codes in range, N:M and block structure); larger ones are checked by the
/// passes that produce them (llm.linear's description).
static constexpr int64_t kVerifyValuesLimit = int64_t(1) << 20;

/// The values of `weight` when it is an `llm.weight` small enough to check,
/// as int64 for integer weights, or with `isZero` per element for floats.
struct WeightValues {
  SmallVector<int64_t> codes;     // integer weight
  SmallVector<bool> zero;         // float weight: value == 0
  bool integer = false;
};

static std::optional<WeightValues> readSmallWeight(Value weight) {
  auto def = weight.getDefiningOp<WeightOp>();
  if (!def)
    return std::nullopt;
  ElementsAttr value = def.getValue();
  if (value.getNumElements() > kVerifyValuesLimit)
    return std::nullopt;
  WeightValues out;
  Type element = value.getElementType();
  if (isa<IntegerType>(element)) {
    out.integer = true;
    if (auto dense = dyn_cast<DenseIntElementsAttr>(value)) {
      for (const APInt &v : dense.getValues<APInt>())
        out.codes.push_back(v.getSExtValue());
      return out;
    }
    if (auto blob = dyn_cast<DenseResourceElementsAttr>(value)) {
      if (!element.isInteger(8))
        return std::nullopt;
      auto typed = cast<DenseI8ResourceElementsAttr>(blob);
      std::optional<ArrayRef<int8_t>> data = typed.tryGetAsArrayRef();
      if (!data)
        return std::nullopt;
      out.codes.assign(data->begin(), data->end());
      return out;
    }
    return std::nullopt;
  }
  if (auto dense = dyn_cast<DenseFPElementsAttr>(value)) {
    for (const APFloat &v : dense.getValues<APFloat>())
      out.zero.push_back(v.isZero());
    return out;
  }
  if (auto blob = dyn_cast<DenseResourceElementsAttr>(value)) {
    if (!element.isF32())
      return std::nullopt;
    std::optional<ArrayRef<float>> data =
        cast<DenseF32ResourceElementsAttr>(blob).tryGetAsArrayRef();
    if (!data)
      return std::nullopt;
    for (float v : *data)
      out.zero.push_back(v == 0.0f);
    return out;
  }
  return std::nullopt;
}

/// The compression attributes of `llm.linear` and `llm.logits`.
struct CompressionAttrs {
  bool transposed;
  ElementsAttr scales;
  std::optional<APFloat> inputScale;
  int64_t bits, groupSize;
  ElementsAttr zeroPoints;
  DenseI64ArrayAttr sparsity, blockSparsity;

  template <typename OpTy>
  static CompressionAttrs of(OpTy op) {
    return {op.getTransposeWeight(),     op.getWeightScalesAttr(),
            op.getInputScale(),          int64_t(op.getWeightBits()),
            int64_t(op.getGroupSize()),  op.getWeightZeroPointsAttr(),
            op.getSparsityAttr(),        op.getBlockSparsityAttr()};
  }
};

/// The code ranges of llm.linear's description: {min, max} of Wq, and of
/// the zero points when there are any.
static std::pair<int64_t, int64_t> codeRange(int64_t bits, bool zeroPoints) {
  if (bits == 4)
    return zeroPoints ? std::pair<int64_t, int64_t>{0, 15}
                      : std::pair<int64_t, int64_t>{-8, 7};
  return zeroPoints ? std::pair<int64_t, int64_t>{-128, 127}
                    : std::pair<int64_t, int64_t>{-127, 127};
}

/// Checks `[S, M]` / `[BK, BN, S, M]` against the weight's shape and, when
/// small, its values. `nonzero(k, n)` tells whether W[k, n] is nonzero.
static LogicalResult
verifySparsityClaims(Operation *op, const CompressionAttrs &c, int64_t kSize,
                     int64_t nSize,
                     llvm::function_ref<bool(int64_t, int64_t)> nonzero) {
  if (DenseI64ArrayAttr nm = c.sparsity) {
    if (nm.size() != 2 || nm[1] <= 0 || nm[0] < 0 || nm[0] > nm[1])
      return op->emitOpError()
             << "sparsity must be [S, M] with 0 <= S <= M and M > 0, got "
             << nm;
    if (!ShapedType::isDynamic(kSize) && kSize % nm[1] != 0)
      return op->emitOpError() << "sparsity group size " << nm[1]
                               << " does not divide the reduction size "
                               << kSize;
  }
  if (DenseI64ArrayAttr blocks = c.blockSparsity) {
    if (blocks.size() != 4 || blocks[0] <= 0 || blocks[1] <= 0 ||
        blocks[3] <= 0 || blocks[2] < 0 || blocks[2] > blocks[3])
      return op->emitOpError() << "block_sparsity must be [BK, BN, S, M] with "
                                  "positive block sizes and 0 <= S <= M, got "
                               << blocks;
    if ((!ShapedType::isDynamic(kSize) && kSize % blocks[0] != 0) ||
        (!ShapedType::isDynamic(nSize) && nSize % blocks[1] != 0))
      return op->emitOpError()
             << "block_sparsity blocks " << blocks[0] << "x" << blocks[1]
             << " do not tile the " << kSize << "x" << nSize
             << " weight (K x N)";
  }
  if (!nonzero)
    return success();
  if (DenseI64ArrayAttr nm = c.sparsity) {
    for (int64_t n = 0; n < nSize; ++n)
      for (int64_t k0 = 0; k0 < kSize; k0 += nm[1]) {
        int64_t count = 0;
        for (int64_t k = k0; k < k0 + nm[1]; ++k)
          count += nonzero(k, n);
        if (count > nm[0])
          return op->emitOpError()
                 << "weight breaks sparsity " << nm[0] << ":" << nm[1]
                 << ": output channel " << n << " has " << count
                 << " nonzeros in k [" << k0 << ", " << k0 + nm[1] << ")";
      }
  }
  if (DenseI64ArrayAttr blocks = c.blockSparsity) {
    int64_t bk = blocks[0], bn = blocks[1], maxKept = blocks[2],
            run = blocks[3];
    auto blockNonzero = [&](int64_t kb, int64_t nb) {
      for (int64_t k = kb * bk; k < (kb + 1) * bk; ++k)
        for (int64_t n = nb * bn; n < (nb + 1) * bn; ++n)
          if (nonzero(k, n))
            return true;
      return false;
    };
    int64_t kBlocks = kSize / bk;
    for (int64_t nb = 0; nb < nSize / bn; ++nb)
      for (int64_t r0 = 0; r0 < kBlocks; r0 += run) {
        int64_t count = 0;
        for (int64_t kb = r0; kb < std::min(r0 + run, kBlocks); ++kb)
          count += blockNonzero(kb, nb);
        if (count > maxKept)
          return op->emitOpError()
                 << "weight breaks block_sparsity: block column " << nb
                 << " has " << count << " nonzero blocks among k blocks ["
                 << r0 << ", " << std::min(r0 + run, kBlocks)
                 << "), at most " << maxKept << " allowed";
      }
  }
  return success();
}

/// The quantization and compression attributes (llm.linear's description):
/// an integer weight needs its scales (and only an integer weight has them),
/// per channel `[N]` or grouped `[N, K/G]`; zero points shaped like the
/// scales; codes in the range of `weight_bits`; sparsity claims that hold.
static LogicalResult verifyCompression(Operation *op, Value weight,
                                       const CompressionAttrs &c) {
  RankedTensorType wType = rankedType(weight);
  bool integer = isa<IntegerType>(wType.getElementType());
  if (integer != bool(c.scales))
    return op->emitOpError()
           << (integer ? "an integer weight needs weight_scales"
                       : "weight_scales needs an integer (quantized) weight");
  if (c.inputScale && !(c.inputScale->convertToFloat() > 0))
    return op->emitOpError() << "input_scale must be positive";
  if (c.inputScale && !c.scales)
    return op->emitOpError() << "input_scale needs a quantized weight";
  if (c.bits != 8 && c.bits != 4)
    return op->emitOpError() << "weight_bits must be 8 or 4, got " << c.bits;
  if (c.groupSize < 0)
    return op->emitOpError() << "group_size must be non-negative, got "
                             << c.groupSize;
  bool compressed = c.bits != 8 || c.groupSize != 0 || c.zeroPoints;
  if (compressed && !integer)
    return op->emitOpError() << "weight_bits, group_size and "
                                "weight_zero_points describe an integer "
                                "(quantized) weight";
  if (integer && !wType.getElementType().isInteger(8))
    return op->emitOpError() << "quantized weights are stored as i8, got "
                             << wType.getElementType();

  int64_t nSize = wType.getDimSize(c.transposed ? 0 : 1);
  int64_t kSize = wType.getDimSize(c.transposed ? 1 : 0);
  int64_t groups = 0;
  if (c.groupSize > 0) {
    if (ShapedType::isDynamic(kSize))
      return op->emitOpError() << "group_size needs a static reduction size";
    if (kSize % c.groupSize != 0)
      return op->emitOpError() << "group_size " << c.groupSize
                               << " does not divide the reduction size "
                               << kSize;
    groups = kSize / c.groupSize;
  }
  auto scaleShape = [&](ShapedType t, bool wantFloat) {
    bool elementOk = wantFloat ? t.getElementType().isF32()
                               : isa<IntegerType>(t.getElementType());
    if (!elementOk)
      return false;
    if (groups == 0)
      return t.getRank() == 1 &&
             (ShapedType::isDynamic(nSize) || t.getDimSize(0) == nSize);
    return t.getRank() == 2 &&
           (ShapedType::isDynamic(nSize) || t.getDimSize(0) == nSize) &&
           t.getDimSize(1) == groups;
  };
  auto expected = [&](StringRef element) {
    std::string n = ShapedType::isDynamic(nSize) ? "N" : std::to_string(nSize);
    return (element + " [" + n +
            (groups ? ", " + std::to_string(groups) + "]" : std::string("]")))
        .str();
  };
  if (c.scales &&
      !scaleShape(cast<ShapedType>(c.scales.getType()), /*wantFloat=*/true))
    return op->emitOpError()
           << "weight_scales must be " << expected("f32")
           << (groups ? " (one per output channel and group)"
                      : " (one per output channel)")
           << ", got " << c.scales.getType();
  if (c.zeroPoints &&
      !scaleShape(cast<ShapedType>(c.zeroPoints.getType()), false))
    return op->emitOpError() << "weight_zero_points must be "
                             << expected("integer") << " like weight_scales, got "
                             << c.zeroPoints.getType();

  auto [lo, hi] = codeRange(c.bits, bool(c.zeroPoints));
  SmallVector<int64_t> zeroPoints;
  if (c.zeroPoints) {
    for (APInt zp : c.zeroPoints.getValues<APInt>()) {
      int64_t v = zp.getSExtValue();
      if (v < lo || v > hi)
        return op->emitOpError()
               << "weight zero point " << v << " is outside [" << lo << ", "
               << hi << "] of " << c.bits << "-bit weights";
      zeroPoints.push_back(v);
    }
  }

  if (failed(verifySparsityClaims(op, c, kSize, nSize, nullptr)))
    return failure();
  if (ShapedType::isDynamic(kSize) || ShapedType::isDynamic(nSize))
    return success();
  bool claims = c.sparsity || c.blockSparsity;
  if (!claims && !compressed)
    return success();
  std::optional<WeightValues> values = readSmallWeight(weight);
  if (!values)
    return success();
  auto at = [&](int64_t k, int64_t n) {
    return c.transposed ? n * kSize + k : k * nSize + n;
  };
  auto zeroPointOf = [&](int64_t k, int64_t n) -> int64_t {
    if (zeroPoints.empty())
      return 0;
    return groups ? zeroPoints[n * groups + k / c.groupSize] : zeroPoints[n];
  };
  if (values->integer) {
    for (int64_t k = 0; k < kSize; ++k)
      for (int64_t n = 0; n < nSize; ++n) {
        int64_t q = values->codes[at(k, n)];
        if (q < lo || q > hi)
          return op->emitOpError()
                 << "weight code " << q << " at [k=" << k << ", n=" << n
                 << "] is outside [" << lo << ", " << hi << "] of "
                 << c.bits << "-bit weights"
                 << (c.zeroPoints ? " with zero points" : "");
      }
  }
  if (!claims)
    return success();
  return verifySparsityClaims(op, c, kSize, nSize, [&](int64_t k, int64_t n) {
    return values->integer ? values->codes[at(k, n)] != zeroPointOf(k, n)
                           : !values->zero[at(k, n)];
  });
}

LogicalResult LinearOp::verify() {
  if (failed(verifyMatmulLike(*this, getX(), getWeight(), getBias(),
                              getResult(), getTransposeWeight())))
    return failure();
  return verifyCompression(*this, getWeight(), CompressionAttrs::of(*this));
}

LogicalResult LogitsOp::verify() {
  if (failed(verifyMatmulLike(*this, getX(), getWeight(), /*bias=*/Value(),
                              getResult(), getTransposeWeight())))
    return failure();
  return verifyCompression(*this, getWeight(), CompressionAttrs::of(*this));
}

//===----------------------------------------------------------------------===//
// LayerNormOp, RMSNormOp
//===----------------------------------------------------------------------===//

/// Normalizations work over x's last dim `D`, with `[D]` scale and shift.
static LogicalResult verifyNorm(Operation *op, Value x, Value gamma,
                                Value beta, Value result,
                                const APFloat &epsilon) {
  if (failed(verifyNotScalar(op, "x", x)) ||
      failed(verifySameType(op, "result", result, "x", x)))
    return failure();
  // Written to reject NaN as well.
  if (!(epsilon.convertToDouble() >= 0.0))
    return op->emitOpError() << "epsilon must be non-negative, got "
                             << epsilon.convertToDouble();
  DimAgreement d(op, "normalized size");
  if (failed(d.add("x", rankedType(x).getShape().back())) ||
      failed(verifyRank(op, "gamma", gamma, 1, "[D]")) ||
      failed(d.add("gamma", rankedType(gamma).getDimSize(0))))
    return failure();
  if (beta && (failed(verifyRank(op, "beta", beta, 1, "[D]")) ||
               failed(d.add("beta", rankedType(beta).getDimSize(0)))))
    return failure();
  return success();
}

LogicalResult LayerNormOp::verify() {
  return verifyNorm(*this, getX(), getGamma(), getBeta(), getResult(),
                    getEpsilon());
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getX(), getGamma(), /*beta=*/Value(), getResult(),
                    getEpsilon());
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult PositionIdsOp::verify() {
  if (failed(verifyRank(*this, "ids", getIds(), 2, "[B, S]")) ||
      failed(verifyRank(*this, "past_key", getPastKey(), 4, "[B, Hkv, P, Dh]")) ||
      failed(verifySameType(*this, "result", getResult(), "ids", getIds())))
    return failure();
  if (int64_t(getOffset()) < 0)
    return emitOpError() << "offset must be non-negative, got "
                         << int64_t(getOffset());
  DimAgreement batch(*this, "batch size");
  return failure(
      failed(batch.add("ids", rankedType(getIds()).getDimSize(0))) ||
      failed(batch.add("past_key", rankedType(getPastKey()).getDimSize(0))));
}

LogicalResult RopeOp::verify() {
  if (failed(verifyRank(*this, "x", getX(), 3, "[B, S, H*Dh]")) ||
      failed(verifySameType(*this, "result", getResult(), "x", getX())) ||
      failed(verifyRank(*this, "cos", getCos(), 2, "[MaxPos, Dh]")) ||
      failed(verifySameType(*this, "sin", getSin(), "cos", getCos())))
    return failure();
  RankedTensorType x = rankedType(getX());
  RankedTensorType table = rankedType(getCos());
  int64_t numHeads = getNumHeads();

  int64_t hidden = x.getDimSize(2);
  if (failed(verifyDivisible(*this, "x", hidden, "num_heads", numHeads)))
    return failure();
  DimAgreement headSize(*this, "head size");
  if (failed(headSize.add("x", divideDim(hidden, numHeads))) ||
      failed(headSize.add("cos/sin", table.getDimSize(1))))
    return failure();
  // Every element needs a partner to rotate with.
  if (headSize.get() && *headSize.get() % 2 != 0)
    return emitOpError() << "head size " << *headSize.get()
                         << " must be even";

  RankedTensorType positions = rankedType(getPositions());
  if (positions.getRank() != 1 && positions.getRank() != 2)
    return emitOpError() << "positions must be [B, S] or [S], got rank "
                         << positions.getRank();
  if (positions.getRank() == 2) {
    DimAgreement batch(*this, "batch size");
    if (failed(batch.add("x", x.getDimSize(0))) ||
        failed(batch.add("positions", positions.getDimSize(0))))
      return failure();
  }
  DimAgreement seq(*this, "sequence length");
  return failure(failed(seq.add("x", x.getDimSize(1))) ||
                 failed(seq.add("positions", positions.getShape().back())));
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t numHeads = getNumHeads();
  int64_t numKVHeads = getNumKvHeads();
  Value pastKey = getPastKey();
  Value pastValue = getPastValue();

  if (failed(verifyRank(*this, "query", getQuery(), 3, "[B, S, Hq*Dh]")) ||
      failed(verifyRank(*this, "key", getKey(), 3, "[B, S, Hkv*Dh]")) ||
      failed(verifyRank(*this, "value", getValue(), 3, "[B, S, Hkv*Dh]")) ||
      failed(verifySameType(*this, "output", getOutput(), "query",
                            getQuery())))
    return failure();
  if (bool(pastKey) != bool(pastValue))
    return emitOpError() << "past_key and past_value must be given together";

  // One element type throughout: the cache is stored as computed.
  Type elementType = rankedType(getQuery()).getElementType();
  for (Value v : getOperation()->getOperands())
    if (rankedType(v).getElementType() != elementType)
      return emitOpError()
             << "all operands and results must have element type "
             << elementType << " (the query's)";
  for (Value v : getOperation()->getResults())
    if (rankedType(v).getElementType() != elementType)
      return emitOpError()
             << "all operands and results must have element type "
             << elementType << " (the query's)";

  if (numHeads % numKVHeads != 0)
    return emitOpError() << "num_heads " << numHeads
                         << " is not a multiple of num_kv_heads "
                         << numKVHeads;

  if (getWindow() && !getCausal())
    return emitOpError() << "a window needs causal attention";

  if (getKvBits() != 8 && getKvBits() != 4)
    return emitOpError() << "kv_bits must be 8 or 4, got " << getKvBits();

  // Int8 KV cache scales: [Hkv*Dh] positive finite f32, both or neither.
  if (bool(getKScalesAttr()) != bool(getVScalesAttr()))
    return emitOpError() << "k_scales and v_scales must be given together";
  for (auto [name, scales] :
       {std::pair<StringRef, DenseF32ArrayAttr>{"k_scales", getKScalesAttr()},
        std::pair<StringRef, DenseF32ArrayAttr>{"v_scales",
                                                getVScalesAttr()}}) {
    if (!scales)
      continue;
    int64_t width = rankedType(getKey()).getDimSize(2);
    if (!ShapedType::isDynamic(width) &&
        int64_t(scales.size()) != width)
      return emitOpError() << name << " must have " << width
                           << " elements (num_kv_heads * head size), got "
                           << scales.size();
    for (auto [i, s] : llvm::enumerate(scales.asArrayRef()))
      if (!(s > 0) || !std::isfinite(s))
        return emitOpError() << name << "[" << i
                             << "] must be positive and finite, got " << s;
  }

  DimAgreement batch(*this, "batch size");
  DimAgreement seq(*this, "sequence length");
  DimAgreement headSize(*this, "head size");
  DimAgreement kvHeads(*this, "key/value head count");
  if (failed(kvHeads.add("num_kv_heads", numKVHeads)))
    return failure();

  struct NewTokens {
    StringRef name;
    Value value;
    StringRef attrName;
    int64_t heads;
  };
  for (const NewTokens &t : {NewTokens{"query", getQuery(), "num_heads",
                                       numHeads},
                             NewTokens{"key", getKey(), "num_kv_heads",
                                       numKVHeads},
                             NewTokens{"value", getValue(), "num_kv_heads",
                                       numKVHeads}}) {
    RankedTensorType type = rankedType(t.value);
    int64_t hidden = type.getDimSize(2);
    if (failed(verifyDivisible(*this, t.name, hidden, t.attrName, t.heads)) ||
        failed(batch.add(t.name, type.getDimSize(0))) ||
        failed(seq.add(t.name, type.getDimSize(1))) ||
        failed(headSize.add(t.name, divideDim(hidden, t.heads))))
      return failure();
  }

  // Caches are [B, Hkv, length, Dh]; checks all but the length.
  auto verifyCache = [&](StringRef name, Value cache,
                         StringRef layout) -> LogicalResult {
    if (failed(verifyRank(*this, name, cache, 4, layout)))
      return failure();
    RankedTensorType type = rankedType(cache);
    return failure(failed(batch.add(name, type.getDimSize(0))) ||
                   failed(kvHeads.add(name, type.getDimSize(1))) ||
                   failed(headSize.add(name, type.getDimSize(3))));
  };

  // Without a cache the past length is 0.
  std::optional<int64_t> pastLength = 0;
  if (pastKey) {
    DimAgreement past(*this, "past length");
    if (failed(verifyCache("past_key", pastKey, "[B, Hkv, P, Dh]")) ||
        failed(verifyCache("past_value", pastValue, "[B, Hkv, P, Dh]")) ||
        failed(past.add("past_key", rankedType(pastKey).getDimSize(2))) ||
        failed(past.add("past_value", rankedType(pastValue).getDimSize(2))))
      return failure();
    pastLength = past.get();
  }

  DimAgreement present(*this, "present length");
  if (pastLength && seq.get() &&
      failed(present.add("past length + sequence length",
                         *pastLength + *seq.get())))
    return failure();
  for (auto [name, cache] :
       {std::pair<StringRef, Value>{"present_key", getPresentKey()},
        {"present_value", getPresentValue()}})
    if (failed(verifyCache(name, cache, "[B, Hkv, P+S, Dh]")) ||
        failed(present.add(name, rankedType(cache).getDimSize(2))))
      return failure();
  return success();
}

#define GET_OP_CLASSES
#include "flightllm/Dialect/LLM/LLMOps.cpp.inc"
