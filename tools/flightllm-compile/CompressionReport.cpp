//===- CompressionReport.cpp - Per-projection formats of an llm program ---===//

#include "CompressionReport.h"

#include "flightllm/Dialect/LLM/Compression.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace flightllm;

namespace {

struct Row {
  std::string name;
  llm::ProjectionFootprint f;
};

struct Summary {
  std::vector<Row> rows;
  int64_t weights = 0, bytes = 0;
  double bits = 0;
  /// Stored bits (codes with their N:M indices, scales, zero points).
  double storedBits = 0;
  /// kv_bits of the attention ops (0: none).
  int64_t kvBits = 0;
};

Summary summarize(ModuleOp module) {
  Summary s;
  module.walk([&](Operation *op) {
    if (auto attention = dyn_cast<llm::AttentionOp>(op))
      s.kvBits = int64_t(attention.getKvBits());
    if (!isa<llm::LinearOp, llm::LogitsOp>(op))
      return;
    Row r{llm::projectionName(op), llm::projectionFootprint(op)};
    s.weights += r.f.weights;
    s.bytes += r.f.bytes;
    s.bits += r.f.bitsPerWeight * double(r.f.weights);
    s.storedBits += r.f.storedBits;
    s.rows.push_back(std::move(r));
  });
  return s;
}

std::string formatOf(const llm::ProjectionFootprint &f) {
  std::string text = (f.bits >= 16 ? "f" : "w") + std::to_string(f.bits);
  if (f.groupSize)
    text += " g" + std::to_string(f.groupSize);
  if (f.zeroPoints)
    text += " asym";
  if (f.run)
    text += " " + std::to_string(f.keep) + ":" + std::to_string(f.run);
  if (f.blockRun)
    text += " blocks " + std::to_string(f.blockKeep) + ":" +
            std::to_string(f.blockRun);
  return text;
}

} // namespace

void flightllm::printCompressionReport(ModuleOp module, llvm::raw_ostream &os) {
  Summary s = summarize(module);
  os << "compression: " << s.rows.size() << " projections, " << s.weights
     << " weights, " << s.bytes << " bytes, "
     << llvm::format("%.3f", s.weights ? s.bits / double(s.weights) : 0.0)
     << " bits per weight (dense codes, scales, zero points), "
     << llvm::format("%.3f", s.weights ? s.storedBits / double(s.weights) : 0.0)
     << " stored";
  if (s.kvBits)
    os << ", KV cache " << s.kvBits << " bits";
  os << "\n";
  for (const Row &r : s.rows)
    os << "  " << r.name << ": " << formatOf(r.f) << ", " << r.f.weights
       << " weights, " << r.f.bytes << " bytes\n";
}

void flightllm::printCompressionReportJSON(ModuleOp module,
                                           llvm::raw_ostream &os) {
  Summary s = summarize(module);
  llvm::json::Array rows;
  for (const Row &r : s.rows) {
    llvm::json::Object o{{"name", r.name},
                         {"bits", r.f.bits},
                         {"group_size", r.f.groupSize},
                         {"zero_points", r.f.zeroPoints},
                         {"weights", r.f.weights},
                         {"bytes", r.f.bytes},
                         {"bits_per_weight", r.f.bitsPerWeight},
                         {"stored_bits_per_weight",
                          r.f.weights ? r.f.storedBits / double(r.f.weights)
                                      : 0.0}};
    if (r.f.run)
      o["sparsity"] = llvm::json::Array{r.f.keep, r.f.run};
    if (r.f.blockRun)
      o["block_sparsity"] = llvm::json::Array{r.f.blockKeep, r.f.blockRun};
    rows.push_back(std::move(o));
  }
  llvm::json::Object report{
      {"projections", std::move(rows)},
      {"weights", s.weights},
      {"weight_bytes", s.bytes},
      {"bits_per_weight", s.weights ? s.bits / double(s.weights) : 0.0},
      {"stored_bits_per_weight",
       s.weights ? s.storedBits / double(s.weights) : 0.0}};
  if (s.kvBits)
    report["kv_bits"] = s.kvBits;
  os << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object{
                                   {"compression", std::move(report)}}))
     << "\n";
}
