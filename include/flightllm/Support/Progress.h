//===- Progress.h - Progress bars with ETA for long phases ------*- C++ -*-===//
//
// A long phase (reading 27 GB of weights, calibrating, simulating 1000
// decode steps) shows one line on stderr that it redraws in place:
//
//   calibrating  [##########..........]  52%  531/1024  1.8 s, ETA 1.7 s
//
//   ProgressBar bar("quantizing", weights.size());
//   for (...) { ...; bar.advance(); }      // the destructor ends the line
//
// Whether bars are drawn is one process-wide setting, chosen by the tool:
// Auto (the default) draws only when stderr is a terminal, so logs, pipes
// and tests see nothing extra; Never is --quiet; Always forces them (tests
// of the bars themselves). Libraries and passes create bars freely: a bar
// that is not drawn costs a branch per update. Redraws are limited to about
// 10 per second, plus the first and the final state.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_SUPPORT_PROGRESS_H
#define FLIGHTLLM_SUPPORT_PROGRESS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace flightllm {

enum class ProgressMode { Auto, Always, Never };

/// The process-wide setting (Auto until a tool sets it).
void setProgressMode(ProgressMode mode);
ProgressMode getProgressMode();
/// Whether bars are drawn under the current mode.
bool progressEnabled();

/// The values of a tool's --progress option:
///   cl::opt<ProgressMode> progress("progress", ..., progressModeValues());
llvm::cl::ValuesClass progressModeValues();

class ProgressBar {
public:
  /// A phase of `total` units (0: unknown, the bar shows a count only).
  ProgressBar(llvm::StringRef phase, uint64_t total);
  ~ProgressBar();
  ProgressBar(const ProgressBar &) = delete;
  ProgressBar &operator=(const ProgressBar &) = delete;

  void advance(uint64_t units = 1) { update(done + units); }
  void update(uint64_t doneUnits);
  /// Draws the final state and ends the line (the destructor calls it).
  void finish();

  /// The line the bar shows after `done` of `total` units in `elapsed`
  /// seconds (for tests; `width` characters of bar).
  static std::string render(llvm::StringRef phase, uint64_t done,
                            uint64_t total, double elapsed,
                            unsigned width = 20);

private:
  void draw();
  std::string phase;
  uint64_t total, done = 0;
  bool enabled, finished = false;
  std::chrono::steady_clock::time_point start, lastDraw;
  size_t lastWidth = 0;
};

/// A bar per phase for code that reports (phase, done, total) callbacks
/// (LoweringOptions::progress): a new phase name ends the previous bar.
class PhasedProgress {
public:
  void operator()(llvm::StringRef phase, uint64_t done, uint64_t total);

private:
  std::string current;
  std::unique_ptr<ProgressBar> bar;
};

} // namespace flightllm

#endif // FLIGHTLLM_SUPPORT_PROGRESS_H
