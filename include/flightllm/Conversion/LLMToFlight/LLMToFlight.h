//===- LLMToFlight.h - Lowering llm programs to accelerator streams -*- C++ -*-===//
//
// Compiles the `llm` program of a decoder-only model (func @forward, one
// decoder layer repeated) into what the accelerator runs: one instruction
// stream per length bucket (prefill by token count, decode by context
// length), each computing one layer body once inside a SYS loop over the
// layers with per-layer base registers, plus the HBM image every channel
// starts with (INT8 weight tiles spread across the channels, scales, norm and
// rotary parameters, embedding tables). docs/lowering.md describes the
// layout and the schedule; docs/execution-model.md what every instruction
// computes.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_CONVERSION_LLMTOFLIGHT_LLMTOFLIGHT_H
#define FLIGHTLLM_CONVERSION_LLMTOFLIGHT_LLMTOFLIGHT_H

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/Rom.h"
#include "flightllm/Dialect/Flight/Transforms/DependencyTokens.h"
#include "flightllm/System/PipelinePlan.h"
#include "flightllm/Target/TargetDescription.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/LogicalResult.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace flightllm {
class OutputFiles;
} // namespace flightllm

namespace flightllm::lowering {

/// The part of the model one card of a pipeline runs (docs/lowering.md,
/// "Pipeline stages"): whole layers [firstLayer, firstLayer + layerCount)
/// (layerCount 0: all), with or without the prologue (embeddings; without
/// it the input rows are the previous card's hidden states) and the
/// epilogue (final norm, logits; without it the layer output rows are
/// stored for the next card).
struct PipelineStageRange {
  uint32_t firstLayer = 0, layerCount = 0;
  bool prologue = true, epilogue = true;
  bool wholeModel() const { return layerCount == 0 && prologue && epilogue; }
};

/// The module attribute that makes a module one card's pipeline stage
/// (flight-partition-stages sets it on each card's module; the lowering
/// passes read it): first_layer, layer_count, prologue, epilogue.
inline constexpr llvm::StringLiteral kStageAttrName = "flight.stage";
/// The module attribute of a partitioned program (the outer module of the
/// cards' modules): what the system binary needs besides the cards.
inline constexpr llvm::StringLiteral kSystemAttrName = "flight.system";

/// The pipeline stage `module` lowers: its flight.stage attribute, or the
/// whole model without one; an error at the module if it is malformed.
mlir::FailureOr<PipelineStageRange> moduleStage(mlir::ModuleOp module);

/// The pipeline plan of --system for the llm program `module`: the
/// planner's cost model is the weight bytes one decode step reads per
/// decoder layer and for the LM head (decode is bound by HBM bandwidth, and
/// every layer lowers to the same stream). `layers` is set to the model's
/// decoder layers.
llvm::Expected<std::vector<system::PipelineStagePlan>>
planPipelineStages(mlir::ModuleOp module, unsigned cards, unsigned &layers);

/// The system binary of a module flight-partition-stages split and the
/// lowering lowered card by card (each card module's streams and binary
/// data); errors name the module or attribute.
mlir::FailureOr<std::vector<uint8_t>> readSystemModule(mlir::ModuleOp module);

/// The passes every bucket runs at the buffer level after
/// flight-select-instructions: a textual pipeline on `flight.bucket`
/// (docs/lowering.md, "Pass pipeline").
inline constexpr llvm::StringLiteral kDefaultBucketPipeline =
    "flight-schedule,flight-fuse-swiglu,flight-share-quantize,"
    "flight-fuse-in-place,flight-fuse";

struct LoweringOptions {
  /// Longest context (prompt + generated tokens); 0: the model's own limit,
  /// at most 2048.
  uint32_t maxContext = 0;
  uint32_t prefillBucket = 128;
  uint32_t decodeBucket = 16;
  /// Only emit these buckets' streams (stage, maximum length); empty: all.
  /// For inspecting one stream (--emit=flight) without compiling them all.
  std::vector<std::pair<binary::Stage, uint32_t>> onlyBuckets;
  /// The streams are for a binary the runtime runs (--emit=bin): it needs
  /// at least one prefill and one decode bucket.
  bool runnable = false;
  /// KV-cache scale for attention ops without calibrated k/v scales; 0
  /// means such ops are an error.
  float uncalibratedKVRange = 0;
  /// Channels each weight tile is striped over in HBM (flight-hbm-layout's
  /// `stripes`).
  unsigned weightStripes = 8;
  /// Percent of each layer's weight-tile bytes the layout puts in the
  /// board's DDR (flight-hbm-layout's `ddr-weights`; docs/offloading.md):
  /// those tiles are read with LD mem = ddr through base register B3.
  unsigned ddrWeightPercent = 0;
  /// The buffer-level passes run on each bucket (a textual pipeline on
  /// flight.bucket, parsed once, run bucket by bucket).
  std::string bucketPipeline = kDefaultBucketPipeline.str();
  /// Configures the pass manager that runs bucketPipeline (the tools: the
  /// MLIR pass-manager options, e.g. --mlir-print-ir-after).
  std::function<mlir::LogicalResult(mlir::PassManager &)> configurePassManager;
  /// One layer body run numLayers times (else one copy per layer:
  /// flight-share-layers{share-layers=false}).
  bool shareLayers = true;
  /// Set the dependency tokens (else keep every instruction's accesses in
  /// StreamInfo::accesses, for the flight-insert-tokens pass).
  bool insertTokens = true;
  /// Accelerator cores each bucket runs on (at most the target's): linears
  /// split by output channels, attention by KV heads, an all-gather after
  /// each (docs/lowering.md, cores). 1: one stream per bucket, as before.
  uint32_t cores = 1;
  /// One pipeline stage's part of the model (default: the whole model).
  PipelineStageRange stage;
  /// KV-cache slots: sequences with their own cache (the runtime's
  /// flight_select_slot moves B2 by one slot's size).
  uint32_t kvSlots = 1;
  /// Sequences one decode run serves (docs/lowering.md, "Batched decode"):
  /// linears run one MV per sequence on each weight tile, attention runs
  /// per sequence on its own slot and length. Needs kvSlots >= batch.
  uint32_t batch = 1;
  /// Called as the long phases advance ("packing weights" per layer,
  /// "emitting buckets" per bucket) with units done of total: the tools'
  /// progress bars.
  std::function<void(llvm::StringRef phase, uint64_t done, uint64_t total)>
      progress;
};

struct StreamInfo {
  std::string name;
  binary::Stage stage;
  uint32_t minLength = 0, maxLength = 0;
  std::vector<uint32_t> words;
  /// Multi-core buckets: the streams of cores 1, 2, ... (`words` is core
  /// 0's).
  std::vector<std::vector<uint32_t>> otherCoreWords;
  uint32_t cores() const { return 1 + uint32_t(otherCoreWords.size()); }
  /// Words of every core's stream.
  uint64_t allWords() const {
    uint64_t n = words.size();
    for (const std::vector<uint32_t> &w : otherCoreWords)
      n += w.size();
    return n;
  }
  uint64_t instructions = 0;
  uint64_t perOpcode[16] = {};
  /// Bytes one run moves, by kind (the layer loop counted as many times as
  /// it runs).
  uint64_t weightLoadBytes = 0, kvLoadBytes = 0, kvStoreBytes = 0;
  /// Weight bytes loaded from DDR (weightLoadBytes counts HBM's).
  uint64_t ddrWeightLoadBytes = 0;
  uint64_t activationStoreBytes = 0, activationLoadBytes = 0;
  uint64_t outputStoreBytes = 0, inputLoadBytes = 0;
  /// Instructions of the layer bodies and of the rest, and of the bodies
  /// times the layers each runs: an unshared (one copy per layer) stream.
  uint64_t bodyWords = 0, otherWords = 0, unrolledBodyWords = 0;
  /// Without LoweringOptions::insertTokens: what every instruction reads and
  /// writes, in order.
  std::vector<flight::Access> accesses;
  /// ... and those of cores 1, 2, ... of a multi-core bucket.
  std::vector<std::vector<flight::Access>> otherCoreAccesses;
  /// Tracked ranges the dependency tracker visited (its cost).
  uint64_t tokenWork = 0;
};

struct LoweredModel {
  binary::ModelMetadata metadata;
  std::string name;
  /// What the runtime touches (docs/execution-model.md section 3); byte
  /// offsets are multiples of 32.
  struct DeviceMapInfo {
    uint32_t embedRowBytes = 0, vocab = 0, hiddenSize = 0;
    uint32_t inputChannel = 0, inputRows = 0;
    uint64_t inputOffset = 0;
    uint32_t logitsChannel = 0, logitsCount = 0;
    uint64_t logitsOffset = 0;
    /// Pipeline stages: binary::kStage* flags and the output rows' area.
    uint32_t stageFlags = 0, outputChannel = 0;
    /// Sequences per decode run (0: one); each has its logits row,
    /// roundUp(4 * logitsCount, 32) bytes apart.
    uint32_t decodeBatch = 0;
    uint64_t outputOffset = 0;
  } deviceMap;
  /// B1 = layer weights, B2 = layer KV cache (32-byte units).
  uint32_t baseOrigin[3] = {}, baseStride[3] = {};
  std::vector<StreamInfo> streams;
  /// Where the quantization scales are (the QuantParams section): per weight
  /// tile its fp32 per-channel scales, per KV head the cache's scales; for
  /// per-layer tensors layer 0's copy (layer l: + l * B1 stride).
  struct QuantInfo {
    std::string name;
    uint32_t channel = 0;
    uint64_t offset = 0; ///< bytes in the channel's image
    uint32_t count = 0;
    binary::Precision scalePrecision = binary::Precision::F32;
    binary::Precision precision = binary::Precision::I8;
    /// Weight tiles in a group-wise format: K elements per scale (0: per
    /// channel), and whether `count` zero points (int8) follow the scales.
    uint32_t groupSize = 0;
    bool zeroPoints = false;
  };
  std::vector<QuantInfo> quantParams;
  /// The accelerator format of every projection (globals and the first
  /// layer of each layer group), for the compile report.
  struct WeightFormatInfo {
    std::string name;
    uint32_t bits = 8, groupSize = 0, kept = 16;
    bool zeroPoints = false;
    /// Bytes in the HBM image: codes (and sparse indices) plus scales.
    uint64_t bytes = 0;
    bool perLayer = false;
    /// Per-layer formats: the layer group it stands for.
    uint32_t firstLayer = 0, layers = 0;
  };
  std::vector<WeightFormatInfo> weightFormats;
  /// Runs of consecutive layers with the same weight formats, each one layer
  /// body (`flight.layer_body first_layer = first layers = count`): (first,
  /// count). One for a single-format model.
  std::vector<std::pair<uint32_t, uint32_t>> layerGroups;
  /// fp16 rows of embedRowBytes, one per token (the EmbeddingTable section).
  std::vector<uint8_t> embeddingTable;
  /// One image per HBM channel.
  std::vector<std::vector<uint8_t>> hbm;
  /// With weights in DDR: one image per DDR channel, loaded at byte
  /// `ddrOffset` of the channel (B3 = ddrOffset / 32 + L * stride).
  std::vector<std::vector<uint8_t>> ddr;
  uint64_t ddrOffset = 0;
  /// The option, and one layer's weight-tile bytes in DDR and in all (the
  /// largest layer group's), for the compile report.
  uint32_t ddrWeightPercent = 0;
  uint64_t ddrLayerBytes = 0, layerTileBytes = 0;
  uint64_t quantizedWeightBytes = 0;
  uint64_t kvCacheBytes = 0;
  /// KV-cache code width (8 or 4) and HBM bytes one token adds to the cache
  /// (every layer and kv head: K and V rows, and the 4-bit value scales).
  uint32_t kvBits = 8;
  uint64_t kvBytesPerToken = 0;
  uint32_t numLayers = 0;
  /// On-chip peak rows per buffer over all streams.
  uint64_t peakActBytes = 0, peakWeightBytes = 0, peakMetaBytes = 0;
  /// Time spent in instruction selection (incl. verifying the buffer-level
  /// IR) and in buffer planning (incl. the tokens), over all buckets.
  double selectSeconds = 0, planSeconds = 0;
};

/// Lowers `module` (an llm program). Errors are emitted as diagnostics at the
/// offending op.
mlir::FailureOr<LoweredModel> lowerToFlight(mlir::ModuleOp module,
                                           const target::TargetDescription &target,
                                           const LoweringOptions &options);

/// The compile report: per bucket and totals, and what one stream per exact
/// length would take.
void printReport(const LoweredModel &model, const target::TargetDescription &target,
                 llvm::raw_ostream &os);
void printReportJSON(const LoweredModel &model,
                     const target::TargetDescription &target, llvm::raw_ostream &os);

/// Adds the buckets named like "prefill:128" or "decode:16" to
/// options.onlyBuckets.
llvm::Error parseBucketList(llvm::ArrayRef<std::string> buckets,
                            LoweringOptions &options);

/// One flight.stream per lowered stream at the builder's insertion point,
/// with attributes stage, min_length and max_length.
mlir::LogicalResult buildFlightStreams(const LoweredModel &model,
                                       mlir::OpBuilder &builder,
                                       mlir::Location loc);

/// Writes the .flb (docs/binary-format.md) for the target with
/// `targetFingerprint` to `os` (seekable: the header is patched at the end).
/// A non-empty `tokenizerSection` (binary::encodeTokenizerSection) is stored
/// as the host-only Tokenizer section.
llvm::Error writeBinary(const LoweredModel &model, uint64_t targetFingerprint,
                        llvm::raw_pwrite_stream &os,
                        llvm::ArrayRef<uint8_t> tokenizerSection = {});
/// The .flb's bytes.
llvm::Expected<std::vector<uint8_t>>
binaryImage(const LoweredModel &model, uint64_t targetFingerprint,
            llvm::ArrayRef<uint8_t> tokenizerSection = {});

/// Sets the module attributes that carry what the binary needs besides the
/// streams: flight.target_fingerprint, flight.model, flight.bases,
/// flight.device_map, flight.quant_params, flight.hbm_image,
/// flight.embedding_table and, when not empty, flight.tokenizer
/// (docs/lowering.md, "Pass pipeline").
void attachBinaryData(const LoweredModel &model, uint64_t targetFingerprint,
                      mlir::ModuleOp module,
                      llvm::ArrayRef<uint8_t> tokenizerSection = {});
/// The part instruction selection knows: flight.target_fingerprint and
/// flight.model.
void attachModelData(const LoweredModel &model, uint64_t targetFingerprint,
                     mlir::ModuleOp module);
/// The part the HBM layout decides: flight.bases, flight.device_map,
/// flight.quant_params, flight.hbm_image and flight.embedding_table.
void attachImageData(const LoweredModel &model, mlir::ModuleOp module);
/// Sets flight.tokenizer to `section` unless it is empty.
void attachTokenizer(mlir::ModuleOp module, llvm::ArrayRef<uint8_t> section);
/// The binary's contents from a flight module (streams with tokens and the
/// attributes attachBinaryData sets); errors name the attribute or op.
mlir::FailureOr<LoweredModel>
readFlightModule(mlir::ModuleOp module, uint64_t &targetFingerprint,
                 std::vector<uint8_t> &tokenizerSection);
/// Adds every stream as ROM images `<path without .flb>.<stream>.<ext>` in
/// each of `formats` to `outputs` and writes them (committed with the rest of
/// the command's outputs); words are little-endian 32-bit.
llvm::Error writeStreamRoms(const LoweredModel &model, llvm::StringRef path,
                            llvm::ArrayRef<binary::RomFormat> formats,
                            OutputFiles &outputs);

} // namespace flightllm::lowering

#endif
