//===- PipelinePlan.cpp - Decoder layers split over cards -----------------===//

#include "flightllm/System/PipelinePlan.h"

#include "flightllm/Binary/Writer.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace flightllm;
using namespace flightllm::system;

llvm::Expected<std::vector<PipelineStagePlan>>
flightllm::system::planPipeline(unsigned layers, unsigned cards,
                                const StageCosts &costs) {
  if (cards == 0 || cards > layers)
    return llvm::createStringError(
        "cannot split %u decoder layers over %u cards: every card runs at "
        "least one whole layer",
        layers, cards);
  auto stageCost = [&](unsigned card, unsigned first, unsigned end) {
    double c = costs.layer * (end - first);
    if (card == 0)
      c += costs.prologue;
    if (card + 1 == cards)
      c += costs.epilogue;
    return c;
  };
  // best[c][i]: cards 0..c-1 holding layers [0, i), compared by their most
  // expensive stage, then by the sum of squared stage costs (of the plans
  // as fast, the most even one: it leaves every card the most slack).
  struct Score {
    double worst = std::numeric_limits<double>::infinity(), squares = 0;
    bool operator<=(const Score &o) const {
      if (std::isinf(o.worst))
        return true;
      const double eps = 1e-9 * std::max(1.0, std::abs(o.worst));
      if (worst < o.worst - eps)
        return true;
      if (worst > o.worst + eps)
        return false;
      return squares <= o.squares * (1 + 1e-12);
    }
  };
  std::vector<std::vector<Score>> best(cards + 1,
                                       std::vector<Score>(layers + 1));
  std::vector<std::vector<unsigned>> cut(cards + 1,
                                         std::vector<unsigned>(layers + 1, 0));
  best[0][0] = Score{0, 0};
  for (unsigned c = 1; c <= cards; ++c)
    for (unsigned i = c; i <= layers; ++i)
      // The latest cut wins exact ties: the earlier cards keep more layers.
      for (unsigned j = c - 1; j < i; ++j) {
        const Score &before = best[c - 1][j];
        if (before.worst == std::numeric_limits<double>::infinity())
          continue;
        double stage = stageCost(c - 1, j, i);
        Score v{std::max(before.worst, stage),
                before.squares + stage * stage};
        if (v <= best[c][i]) {
          best[c][i] = v;
          cut[c][i] = j;
        }
      }
  std::vector<PipelineStagePlan> plan(cards);
  for (unsigned c = cards, end = layers; c > 0; --c) {
    unsigned first = cut[c][end];
    PipelineStagePlan &s = plan[c - 1];
    s.firstLayer = first;
    s.layerCount = end - first;
    s.prologue = c == 1;
    s.epilogue = c == cards;
    s.cost = stageCost(c - 1, first, end);
    end = first;
  }
  return plan;
}

llvm::Expected<std::vector<uint8_t>> flightllm::system::systemBinary(
    const SystemDescription &system, unsigned numLayers, uint32_t rowBytes,
    llvm::ArrayRef<PipelineStagePlan> plan,
    llvm::ArrayRef<std::vector<uint8_t>> stageBinaries,
    llvm::ArrayRef<uint8_t> tokenizerSection) {
  return systemBinary(system.target.fingerprint(), system.cardLink,
                      system.hostLink, numLayers, rowBytes, plan,
                      stageBinaries, tokenizerSection);
}

llvm::Expected<std::vector<uint8_t>> flightllm::system::systemBinary(
    uint64_t targetFingerprint, const LinkDescription &cardLink,
    const LinkDescription &hostLink, unsigned numLayers, uint32_t rowBytes,
    llvm::ArrayRef<PipelineStagePlan> plan,
    llvm::ArrayRef<std::vector<uint8_t>> stageBinaries,
    llvm::ArrayRef<uint8_t> tokenizerSection) {
  binary::BinaryWriter writer(targetFingerprint);
  writer.setFlags(binary::kFlagSystem);
  binary::PipelineHeader h;
  h.cardCount = static_cast<uint32_t>(plan.size());
  h.numLayers = numLayers;
  h.rowBytes = rowBytes;
  auto mbps = [](const LinkDescription &l) {
    return static_cast<uint32_t>(l.effectiveBytesPerSecond() / 1e6);
  };
  auto ns = [](const LinkDescription &l) {
    return static_cast<uint32_t>(l.latencyUs * 1e3 + 0.5);
  };
  h.linkBandwidthMBps = mbps(cardLink);
  h.linkLatencyNs = ns(cardLink);
  h.hostBandwidthMBps = mbps(hostLink);
  h.hostLatencyNs = ns(hostLink);
  std::vector<uint8_t> section(binary::kPipelineHeaderSize +
                               binary::kPipelineStageSize * plan.size());
  h.encode(section.data());
  for (size_t c = 0; c < plan.size(); ++c) {
    binary::PipelineStage s;
    s.firstLayer = plan[c].firstLayer;
    s.layerCount = plan[c].layerCount;
    s.flags = (plan[c].prologue ? binary::kStageOwnsPrologue : 0) |
              (plan[c].epilogue ? binary::kStageOwnsEpilogue : 0);
    s.encode(section.data() + binary::kPipelineHeaderSize +
             binary::kPipelineStageSize * c);
  }
  writer.addRawSection(static_cast<uint32_t>(binary::SectionKind::Pipeline), 0,
                       section);
  for (size_t c = 0; c < stageBinaries.size(); ++c)
    writer.addRawSection(static_cast<uint32_t>(binary::SectionKind::Card),
                         static_cast<uint32_t>(c), stageBinaries[c]);
  if (!tokenizerSection.empty())
    writer.addRawSection(static_cast<uint32_t>(binary::SectionKind::Tokenizer),
                         0, tokenizerSection);
  return writer.writeToBuffer();
}

void flightllm::system::printPlan(const SystemDescription &system,
                                  llvm::ArrayRef<PipelineStagePlan> plan,
                                  llvm::raw_ostream &os) {
  double worst = 0;
  for (const PipelineStagePlan &s : plan)
    worst = std::max(worst, s.cost);
  os << "pipeline: " << plan.size() << " cards of " << system.targetName
     << " (system " << system.name << "), card links "
     << llvm::format("%.2f", system.cardLink.effectiveBytesPerSecond() / 1e9)
     << " GB/s + " << llvm::format("%.1f", system.cardLink.latencyUs)
     << " us per transfer\n";
  for (size_t c = 0; c < plan.size(); ++c) {
    const PipelineStagePlan &s = plan[c];
    os << "  card " << c << ": layers " << s.firstLayer << "-"
       << s.firstLayer + s.layerCount - 1
       << (s.prologue ? " + embeddings" : "")
       << (s.epilogue ? " + final norm and LM head" : "") << ", "
       << llvm::format("%.1f", worst > 0 ? 100.0 * s.cost / worst : 100.0)
       << "% of the slowest stage's weight bytes per step\n";
  }
}
