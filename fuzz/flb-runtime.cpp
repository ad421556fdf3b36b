//===- flb-runtime.cpp - Fuzz: .flb validation, runtime, simulator --------===//
//
// flightllm-run MODEL.flb (engine sim), in process: the validator
// (binary::validate), flight_open on the simulator's HAL (fuzz/flb-target.json),
// one prefill of one token and one decode step.
//
// Mutated bytes would almost never pass the CRC-32C checks, so before the run
// the input's checksums (each section's, the section table's, the file's and
// the header's), its file size and its target fingerprint are rewritten to
// match its bytes, as a writer would have: the checks behind them are what
// is fuzzed. (The checksum checks themselves have unit tests.)
//===----------------------------------------------------------------------===//

#include "FuzzSupport.h"

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/Reader.h"
#include "flightllm/Simulator/Simulator.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/runtime/runtime.h"

#include <cstdlib>
#include <vector>

using namespace flightllm;
using namespace flightllm::binary;

namespace {

/// fuzz/flb-target.json, for which the seeds are compiled: the u280 with one
/// HBM channel (a u280 binary of even a tiny model is 640 KB of mostly zero
/// weight images for 32 channels) and a 16-token MM tile (a prefill runs
/// 16-token tiles, not 128: ~10x fewer simulated MACs per input).
const target::TargetDescription &fuzzTarget() {
  static target::TargetDescription *t = [] {
    auto loaded = target::loadTarget(FLIGHTLLM_FUZZ_FLB_TARGET);
    if (!loaded) {
      // A stale file (the target schema grew a field) must say so, not
      // look like a finding.
      llvm::errs() << "fuzz-flb-runtime: " << llvm::toString(loaded.takeError())
                   << "\n";
      abort();
    }
    return new target::TargetDescription(std::move(*loaded));
  }();
  return *t;
}

/// Makes the checksums, file size and fingerprint of `f` agree with it.
void sealAsWriter(std::vector<uint8_t> &f, uint64_t fingerprint) {
  namespace ho = header_offset;
  namespace so = section_offset;
  if (f.size() < kHeaderSize)
    return;
  uint8_t *p = f.data();
  writeU64(p, ho::FileSize, f.size());
  writeU64(p, ho::TargetFingerprint, fingerprint);
  FileHeader h = FileHeader::decode(p);
  uint64_t entry = h.sectionEntrySize;
  if (entry >= kSectionEntrySize && h.sectionTableOffset <= f.size() &&
      h.sectionCount <= (f.size() - h.sectionTableOffset) / entry) {
    uint8_t *table = p + h.sectionTableOffset;
    for (uint32_t i = 0; i < h.sectionCount; ++i) {
      uint8_t *e = table + i * entry;
      uint64_t offset = readU64(e, so::Offset), size = readU64(e, so::Size);
      if (offset <= f.size() && size <= f.size() - offset)
        writeU32(e, so::Checksum, crc32c(p + offset, size_t(size)));
    }
    writeU32(p, ho::SectionTableChecksum,
             crc32c(table, size_t(h.sectionCount * entry)));
  }
  writeU32(p, ho::FileChecksum, fileChecksum(p, f.size()));
  if (h.headerSize >= kHeaderSize && h.headerSize <= f.size())
    writeU32(p, ho::HeaderChecksum, headerChecksum(p, h.headerSize));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (4u << 20))
    return -1;
  const target::TargetDescription &target = fuzzTarget();
  std::vector<uint8_t> flb(data, data + size);
  sealAsWriter(flb, target.fingerprint());

  Error err;
  ValidateOptions validate;
  validate.requireModelSections = true;
  if (binary::validate(flb.data(), flb.size(), err, validate) != Status::Ok)
    return 0;

  sim::Simulator simulator(target);
  flight_hal hal = simulator.hal();
  static std::vector<uint8_t> arena(flight_runtime_arena_bytes());
  flight_runtime *rt = nullptr;
  int status = flight_open(&rt, arena.data(), arena.size(), flb.data(),
                           flb.size(), &hal, target.fingerprint(), 0);
  if (status == FLIGHT_OK) {
    flight_model_info info;
    flight_model(rt, &info);
    // The runtime writes vocab_size logits; the validator bounds it.
    std::vector<float> logits(info.vocab_size ? info.vocab_size : 1);
    int32_t token = 0;
    if (flight_prefill(rt, &token, 1, logits.data()) == FLIGHT_OK)
      (void)flight_decode_step(rt, token, logits.data());
  }
  if (rt)
    flight_close(rt);
  return 0;
}
