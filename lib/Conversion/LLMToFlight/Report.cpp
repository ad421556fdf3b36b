//===- Report.cpp - The compile report ------------------------------------===//
//
// Instructions and bytes per bucket and in total, next to what one stream
// per exact length would take (each length of a bucket getting its own copy
// of the bucket's stream) and what that would take without sharing the
// layer body between layers (FlightLLM's per-length instruction files).
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace flightllm;
using namespace flightllm::lowering;

namespace {

struct Totals {
  uint64_t instructions = 0, bytes = 0;
  uint64_t exactLengthBytes = 0, exactLengthUnsharedBytes = 0;
  uint64_t decodeActivationStoreMax = 0;
  uint64_t prefillBytes = 0, decodeBytes = 0;
};

uint64_t unsharedBytes(const StreamInfo &s) {
  return 4 * (s.otherWords + s.unrolledBodyWords);
}

Totals totals(const LoweredModel &m) {
  Totals t;
  for (const StreamInfo &s : m.streams) {
    uint64_t bytes = 4 * s.allWords();
    uint64_t lengths = s.maxLength - s.minLength + 1;
    t.instructions += s.instructions;
    t.bytes += bytes;
    t.exactLengthBytes += bytes * lengths;
    t.exactLengthUnsharedBytes += unsharedBytes(s) * lengths;
    if (s.stage == binary::Stage::Decode)
      t.decodeActivationStoreMax =
          std::max(t.decodeActivationStoreMax, s.activationStoreBytes);
    (s.stage == binary::Stage::Prefill ? t.prefillBytes : t.decodeBytes) += bytes;
  }
  return t;
}

const char *stageName(binary::Stage s) {
  return s == binary::Stage::Prefill ? "prefill" : "decode";
}

/// "w8", "w4 g128 zp", "w4 8:16": a projection's accelerator format.
std::string formatName(const LoweredModel::WeightFormatInfo &f) {
  std::string s = "w" + std::to_string(f.bits);
  if (f.groupSize)
    s += " g" + std::to_string(f.groupSize);
  if (f.zeroPoints)
    s += " zp";
  if (f.kept < 16)
    s += " " + std::to_string(f.kept) + ":16";
  return s;
}

/// The weight bytes one decode token reads (the first decode stream's
/// weight loads: every decode bucket reads each weight once).
uint64_t decodeWeightBytesPerToken(const LoweredModel &m) {
  for (const StreamInfo &s : m.streams)
    if (s.stage == binary::Stage::Decode)
      return s.weightLoadBytes;
  return 0;
}

/// "3" or "1-5": the layers of a layer group.
std::string layerRange(uint32_t first, uint32_t count) {
  return count == 1 ? std::to_string(first)
                    : std::to_string(first) + "-" +
                          std::to_string(first + count - 1);
}

/// Formats of the projections (layer 0 stands for every layer of a
/// single-format model; otherwise each group's first layer for the group).
void printWeightFormats(const LoweredModel &m, llvm::raw_ostream &os) {
  os << "weight formats (bits, group size, zero points, N:16; image bytes"
        " per copy, layer 0 for the layers):\n";
  for (const LoweredModel::WeightFormatInfo &f : m.weightFormats)
    os << llvm::format("  %-48s %-16s %12llu\n", f.name.c_str(),
                       formatName(f).c_str(), (unsigned long long)f.bytes);
  os << "weight bytes read per decode token: " << decodeWeightBytesPerToken(m)
     << "\n";
  // Mixed precision across layers: which layers share a body.
  if (m.layerGroups.size() > 1) {
    os << "layer bodies (layers with the same weight formats share one):";
    for (auto [first, count] : m.layerGroups)
      os << " " << layerRange(first, count);
    os << "\n";
  }
}

} // namespace

void flightllm::lowering::printReport(const LoweredModel &m,
                                      const target::TargetDescription &target,
                                      llvm::raw_ostream &os) {
  Totals t = totals(m);
  os << "model: " << m.name << ", " << m.numLayers << " layers, hidden "
     << m.metadata.hiddenSize << ", vocab " << m.metadata.vocabSize
     << ", max context " << m.metadata.maxContext << "\n";
  os << "target: " << target.name << " (fingerprint "
     << llvm::format_hex(target.fingerprint(), 18) << ")\n";
  os << "weights: " << m.quantizedWeightBytes << " bytes quantized; HBM image "
     << m.hbm.size() << " channels x "
     << (m.hbm.empty() ? 0 : m.hbm.front().size()) << " bytes; KV cache "
     << m.kvCacheBytes << " bytes\n";
  os << "on-chip peak: act " << m.peakActBytes << " / "
     << target.actBufferBytes << ", weight " << m.peakWeightBytes << " / "
     << target.weightBufferBytes << ", meta " << m.peakMetaBytes << " / "
     << target.metaBufferBytes << " bytes\n";
  os << llvm::format("%-8s %7s %7s %12s %12s %14s %14s\n", "stage", "min",
                     "max", "instructions", "bytes", "weights/run",
                     "act-spill/run");
  for (const StreamInfo &s : m.streams)
    os << llvm::format("%-8s %7u %7u %12llu %12llu %14llu %14llu\n",
                       stageName(s.stage), s.minLength, s.maxLength,
                       (unsigned long long)s.instructions,
                       (unsigned long long)(4 * s.allWords()),
                       (unsigned long long)s.weightLoadBytes,
                       (unsigned long long)s.activationStoreBytes);
  uint32_t cores = m.streams.empty() ? 1 : m.streams.front().cores();
  os << "total: " << m.streams.size() << " streams"
     << (cores > 1 ? " (one per core of " + std::to_string(cores) + ")" : "")
     << ", " << t.instructions
     << " instructions, " << t.bytes << " bytes (prefill " << t.prefillBytes
     << ", decode " << t.decodeBytes << ")\n";
  os << "one stream per exact length: " << t.exactLengthBytes << " bytes ("
     << llvm::format("%.1f", t.bytes ? double(t.exactLengthBytes) / t.bytes : 0)
     << "x the buckets); without layer sharing: " << t.exactLengthUnsharedBytes
     << " bytes ("
     << llvm::format("%.1f", t.bytes ? double(t.exactLengthUnsharedBytes) / t.bytes : 0)
     << "x)\n";
  os << "HBM activation bytes written per decode step: "
     << t.decodeActivationStoreMax << "\n";
  if (!m.ddr.empty())
    os << llvm::format("weights in DDR: %.2f KiB per layer (%.1f%% of the "
                       "layer's weight tiles; ddr-weights=%u), %zu DDR "
                       "channels x %llu bytes from byte %llu\n",
                       double(m.ddrLayerBytes) / 1024,
                       m.layerTileBytes ? 100.0 * double(m.ddrLayerBytes) /
                                              double(m.layerTileBytes)
                                        : 0.0,
                       m.ddrWeightPercent, m.ddr.size(),
                       (unsigned long long)m.ddr.front().size(),
                       (unsigned long long)m.ddrOffset);
  printWeightFormats(m, os);
}

void flightllm::lowering::printReportJSON(const LoweredModel &m,
                                          const target::TargetDescription &target,
                                          llvm::raw_ostream &os) {
  Totals t = totals(m);
  llvm::json::OStream j(os, 2);
  j.object([&] {
    j.attribute("model", m.name);
    j.attribute("layers", m.numLayers);
    j.attribute("hidden_size", m.metadata.hiddenSize);
    j.attribute("vocab_size", m.metadata.vocabSize);
    j.attribute("max_context", m.metadata.maxContext);
    j.attribute("prefill_bucket", m.metadata.prefillBucketWidth);
    j.attribute("decode_bucket", m.metadata.decodeBucketWidth);
    j.attribute("target", target.name);
    j.attribute("target_fingerprint", llvm::utohexstr(target.fingerprint()));
    j.attribute("quantized_weight_bytes", int64_t(m.quantizedWeightBytes));
    j.attribute("hbm_image_bytes_per_channel",
                int64_t(m.hbm.empty() ? 0 : m.hbm.front().size()));
    j.attribute("hbm_channels", int64_t(m.hbm.size()));
    j.attribute("kv_cache_bytes", int64_t(m.kvCacheBytes));
    j.attribute("kv_bits", int64_t(m.kvBits));
    j.attribute("kv_bytes_per_token", int64_t(m.kvBytesPerToken));
    j.attributeObject("on_chip_peak_bytes", [&] {
      j.attribute("act", int64_t(m.peakActBytes));
      j.attribute("weight", int64_t(m.peakWeightBytes));
      j.attribute("meta", int64_t(m.peakMetaBytes));
    });
    j.attributeArray("buckets", [&] {
      for (const StreamInfo &s : m.streams)
        j.object([&] {
          j.attribute("stage", stageName(s.stage));
          j.attribute("min_length", s.minLength);
          j.attribute("max_length", s.maxLength);
          j.attribute("stream", s.name);
          j.attribute("instructions", int64_t(s.instructions));
          j.attribute("bytes", int64_t(4 * s.allWords()));
          if (s.cores() > 1)
            j.attribute("cores", int64_t(s.cores()));
          j.attribute("unshared_bytes", int64_t(unsharedBytes(s)));
          j.attribute("weight_load_bytes", int64_t(s.weightLoadBytes));
          j.attribute("kv_load_bytes", int64_t(s.kvLoadBytes));
          j.attribute("kv_store_bytes", int64_t(s.kvStoreBytes));
          j.attribute("activation_store_bytes", int64_t(s.activationStoreBytes));
          j.attribute("activation_load_bytes", int64_t(s.activationLoadBytes));
          j.attribute("input_load_bytes", int64_t(s.inputLoadBytes));
          j.attribute("output_store_bytes", int64_t(s.outputStoreBytes));
          if (s.ddrWeightLoadBytes)
            j.attribute("ddr_weight_load_bytes", int64_t(s.ddrWeightLoadBytes));
        });
    });
    j.attribute("total_instructions", int64_t(t.instructions));
    j.attribute("total_instruction_bytes", int64_t(t.bytes));
    j.attribute("prefill_instruction_bytes", int64_t(t.prefillBytes));
    j.attribute("decode_instruction_bytes", int64_t(t.decodeBytes));
    j.attribute("exact_length_bytes", int64_t(t.exactLengthBytes));
    j.attribute("exact_length_ratio",
                t.bytes ? double(t.exactLengthBytes) / t.bytes : 0.0);
    j.attribute("exact_length_unshared_bytes", int64_t(t.exactLengthUnsharedBytes));
    j.attribute("exact_length_unshared_ratio",
                t.bytes ? double(t.exactLengthUnsharedBytes) / t.bytes : 0.0);
    j.attribute("decode_hbm_activation_bytes_per_step",
                int64_t(t.decodeActivationStoreMax));
    j.attribute("decode_weight_bytes_per_token",
                int64_t(decodeWeightBytesPerToken(m)));
    j.attributeArray("weight_formats", [&] {
      for (const LoweredModel::WeightFormatInfo &f : m.weightFormats)
        j.object([&] {
          j.attribute("name", f.name);
          j.attribute("bits", int64_t(f.bits));
          j.attribute("group_size", int64_t(f.groupSize));
          j.attribute("zero_points", f.zeroPoints);
          j.attribute("sparsity", llvm::json::Array{int64_t(f.kept), 16});
          j.attribute("image_bytes", int64_t(f.bytes));
          j.attribute("per_layer", f.perLayer);
          if (f.perLayer)
            j.attribute("layers", layerRange(f.firstLayer, f.layers));
        });
    });
    if (!m.ddr.empty())
      j.attributeObject("offload", [&] {
        j.attribute("ddr_weight_percent", int64_t(m.ddrWeightPercent));
        j.attribute("ddr_bytes_per_layer", int64_t(m.ddrLayerBytes));
        j.attribute("layer_tile_bytes", int64_t(m.layerTileBytes));
        j.attribute("ddr_channels", int64_t(m.ddr.size()));
        j.attribute("ddr_image_bytes_per_channel",
                    int64_t(m.ddr.front().size()));
        j.attribute("ddr_offset", int64_t(m.ddrOffset));
      });
    j.attributeArray("layer_bodies", [&] {
      for (auto [first, count] : m.layerGroups)
        j.object([&] {
          j.attribute("first_layer", int64_t(first));
          j.attribute("layers", int64_t(count));
        });
    });
  });
  os << "\n";
}
