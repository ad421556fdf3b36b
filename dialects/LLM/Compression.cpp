//===- Compression.cpp - Names and footprints of compressed projections ---===//

#include "flightllm/Dialect/LLM/Compression.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace flightllm;

/// The first name in `loc` (a NameLoc, possibly inside a FusedLoc).
static std::string locationName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string name = locationName(inner); !name.empty())
        return name;
  return "";
}

/// The weight's name, "" when it has none.
static std::string weightName(Operation *op) {
  if (auto weight = op->getOperand(1).getDefiningOp<llm::WeightOp>())
    return weight.getName().str();
  return "";
}

std::string llm::projectionName(Operation *op) {
  // "/model/layers.0/mlp/down_proj/MatMul" -> "model.layers.0.mlp.down_proj.MatMul".
  std::string name = locationName(op->getLoc());
  std::replace(name.begin(), name.end(), '/', '.');
  name.erase(0, name.find_first_not_of('.'));
  if (!name.empty())
    return name;
  name = weightName(op);
  if (name.empty() && isa<llm::LogitsOp>(op))
    return "lm_head";
  return name;
}

/// Whether `glob` matches a run of whole dot-separated parts of `name`.
static bool matchesParts(const llvm::GlobPattern &glob, StringRef name) {
  SmallVector<size_t> starts{0}, ends;
  for (size_t i = 0; i < name.size(); ++i)
    if (name[i] == '.') {
      ends.push_back(i);
      starts.push_back(i + 1);
    }
  ends.push_back(name.size());
  for (size_t s : starts)
    for (size_t e : ends)
      if (e > s && glob.match(name.slice(s, e)))
        return true;
  return false;
}

bool llm::matchesProjectionPattern(StringRef pattern, Operation *op) {
  if (pattern == "lm_head" && isa<llm::LogitsOp>(op))
    return true;
  llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
  if (!glob) {
    llvm::consumeError(glob.takeError());
    return false;
  }
  return matchesParts(*glob, projectionName(op)) ||
         matchesParts(*glob, weightName(op));
}

double llm::denseBitsPerWeight(int64_t weights, int64_t outputs, int64_t k,
                               int64_t bits, int64_t groupSize,
                               bool zeroPoints) {
  if (weights == 0)
    return 0;
  int64_t groups = groupSize ? k / groupSize : 1;
  double total = double(weights) * double(bits) +
                 double(outputs * groups) * (32.0 + (zeroPoints ? bits : 0));
  return total / double(weights);
}

/// Stored code bits: all, or S of M with an index each.
static double codeBits(int64_t weights, int64_t bits, int64_t keep,
                       int64_t run) {
  if (!run)
    return double(weights) * double(bits);
  int64_t indexBits = llvm::Log2_64_Ceil(uint64_t(run));
  return double(weights) * double(keep) / double(run) *
         double(bits + indexBits);
}

double llm::storedWeightBits(int64_t weights, int64_t outputs, int64_t k,
                             int64_t bits, int64_t groupSize, bool zeroPoints,
                             int64_t keep, int64_t run) {
  double extraBits =
      (denseBitsPerWeight(weights, outputs, k, bits, groupSize, zeroPoints) -
       double(bits)) *
      double(weights);
  return codeBits(weights, bits, keep, run) + extraBits;
}

llm::ProjectionFootprint llm::projectionFootprint(Operation *op) {
  ProjectionFootprint f;
  auto type = cast<RankedTensorType>(op->getOperand(1).getType());
  if (!type.hasStaticShape())
    return f;
  bool transposed = op->getAttrOfType<BoolAttr>("transpose_weight") &&
                    op->getAttrOfType<BoolAttr>("transpose_weight").getValue();
  int64_t n = type.getDimSize(transposed ? 0 : 1);
  int64_t k = type.getDimSize(transposed ? 1 : 0);
  f.weights = n * k;
  bool integer = isa<IntegerType>(type.getElementType());
  if (integer) {
    auto intAttr = [&](StringRef name, int64_t fallback) {
      auto a = op->getAttrOfType<IntegerAttr>(name);
      return a ? a.getInt() : fallback;
    };
    f.bits = intAttr("weight_bits", 8);
    f.groupSize = intAttr("group_size", 0);
    f.zeroPoints = bool(op->getAttr("weight_zero_points"));
    f.bitsPerWeight =
        denseBitsPerWeight(f.weights, n, k, f.bits, f.groupSize, f.zeroPoints);
  } else {
    f.bits = type.getElementType().getIntOrFloatBitWidth();
    f.bitsPerWeight = double(f.bits);
  }
  if (auto nm = op->getAttrOfType<DenseI64ArrayAttr>("sparsity")) {
    f.keep = nm[0];
    f.run = nm[1];
  }
  if (auto blocks = op->getAttrOfType<DenseI64ArrayAttr>("block_sparsity")) {
    f.blockKeep = blocks[2];
    f.blockRun = blocks[3];
  }
  // Stored codes: all, S of M with an index each, or the kept blocks.
  double code = codeBits(f.weights, f.bits, f.keep, f.run);
  if (!f.run && f.blockRun)
    code = code * double(f.blockKeep) / double(f.blockRun);
  double extraBits =
      (f.bitsPerWeight - (integer ? double(f.bits) : f.bitsPerWeight)) *
      double(f.weights);
  f.storedBits = code + extraBits;
  f.bytes = int64_t(std::ceil(f.storedBits / 8.0));
  return f;
}
