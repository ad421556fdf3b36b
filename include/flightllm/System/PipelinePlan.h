//===- PipelinePlan.h - Decoder layers split over cards ---------*- C++ -*-===//
//
// Partitions a model's decoder layers into pipeline stages of whole layers,
// one per card, balancing a cost per layer (docs/lowering.md, "Pipeline
// stages"): card 0 also runs the prologue (embeddings), the last card the
// epilogue (final norm, LM head). And writes the system binary: the plan
// (the .flb's `pipeline` section) and one stage binary per card (`card`
// sections), docs/binary-format.md.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_SYSTEM_PIPELINEPLAN_H
#define FLIGHTLLM_SYSTEM_PIPELINEPLAN_H

#include "flightllm/System/SystemDescription.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <vector>

namespace flightllm::system {

/// What one stage costs, in any unit proportional to its time per step.
struct StageCosts {
  double layer = 0;    ///< each decoder layer (the layers are identical)
  double prologue = 0; ///< on the first card
  double epilogue = 0; ///< on the last card
};

struct PipelineStagePlan {
  unsigned firstLayer = 0, layerCount = 0;
  bool prologue = false, epilogue = false;
  double cost = 0;
};

/// Contiguous stages of at least one layer each, minimising the most
/// expensive stage (ties: the earlier cards take more layers, since the
/// last one also runs the epilogue). An error when there are more cards
/// than layers.
llvm::Expected<std::vector<PipelineStagePlan>>
planPipeline(unsigned layers, unsigned cards, const StageCosts &costs);

/// The system binary: `stageBinaries[c]` (complete stage .flb files) as
/// card sections, the plan, and the tokenizer section when not empty.
llvm::Expected<std::vector<uint8_t>>
systemBinary(const SystemDescription &system, unsigned numLayers,
             uint32_t rowBytes, llvm::ArrayRef<PipelineStagePlan> plan,
             llvm::ArrayRef<std::vector<uint8_t>> stageBinaries,
             llvm::ArrayRef<uint8_t> tokenizerSection);

/// The same for the target with `targetFingerprint` and the system's links
/// (what a partitioned flight module carries instead of the description).
llvm::Expected<std::vector<uint8_t>>
systemBinary(uint64_t targetFingerprint, const LinkDescription &cardLink,
             const LinkDescription &hostLink, unsigned numLayers,
             uint32_t rowBytes, llvm::ArrayRef<PipelineStagePlan> plan,
             llvm::ArrayRef<std::vector<uint8_t>> stageBinaries,
             llvm::ArrayRef<uint8_t> tokenizerSection);

/// "card 0: layers 0-6 + prologue, cost ..." lines for the compile report.
void printPlan(const SystemDescription &system,
               llvm::ArrayRef<PipelineStagePlan> plan, llvm::raw_ostream &os);

} // namespace flightllm::system

#endif
