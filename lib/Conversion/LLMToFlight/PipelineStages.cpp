//===- PipelineStages.cpp - One pipeline stage per card; the pass ---------===//
//
// The whole-system step of --system (docs/lowering.md, "Pipeline stages"):
// the plan of the cards' stages over the llm program's decoder layers, and
// flight-partition-stages, which moves the program into one nested module
// per card with its stage as the `flight.stage` attribute the lowering
// passes read.
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Conversion/LLMToFlight/Passes.h"

#include "flightllm/Dialect/LLM/LLMDialect.h"
#include "flightllm/System/SystemDescription.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace flightllm {
#define GEN_PASS_DEF_PARTITIONSTAGESPASS
#include "flightllm/Conversion/LLMToFlight/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

FailureOr<PipelineStageRange> flightllm::lowering::moduleStage(ModuleOp module) {
  PipelineStageRange stage;
  Attribute attr = module->getAttr(kStageAttrName);
  if (!attr)
    return stage;
  auto dict = dyn_cast<DictionaryAttr>(attr);
  auto first = dict ? dict.getAs<IntegerAttr>("first_layer") : IntegerAttr();
  auto count = dict ? dict.getAs<IntegerAttr>("layer_count") : IntegerAttr();
  auto prologue = dict ? dict.getAs<BoolAttr>("prologue") : BoolAttr();
  auto epilogue = dict ? dict.getAs<BoolAttr>("epilogue") : BoolAttr();
  if (!first || !count || !prologue || !epilogue || first.getInt() < 0 ||
      count.getInt() < 1 || first.getInt() > UINT32_MAX ||
      count.getInt() > UINT32_MAX)
    return module.emitError()
           << "'" << kStageAttrName
           << "' must be {first_layer = F, layer_count = N >= 1, prologue = "
              "true|false, epilogue = true|false} (flight-partition-stages "
              "sets it)";
  stage.firstLayer = static_cast<uint32_t>(first.getInt());
  stage.layerCount = static_cast<uint32_t>(count.getInt());
  stage.prologue = prologue.getValue();
  stage.epilogue = epilogue.getValue();
  return stage;
}

llvm::Expected<std::vector<system::PipelineStagePlan>>
flightllm::lowering::planPipelineStages(ModuleOp module, unsigned cards,
                                        unsigned &layers) {
  double linear = 0, head = 0;
  layers = 0;
  module.walk([&](Operation *op) {
    if (llvm::isa<llm::AttentionOp>(op))
      ++layers;
    else if (llvm::isa<llm::LinearOp, llm::LogitsOp>(op)) {
      double bytes =
          double(cast<ShapedType>(op->getOperand(1).getType()).getNumElements());
      (llvm::isa<llm::LogitsOp>(op) ? head : linear) += bytes;
    }
  });
  system::StageCosts costs;
  costs.layer = layers ? linear / layers : 0;
  costs.epilogue = head;
  return system::planPipeline(layers, cards, costs);
}

namespace {

/// A link as a dictionary of its three figures (f64: they round-trip).
DictionaryAttr linkAttr(Builder &b, const system::LinkDescription &link) {
  return b.getDictionaryAttr(
      {b.getNamedAttr("raw_gbps", b.getF64FloatAttr(link.rawGBps)),
       b.getNamedAttr("efficiency", b.getF64FloatAttr(link.efficiency)),
       b.getNamedAttr("latency_us", b.getF64FloatAttr(link.latencyUs))});
}

struct PartitionStagesPass
    : public flightllm::impl::PartitionStagesPassBase<PartitionStagesPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (module->hasAttr(kSystemAttrName) || module->hasAttr(kStageAttrName) ||
        !module.getBody()->getOps<ModuleOp>().empty()) {
      module.emitError() << "the module is partitioned already (it has '"
                         << kSystemAttrName << "', '" << kStageAttrName
                         << "' or nested modules)";
      return signalPassFailure();
    }
    auto sys = system::loadSystem(system);
    if (!sys) {
      module.emitError() << "system: " << llvm::toString(sys.takeError());
      return signalPassFailure();
    }
    unsigned layers = 0;
    auto plan = planPipelineStages(module, sys->cards, layers);
    if (!plan) {
      module.emitError() << "system '" << system
                         << "': " << llvm::toString(plan.takeError());
      return signalPassFailure();
    }
    OpBuilder b(module.getContext());
    SmallVector<Operation *> program;
    for (Operation &op : *module.getBody())
      program.push_back(&op);
    SmallVector<NamedAttribute> programAttrs;
    for (NamedAttribute attr : module->getDiscardableAttrs())
      programAttrs.push_back(attr);
    b.setInsertionPointToEnd(module.getBody());
    for (const auto &[c, stage] : llvm::enumerate(*plan)) {
      auto card =
          ModuleOp::create(b, module.getLoc(), "card" + std::to_string(c));
      for (NamedAttribute attr : programAttrs)
        card->setAttr(attr.getName(), attr.getValue());
      card->setAttr(
          kStageAttrName,
          b.getDictionaryAttr(
              {b.getNamedAttr("first_layer",
                              b.getI64IntegerAttr(stage.firstLayer)),
               b.getNamedAttr("layer_count",
                              b.getI64IntegerAttr(stage.layerCount)),
               b.getNamedAttr("prologue", b.getBoolAttr(stage.prologue)),
               b.getNamedAttr("epilogue", b.getBoolAttr(stage.epilogue))}));
      OpBuilder inCard = OpBuilder::atBlockEnd(card.getBody());
      // The weights are dense_resource handles: a copy shares their bytes.
      for (Operation *op : program)
        inCard.clone(*op);
    }
    for (Operation *op : program)
      op->erase();
    for (NamedAttribute attr : programAttrs)
      module->removeAttr(attr.getName());
    module->setAttr(
        kSystemAttrName,
        b.getDictionaryAttr(
            {b.getNamedAttr("name", b.getStringAttr(sys->name)),
             b.getNamedAttr("target_fingerprint",
                            b.getI64IntegerAttr(
                                int64_t(sys->target.fingerprint()))),
             b.getNamedAttr("num_layers", b.getI64IntegerAttr(layers)),
             b.getNamedAttr("card_link", linkAttr(b, sys->cardLink)),
             b.getNamedAttr("host_link", linkAttr(b, sys->hostLink))}));
  }
};

} // namespace
