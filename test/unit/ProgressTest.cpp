//===- ProgressTest.cpp - Support/Progress.h ------------------------------===//

#include "flightllm/Support/Progress.h"

#include "llvm/Support/Process.h"
#include "gtest/gtest.h"

using flightllm::ProgressBar;

TEST(Progress, RendersFractionCountAndETA) {
  // A quarter done after 3 s: 9 s left.
  EXPECT_EQ(ProgressBar::render("calibrating", 25, 100, 3.0, 8),
            "calibrating  [##......]   25%  25/100  3.0 s, ETA 9.0 s");
  EXPECT_EQ(ProgressBar::render("packing weights", 0, 32, 0.2, 4),
            "packing weights  [....]    0%  0/32  0.2 s");
  EXPECT_EQ(ProgressBar::render("emitting buckets", 12, 12, 65.0, 4),
            "emitting buckets  [####]  100%  12/12  1 min 05 s, done");
  // Minutes and hours for 7B-sized runs.
  EXPECT_EQ(ProgressBar::render("reading weights", 1, 4, 1200.0, 4),
            "reading weights  [#...]   25%  1/4  20 min 00 s, ETA 1 h 00 min");
  // Unknown total: a count; overshoot is clamped.
  EXPECT_EQ(ProgressBar::render("steps", 7, 0, 1.0), "steps  7  1.0 s");
  EXPECT_EQ(ProgressBar::render("x", 5, 4, 1.0, 4), "x  [####]  100%  4/4  1.0 s, done");
}

TEST(Progress, ModeDecidesWhetherBarsAreDrawn) {
  flightllm::setProgressMode(flightllm::ProgressMode::Never);
  EXPECT_FALSE(flightllm::progressEnabled());
  flightllm::setProgressMode(flightllm::ProgressMode::Always);
  EXPECT_TRUE(flightllm::progressEnabled());
  flightllm::setProgressMode(flightllm::ProgressMode::Auto);
  // gtest's stderr is not a terminal under ctest.
  EXPECT_EQ(flightllm::progressEnabled(),
            llvm::sys::Process::StandardErrIsDisplayed());
}
