//===- ModelStructure.h - Prologue, repeated layers, epilogue -------------===//
//
// Splits the ops of an llm @forward into the prologue (embeddings), N
// structurally identical decoder layers and the epilogue (final norm,
// logits), and checks the layers really are identical (same ops, attributes,
// weight shapes and dataflow) up to their weight formats, which is what lets
// one instruction sequence serve every layer of a run of consecutive layers
// with the same formats (a layer group) through base registers.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_MODELSTRUCTURE_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_MODELSTRUCTURE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LogicalResult.h"

#include <vector>

namespace flightllm::lowering {

struct ModelStructure {
  mlir::func::FuncOp func;
  /// Ops that compute (no llm.weight, llm.position_ids or return), in order.
  std::vector<mlir::Operation *> ops;
  size_t prologueEnd = 0; ///< ops[0, prologueEnd) are the prologue
  size_t layerLength = 0; ///< ops per layer
  /// The layers lowered: [firstLayer, firstLayer + numLayers) of the
  /// model's totalLayers (a pipeline stage lowers a range; layer indices
  /// below are relative to firstLayer).
  unsigned numLayers = 0, firstLayer = 0, totalLayers = 0;
  /// The hidden state entering layer i (i = numLayers: leaving the last).
  std::vector<mlir::Value> layerInputs;
  /// Runs of consecutive layers whose projections have the same weight
  /// formats (bits, group size, zero points, sparsity), in order; each is
  /// one layer body. A single-format model has one group.
  struct LayerGroup {
    unsigned first = 0, count = 0;
  };
  std::vector<LayerGroup> groups;
  unsigned groupOf(unsigned layer) const {
    unsigned g = 0;
    while (g + 1 < groups.size() && groups[g + 1].first <= layer)
      ++g;
    return g;
  }
  /// Splits layers [0, numLayers) into groups.
  void computeGroups();

  size_t layerBegin(unsigned layer) const {
    return prologueEnd + (firstLayer + layer) * layerLength;
  }
  size_t epilogueBegin() const {
    return prologueEnd + totalLayers * layerLength;
  }
  /// Keeps layers [first, first + count) (checked by the caller).
  void restrictToLayers(unsigned first, unsigned count) {
    layerInputs = std::vector<mlir::Value>(
        layerInputs.begin() + first, layerInputs.begin() + first + count + 1);
    firstLayer += first;
    numLayers = count;
    computeGroups();
  }
  llvm::ArrayRef<mlir::Operation *> layerOps(unsigned layer) const {
    return llvm::ArrayRef(ops).slice(layerBegin(layer), layerLength);
  }
  llvm::ArrayRef<mlir::Operation *> prologue() const {
    return llvm::ArrayRef(ops).take_front(prologueEnd);
  }
  llvm::ArrayRef<mlir::Operation *> epilogue() const {
    return llvm::ArrayRef(ops).drop_front(epilogueBegin());
  }
};

mlir::FailureOr<ModelStructure> analyzeModelStructure(mlir::ModuleOp module);

} // namespace flightllm::lowering

#endif
