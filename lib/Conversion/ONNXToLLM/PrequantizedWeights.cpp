//===- PrequantizedWeights.cpp - DequantizeLinear weights -> llm codes ----===//
//
// A model quantized ahead of time keeps its weights as integer codes with
// scales (and zero points) and dequantizes them in the graph. llm.linear
// takes those codes and scales as they are (docs/compression.md), so the
// accelerator runs the model's own integers, not a re-quantization of the
// dequantized floats.
//
// The weight element (k, n) of the [K, N] matrix the MatMul reads comes
// from one code of the DequantizeLinear input and one of its scales; the
// group size is the largest divisor G of K such that each run of G
// consecutive k of an output channel shares one scale (and zero point):
// K for per-channel or per-tensor scales (group_size 0), the block size of
// a MatMulNBits weight. Any such G represents the weight exactly.
//===----------------------------------------------------------------------===//

#include "RaiseContext.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;
using reference::ElementKind;

namespace {

/// The ONNX initializer name behind the codes (through the importer's
/// unpacking ops), for the llm.weight.
std::string codesName(Value codes) {
  Value v = codes;
  while (!getConstant(v)) {
    Operation *op = v.getDefiningOp();
    if (!op || !op->getNumOperands())
      break;
    v = op->getOperand(0);
  }
  if (Operation *op = v.getDefiningOp())
    if (auto name = op->getAttrOfType<StringAttr>("onnx.name"))
      return name.str();
  if (auto loc = dyn_cast<NameLoc>(v.getLoc()))
    return loc.getName().str();
  return "weight";
}

} // namespace

FailureOr<std::optional<PrequantizedWeight>>
raising::matchPrequantizedWeight(const ModelInterface &model, Value v) {
  Value w = v;
  if (auto cast = w.getDefiningOp<onnxir::CastOp>())
    w = cast.getInput();
  bool transposed = false;
  if (auto t = w.getDefiningOp<onnxir::TransposeOp>()) {
    bool swap = !t.getPerm() || (t.getPerm()->size() == 2 &&
                                 (*t.getPerm())[0] == 1 && (*t.getPerm())[1] == 0);
    if (!swap)
      return std::optional<PrequantizedWeight>();
    transposed = true;
    w = t.getData();
  }
  Value matrix = w;
  if (auto r = w.getDefiningOp<onnxir::ReshapeOp>())
    w = r.getData();
  auto dq = w.getDefiningOp<onnxir::DequantizeLinearOp>();
  if (!dq)
    return std::optional<PrequantizedWeight>();
  auto fail = [&](const Twine &why) -> FailureOr<std::optional<PrequantizedWeight>> {
    return dq.emitError() << "pre-quantized weight: " << why;
  };
  for (Value operand : dq->getOperands())
    if (!isShapeDetermined(operand))
      return fail("the codes, scales and zero points must be constants");
  Evaluator eval(model, model.probes().front());
  FailureOr<SmallVector<int64_t>> matrixShape = eval.shape(matrix);
  if (failed(matrixShape) || matrixShape->size() != 2)
    return fail("the dequantized weight is not a matrix");
  FailureOr<HostTensor> codes = eval.eval(dq.getX());
  FailureOr<HostTensor> scales = eval.eval(dq.getXScale());
  FailureOr<HostTensor> zps = dq.getXZeroPoint()
                                  ? eval.eval(dq.getXZeroPoint())
                                  : FailureOr<HostTensor>(HostTensor());
  if (failed(codes) || failed(scales) || failed(zps))
    return fail("cannot compute its codes and scales");
  bool hasZp = bool(dq.getXZeroPoint());
  ElementKind kind = codes->getKind();
  if (kind != ElementKind::I8 && kind != ElementKind::UI8)
    return fail("codes of type " + codes->describeType() +
                " are not supported (only int8 and uint8)");
  int64_t count = scales->getNumElements();
  if (scales->getKind() != ElementKind::F32 || scales->getRank() > 1 ||
      (hasZp && zps->getNumElements() != count))
    return fail("scales must be one f32 value or one per index of an axis");
  // The scale index of code (r, c) of the [R, C] codes.
  int64_t rank = codes->getRank();
  int64_t axis = int64_t(dq.getAxis());
  if (axis < 0)
    axis += rank;
  if (rank != 2 || (count > 1 && (axis < 0 || axis > 1 ||
                                  codes->getDim(axis) != count)))
    return fail("codes must be a matrix with per-tensor or per-axis scales");
  int64_t cols = codes->getDim(1);
  auto scaleIndex = [&](int64_t flat) -> int64_t {
    if (count == 1)
      return 0;
    return axis == 0 ? flat / cols : flat % cols;
  };
  // The matrix before the transpose is [N, K] (transposed) or [K, N]; its
  // row-major elements are the codes' in order.
  int64_t d0 = (*matrixShape)[0], d1 = (*matrixShape)[1];
  if (d0 * d1 != codes->getNumElements())
    return fail("the codes do not fill the weight");
  int64_t n = transposed ? d0 : d1, k = transposed ? d1 : d0;
  auto flatOf = [&](int64_t c, int64_t i) {
    return transposed ? c * k + i : i * n + c;
  };
  int64_t group = 0;
  for (int64_t g = k; g >= 1 && !group; --g) {
    if (k % g)
      continue;
    bool uniform = true;
    for (int64_t c = 0; c < n && uniform; ++c)
      for (int64_t i = 0; i < k && uniform; ++i)
        uniform = scaleIndex(flatOf(c, i)) == scaleIndex(flatOf(c, i - i % g));
    if (uniform)
      group = g;
  }
  int64_t groups = k / group;
  // Codes and zero points in llm.linear's ranges (docs/compression.md):
  // uint8 codes shift by -128 (with their zero points) to int8, which keeps
  // every (code - zero point); 4 bits when the codes and zero points fit
  // (MatMulNBits; an 8-bit weight's codes span far more than 16 values).
  auto rawCode = [&](int64_t flat) { return codes->getInt(flat); };
  auto rawZp = [&](int64_t index) { return hasZp ? zps->getInt(index) : 0; };
  bool unsignedCodes = kind == ElementKind::UI8;
  int64_t total = codes->getNumElements();
  auto allCodes = [&](auto pred) {
    for (int64_t f = 0; f < total; ++f)
      if (!pred(rawCode(f)))
        return false;
    return true;
  };
  auto allZps = [&](auto pred) {
    for (int64_t s = 0; s < count; ++s)
      if (!pred(rawZp(s)))
        return false;
    return true;
  };
  int64_t bits = 8, shift = unsignedCodes ? 128 : 0;
  bool symmetric;
  if (unsignedCodes &&
      allCodes([](int64_t c) { return c <= 15; }) &&
      allZps([](int64_t z) { return z <= 15; })) {
    bits = 4;
    symmetric = allZps([](int64_t z) { return z == 8; });
    shift = symmetric ? 8 : 0;
  } else if (!unsignedCodes &&
             allCodes([](int64_t c) { return c >= -8 && c <= 7; }) &&
             allZps([](int64_t z) { return z == 0; })) {
    bits = 4;
    symmetric = true;
  } else {
    symmetric = allZps([&](int64_t z) { return z == shift; }) &&
                allCodes([&](int64_t c) { return c - shift >= -127; });
  }
  std::vector<int8_t> codeData(static_cast<size_t>(total));
  for (int64_t f = 0; f < total; ++f)
    codeData[size_t(f)] = int8_t(rawCode(f) - shift);
  std::vector<float> scaleData(size_t(n * groups));
  std::vector<int8_t> zpData(size_t(n * groups));
  for (int64_t c = 0; c < n; ++c)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t s = scaleIndex(flatOf(c, g * group));
      scaleData[size_t(c * groups + g)] = scales->getValues<float>()[s];
      zpData[size_t(c * groups + g)] = int8_t(rawZp(s) - shift);
    }
  MLIRContext *ctx = v.getContext();
  Builder b(ctx);
  PrequantizedWeight result{
      DenseElementsAttr::get(RankedTensorType::get({d0, d1}, b.getI8Type()),
                             ArrayRef<int8_t>(codeData)),
      transposed,
      k,
      n,
      {},
      {},
      group == k ? 0 : group,
      bits,
      codesName(dq.getX()),
      dq.getLoc()};
  SmallVector<int64_t> scaleShape{n};
  if (result.groupSize)
    scaleShape.push_back(groups);
  result.scales = DenseElementsAttr::get(
      RankedTensorType::get(scaleShape, b.getF32Type()), ArrayRef<float>(scaleData));
  if (!symmetric)
    result.zeroPoints = DenseElementsAttr::get(
        RankedTensorType::get(scaleShape, b.getI8Type()), ArrayRef<int8_t>(zpData));
  return std::optional<PrequantizedWeight>(std::move(result));
}

void raising::setWeightFormat(Operation *op, const PrequantizedWeight &w) {
  Builder b(op->getContext());
  op->setAttr("weight_scales", w.scales);
  if (w.bits != 8)
    op->setAttr("weight_bits", b.getI64IntegerAttr(w.bits));
  if (w.groupSize)
    op->setAttr("group_size", b.getI64IntegerAttr(w.groupSize));
  if (w.zeroPoints)
    op->setAttr("weight_zero_points", w.zeroPoints);
}
