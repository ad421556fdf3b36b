//===- SystemDescription.h - Cards of a target and their links --*- C++ -*-===//
//
// A system is N cards of one target description (targets/*.json) plus the
// links between neighbouring cards and from the host, each a bandwidth and a
// latency. It is read from JSON like the targets (bounded parsing, every
// problem reported with its JSON path) or taken from a preset (u280x2,
// u280x4, u280x8, u280x16: U280 cards on PCIe Gen3 x8). docs/targets.md,
// "Systems", gives the fields and the sources of the presets' figures.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_SYSTEM_SYSTEMDESCRIPTION_H
#define FLIGHTLLM_SYSTEM_SYSTEMDESCRIPTION_H

#include "flightllm/Target/TargetDescription.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace flightllm::system {

/// A point-to-point link. Effective bandwidth = raw * efficiency.
struct LinkDescription {
  double rawGBps = 0;     ///< raw bandwidth per direction, GB/s (1e9 B/s)
  double efficiency = 1;  ///< fraction of raw a transfer achieves
  double latencyUs = 0;   ///< fixed cost per transfer, microseconds
  double effectiveBytesPerSecond() const { return rawGBps * efficiency * 1e9; }
  /// Seconds to move `bytes` in one transfer.
  double transferSeconds(uint64_t bytes) const {
    return latencyUs * 1e-6 + double(bytes) / effectiveBytesPerSecond();
  }
};

/// Most cards a system may have (the runtime's fixed limit,
/// binary::kMaxPipelineCards).
inline constexpr unsigned kMaxCards = 16;

struct SystemDescription {
  std::string name;
  std::string targetName; ///< preset name or path, as written
  target::TargetDescription target;
  unsigned cards = 1;
  LinkDescription cardLink; ///< between neighbouring cards (no host hop)
  LinkDescription hostLink; ///< host to card 0 and last card to host
};

/// Parses a system description; `source` names it in errors
/// ("FILE: cards: expected an integer in [1, 16]").
llvm::Expected<SystemDescription> parseSystem(llvm::StringRef json,
                                              llvm::StringRef source);
/// A preset name (u280x2, ...) or the path of a JSON file.
llvm::Expected<SystemDescription> loadSystem(llvm::StringRef nameOrPath);
/// The presets' names.
llvm::ArrayRef<llvm::StringRef> systemPresetNames();

} // namespace flightllm::system

#endif
