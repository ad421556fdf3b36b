//===- PipelinePlanTest.cpp - Splitting layers over cards, system files ---===//

#include "flightllm/System/PipelinePlan.h"
#include "flightllm/System/SystemDescription.h"

#include "flightllm/Binary/Reader.h"

#include <gtest/gtest.h>

using namespace flightllm;
using namespace flightllm::system;

namespace {

std::vector<unsigned> counts(const std::vector<PipelineStagePlan> &plan) {
  std::vector<unsigned> out;
  for (const PipelineStagePlan &s : plan)
    out.push_back(s.layerCount);
  return out;
}

TEST(PipelinePlan, EqualLayersSplitEvenly) {
  auto plan = planPipeline(16, 4, {1.0, 0.0, 0.0});
  ASSERT_TRUE(static_cast<bool>(plan));
  EXPECT_EQ(counts(*plan), (std::vector<unsigned>{4, 4, 4, 4}));
  EXPECT_TRUE((*plan)[0].prologue);
  EXPECT_FALSE((*plan)[0].epilogue);
  EXPECT_TRUE((*plan)[3].epilogue);
  EXPECT_FALSE((*plan)[3].prologue);
  for (unsigned c = 1; c < 4; ++c)
    EXPECT_EQ((*plan)[c].firstLayer,
              (*plan)[c - 1].firstLayer + (*plan)[c - 1].layerCount);
}

TEST(PipelinePlan, HeavyHeadGetsFewerLayers) {
  // 14 layers (Granite-3B: ~218 MB each) and a 201 MB LM head on 4 cards:
  // the last card's head is almost a layer, so it takes 3 layers.
  auto plan = planPipeline(14, 4, {218.0, 0.0, 201.0});
  ASSERT_TRUE(static_cast<bool>(plan));
  EXPECT_EQ(counts(*plan), (std::vector<unsigned>{4, 4, 3, 3}));
  double worst = 0;
  for (const PipelineStagePlan &s : *plan)
    worst = std::max(worst, s.cost);
  EXPECT_DOUBLE_EQ(worst, 4 * 218.0);
}

TEST(PipelinePlan, OneLayerPerCardAndTooManyCards) {
  auto plan = planPipeline(2, 2, {1.0, 0.0, 5.0});
  ASSERT_TRUE(static_cast<bool>(plan));
  EXPECT_EQ(counts(*plan), (std::vector<unsigned>{1, 1}));
  auto bad = planPipeline(2, 3, {1.0, 0.0, 0.0});
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "cannot split 2 decoder layers over 3 cards: every card runs at "
            "least one whole layer");
}

TEST(SystemDescription, Presets) {
  for (unsigned cards : {2u, 4u, 8u, 16u}) {
    auto s = loadSystem("u280x" + std::to_string(cards));
    ASSERT_TRUE(static_cast<bool>(s)) << llvm::toString(s.takeError());
    EXPECT_EQ(s->cards, cards);
    EXPECT_EQ(s->targetName, "u280");
    // PCIe Gen3 x8: 8 GT/s x 8 lanes x 128/130 / 8 bits.
    EXPECT_NEAR(s->cardLink.rawGBps, 8.0 * 8 * 128 / 130 / 8, 1e-3);
    EXPECT_NEAR(s->cardLink.transferSeconds(8192),
                2e-6 + 8192 / (7.877e9 * 0.8), 1e-12);
  }
  EXPECT_EQ(systemPresetNames().size(), 4u);
}

TEST(SystemDescription, ErrorsNameThePath) {
  auto s = parseSystem(R"({"name": 3, "target": "u280", "cards": 0,
      "card_link": {"raw_gbps": -1, "efficiency": 0.5, "latency_us": 1, "x": 1},
      "host_link": []})",
                       "sys.json");
  ASSERT_FALSE(static_cast<bool>(s));
  std::string text = llvm::toString(s.takeError());
  for (const char *expected :
       {"sys.json: name: expected a string", "sys.json: cards: expected an "
        "integer in [1, 16]",
        "sys.json: card_link.x: unknown field",
        "sys.json: card_link.raw_gbps: expected a number in [0.001, 1e+06]",
        "sys.json: host_link: expected an object"})
    EXPECT_NE(text.find(expected), std::string::npos) << text;
  auto nested = parseSystem(std::string(100, '[') + std::string(100, ']'),
                            "deep.json");
  ASSERT_FALSE(static_cast<bool>(nested));
  EXPECT_NE(llvm::toString(nested.takeError()).find("nested deeper"),
            std::string::npos);
}

TEST(SystemBinary, PlanRoundTrips) {
  auto sys = loadSystem("u280x2");
  ASSERT_TRUE(static_cast<bool>(sys));
  auto plan = planPipeline(4, 2, {1.0, 0.0, 0.5});
  ASSERT_TRUE(static_cast<bool>(plan));
  std::vector<std::vector<uint8_t>> cards = {{1, 2, 3}, {4, 5}};
  auto file = systemBinary(*sys, 4, 256, *plan, cards, {});
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  binary::BinaryView view;
  binary::Error err;
  ASSERT_EQ(view.open(file->data(), file->size(), err), binary::Status::Ok)
      << err.message;
  EXPECT_EQ(view.header().versionMinor, binary::kVersionMinorPipeline);
  EXPECT_EQ(view.header().flags, binary::kFlagSystem);
  binary::SectionEntry s;
  ASSERT_TRUE(view.findSection(binary::SectionKind::Pipeline, 0, s));
  binary::PipelineHeader h = binary::PipelineHeader::decode(view.sectionData(s));
  EXPECT_EQ(h.cardCount, 2u);
  EXPECT_EQ(h.numLayers, 4u);
  EXPECT_EQ(h.rowBytes, 256u);
  EXPECT_EQ(h.linkBandwidthMBps, 6301u);
  EXPECT_EQ(h.linkLatencyNs, 2000u);
  binary::PipelineStage last = binary::PipelineStage::decode(
      view.sectionData(s) + binary::kPipelineHeaderSize + h.entrySize);
  EXPECT_EQ(last.firstLayer + last.layerCount, 4u);
  EXPECT_EQ(last.flags, binary::kStageOwnsEpilogue);
  ASSERT_TRUE(view.findSection(binary::SectionKind::Card, 1, s));
  EXPECT_EQ(s.size, 2u);
}

} // namespace
