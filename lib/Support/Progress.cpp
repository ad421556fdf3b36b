//===- Progress.cpp - Progress bars with ETA for long phases --------------===//

#include "flightllm/Support/Progress.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>

using namespace flightllm;
using Clock = std::chrono::steady_clock;

static std::atomic<ProgressMode> currentMode{ProgressMode::Auto};

void flightllm::setProgressMode(ProgressMode mode) { currentMode = mode; }
ProgressMode flightllm::getProgressMode() { return currentMode; }

bool flightllm::progressEnabled() {
  switch (currentMode.load()) {
  case ProgressMode::Always:
    return true;
  case ProgressMode::Never:
    return false;
  case ProgressMode::Auto:
    return llvm::sys::Process::StandardErrIsDisplayed();
  }
  return false;
}

llvm::cl::ValuesClass flightllm::progressModeValues() {
  return llvm::cl::values(
      clEnumValN(ProgressMode::Auto, "auto",
                 "progress bars when stderr is a terminal (default)"),
      clEnumValN(ProgressMode::Always, "always", "always progress bars"),
      clEnumValN(ProgressMode::Never, "never", "no progress bars"));
}

/// "12.3 s", "4 min 05 s", "1 h 02 min".
static std::string formatSeconds(double s) {
  std::string out;
  llvm::raw_string_ostream os(out);
  if (s < 60)
    os << llvm::format("%.1f s", s);
  else if (s < 3600)
    os << llvm::format("%d min %02d s", int(s) / 60, int(s) % 60);
  else
    os << llvm::format("%d h %02d min", int(s) / 3600, int(s) % 3600 / 60);
  return out;
}

std::string ProgressBar::render(llvm::StringRef phase, uint64_t done,
                                uint64_t total, double elapsed,
                                unsigned width) {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << phase << "  ";
  if (!total) {
    os << done << "  " << formatSeconds(elapsed);
    return out;
  }
  if (done > total)
    done = total;
  double fraction = double(done) / double(total);
  unsigned filled = unsigned(fraction * width);
  os << '[' << std::string(filled, '#') << std::string(width - filled, '.')
     << "]  " << llvm::format("%3d%%", int(fraction * 100)) << "  " << done
     << '/' << total << "  " << formatSeconds(elapsed);
  if (done == total)
    os << ", done";
  else if (done > 0)
    os << ", ETA " << formatSeconds(elapsed / fraction - elapsed);
  return out;
}

ProgressBar::ProgressBar(llvm::StringRef phase, uint64_t total)
    : phase(phase.str()), total(total), enabled(progressEnabled()),
      start(Clock::now()), lastDraw(start) {
  if (enabled)
    draw();
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(uint64_t doneUnits) {
  done = doneUnits;
  if (!enabled || finished)
    return;
  Clock::time_point now = Clock::now();
  if (now - lastDraw < std::chrono::milliseconds(100))
    return;
  lastDraw = now;
  draw();
}

void ProgressBar::finish() {
  if (!enabled || finished)
    return;
  finished = true;
  if (total)
    done = total;
  draw();
  llvm::errs() << '\n';
  llvm::errs().flush();
}

void ProgressBar::draw() {
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::string line = render(phase, done, total, elapsed);
  size_t width = line.size();
  // Blank what a longer previous line left behind.
  if (width < lastWidth)
    line.append(lastWidth - width, ' ');
  lastWidth = width;
  llvm::errs() << '\r' << line;
  llvm::errs().flush();
}

void PhasedProgress::operator()(llvm::StringRef phase, uint64_t done,
                                uint64_t total) {
  if (!bar || phase != current) {
    bar.reset(); // ends the previous phase's line first
    current = phase.str();
    bar = std::make_unique<ProgressBar>(phase, total);
  }
  bar->update(done);
}
