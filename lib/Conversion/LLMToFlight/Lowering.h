//===- Lowering.h - State of one model's lowering -------------------------===//

#ifndef FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_LOWERING_H
#define FLIGHTLLM_LIB_CONVERSION_LLMTOFLIGHT_LOWERING_H

#include "Layouts.h"
#include "ModelStructure.h"
#include "ParameterImage.h"
#include "StreamEmitter.h"

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Dialect/Flight/FlightDialect.h"
#include "flightllm/ISA/Numerics.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <optional>

namespace flightllm::lowering {

/// Output channels per weight tile of a linear and its sizes.
struct LinearPlan {
  int64_t kLogical = 0, nLogical = 0;
  Layout in, out;
  int64_t kPhys = 0;     ///< reduction length, a multiple of 16
  uint64_t rowBytes = 0; ///< bytes of one channel's weights
  int64_t nPhys = 0, tileN = 0, tiles = 0;
  bool bias = false, f32Out = false;
  /// The weight format on the accelerator (docs/execution-model.md): code
  /// bits (8 or 4), codes stored per K block of 16 (N of N:16 sparsity),
  /// physical K per scale group (0: per channel), zero points. Grouped
  /// tiles (groupSize > 0 or zero points) carry a group header in meta.
  int64_t bits = 8, kept = 16, groupSize = 0;
  bool zeroPoints = false;
  bool grouped() const { return groupSize > 0 || zeroPoints; }
  int64_t groups() const { return groupSize ? kPhys / groupSize : 1; }
  int64_t tileChannels(int64_t t) const {
    return std::min(tileN, nPhys - t * tileN);
  }
  uint64_t metaBytes(int64_t n) const {
    if (grouped())
      return numerics::groupedMetaBytes(uint32_t(n), uint32_t(groups()),
                                        zeroPoints, bias);
    return roundUp(4 * n, kRowBytes) * (bias ? 2 : 1);
  }
  /// A tile's weights are striped over several HBM channels (consecutive
  /// channel rows per stripe) so that loading one tile draws on many
  /// channels' bandwidth at once; with the tiles in flight this covers all
  /// channels (docs/lowering.md). The HBM layout's choice
  /// (flight-hbm-layout{stripes=}); instruction selection loads whole tiles.
  static constexpr int64_t kDefaultStripes = 8;
  int64_t stripesPerTile = kDefaultStripes;
  int64_t stripeRows(int64_t n) const {
    return (n + stripesPerTile - 1) / stripesPerTile;
  }
  int64_t stripes(int64_t n) const {
    return (n + stripeRows(n) - 1) / stripeRows(n);
  }
  /// The ParamKey tile index of stripe s of tile t.
  static int stripeKey(int64_t t, int64_t s) { return int(t * 64 + s); }
};

/// Where a stream is: which tile of a prefill bucket, its context length.
struct TileContext {
  binary::Stage stage;
  uint32_t tile = 0;       ///< prefill: 128-token tile index
  uint32_t tokens = 1;     ///< rows per tile: mm.tokens in prefill, the
                           ///< batch (sequences, one row each) in decode
  uint32_t context = 0;    ///< key positions attention loads (bucket bound)
  bool last = true;        ///< the tile whose last token gives the logits
};

/// The prompt (prefill) or context (decode) lengths one stream serves.
struct BucketRange {
  binary::Stage stage;
  uint32_t minLength, maxLength;
};
/// "prefill_256", "decode_32": the bucket's symbol and stream name.
std::string bucketName(const BucketRange &range);

class ModelLowering {
public:
  ModelLowering(mlir::ModuleOp module, ModelStructure structure,
                const target::TargetDescription &target,
                const LoweringOptions &options);
  /// The analysis: layouts, weight tiles, the size of every HBM region, the
  /// model's metadata (model()) and the selected buckets (buckets()); no
  /// HBM places yet.
  mlir::LogicalResult prepare();
  /// The HBM layout (flight-hbm-layout), after prepare(): places every
  /// region (weight tiles striped over `stripes` channels, round-robin; the
  /// KV cache and the run-time areas), checks that it fits the target's
  /// channels and fills the image, the embedding table, the QuantParams
  /// records and the base registers of model().
  mlir::LogicalResult layout(unsigned stripes);
  /// Gives every symbolic flight.hbm_region under `root` its place, splits
  /// a weight tile's region and loads into its stripes, and sets the
  /// flight.layer_body strides; after layout(). Errors at the region.
  mlir::LogicalResult placeRegions(mlir::Operation *root);
  /// "layer.linear3" / "final.rms_norm0": the parameters of the op at
  /// `index` of the layer (`prefix` layerPrefix(group)) or the epilogue
  /// ("final."), in region names.
  static std::string paramName(mlir::Operation *op, size_t index,
                               llvm::StringRef prefix);
  /// The region names of a layer group's parameters: "layer." for the first
  /// group (every layer of a single-format model), "layer4." for the group
  /// starting at layer 4. The KV cache, the same in every group, is
  /// "layer.attentionJ.kH" for all.
  std::string layerPrefix(unsigned group) const {
    return group == 0 ? "layer."
                      : "layer" + std::to_string(s.groups[group].first) + ".";
  }
  const std::vector<BucketRange> &buckets() const { return selected; }
  /// flight-select-instructions for one bucket: a flight.bucket at the
  /// builder's insertion point (errors at the llm op).
  mlir::FailureOr<flight::BucketOp> selectBucket(const BucketRange &range,
                                                 mlir::OpBuilder &builder);
  LoweredModel &model() { return result; }

private:
  // Analysis.
  mlir::LogicalResult chooseLayouts();
  mlir::LogicalResult checkOps();
  LinearPlan planLinear(mlir::Operation *op);
  /// Errors for weight formats the accelerator cannot encode.
  mlir::LogicalResult checkWeightFormats();
  /// N of the N:16 format that holds `keep`:`run` sparsity (16: dense).
  static int64_t keptPerBlock(int64_t keep, int64_t run);
  Layout layoutOf(mlir::Value v) const;

  // HBM image.
  mlir::LogicalResult packGlobals(ImagePacker &packer);
  mlir::LogicalResult packLayer(unsigned layer, ImagePacker &packer);
  /// Bytes per channel of the largest layer group's slot, and each group's
  /// region sizes in groupLocs (sizing pass).
  mlir::FailureOr<uint64_t> layerSlotBytes();
  HBMLoc packNorm(mlir::Operation *op, ImagePacker &packer);
  mlir::LogicalResult packLinear(mlir::Operation *op, uintptr_t key,
                                 const std::string &name, ImagePacker &packer,
                                 std::map<ParamKey, HBMLoc> &locs);
  /// Sizes, in prepare(): the input rows and the embedding row.
  void sizeRunTimeAreas();
  void placeRunTimeAreas();
  /// Sequences per decode run, and the bytes between their logits rows
  /// (binary::DeviceMap::logitsRowUnits).
  uint32_t batch() const { return std::max<uint32_t>(options.batch, 1); }
  uint64_t logitsRowBytes() const { return roundUp(4ull * vocab, kUnitBytes); }
  uint64_t logitsAreaBytes() const {
    return (batch() - 1) * logitsRowBytes() + 4ull * vocab;
  }
  /// Where the region `name` is: one piece, or a weight tile's stripes in
  /// order (`within`: the piece's first byte in the region).
  struct RegionPiece {
    std::string name;
    HBMLoc loc;
    uint64_t within = 0;
  };
  llvm::StringMap<std::vector<RegionPiece>> places;
  /// Records a place of the filling pass (globals and layer 0; layer l's
  /// copy is l B1 strides further).
  void recordPlace(const std::string &region, const HBMLoc &loc,
                   const std::string &piece = "", uint64_t within = 0);
  unsigned stripes = LinearPlan::kDefaultStripes;

  // Weights in the board's DDR (flight-hbm-layout{ddr-weights=}).
  /// Whether the next weight tile of `bytes` of the layer being packed goes
  /// to DDR: the tiles are dealt in order so that the DDR share of the
  /// layer's tile bytes so far stays nearest the option's percentage (the
  /// same choice in every layer of a group, interleaved with HBM tiles so
  /// the two memories' loads overlap).
  bool takeForDDR(uint64_t bytes);
  /// The packer of the layer's DDR tiles (null: every tile in HBM).
  ImagePacker *ddrPacker = nullptr;
  bool packingLayerBody = false;
  uint64_t ddrSeen = 0, ddrTaken = 0;
  /// Bytes of one layer's DDR slot (every DDR channel), where the DDR
  /// image starts in each DDR channel.
  uint64_t ddrLayerStride = 0, ddrBase = 0;

  // Streams.
  /// Keeps the buckets options.onlyBuckets selects; an error when a
  /// selection names no bucket, or a runnable binary would lack a stage.
  mlir::LogicalResult selectBuckets(std::vector<BucketRange> &buckets);

  mlir::ModuleOp module;
  ModelStructure s;
  const target::TargetDescription &target;
  LoweringOptions options;
  LoweredModel result;
  std::vector<BucketRange> selected;

  llvm::DenseMap<mlir::Value, Layout> layouts;
  std::map<ParamKey, HBMLoc> globalLocs, layerLocs;
  /// Per layer group, its first layer's places (layer l of the group: l -
  /// first B1 strides further).
  std::vector<std::map<ParamKey, HBMLoc>> groupLocs;
  bool packing = false; ///< the filling pass (else sizing)
  /// The layer being packed (-1: globals); QuantParams records, region
  /// places and the report's formats come from the globals and the first
  /// layer of each group.
  int packingLayer = -1;
  bool packingGroupLeader() const {
    return packingLayer < 0 ||
           s.groups[s.groupOf(unsigned(packingLayer))].first ==
               unsigned(packingLayer);
  }
  void recordQuant(const std::string &name, const HBMLoc &loc, uint64_t within,
                   uint32_t count, binary::Precision scales,
                   binary::Precision precision = binary::Precision::I8,
                   uint32_t groupSize = 0, bool zeroPoints = false);

  // Model facts.
  int64_t hidden = 0, vocab = 0, numHeads = 0, numKVHeads = 0, headDim = 0;
  int64_t intermediate = 0;
  uint32_t maxContext = 0, kvRows = 0;
  /// KV-cache code width of every attention (8 or 4; 0 before checkOps).
  int64_t kvBits = 0;
  /// HBM bytes of one token's K (or V) row of one kv head: INT8 codes in
  /// whole on-chip rows, or 4-bit codes in whole HBM units.
  uint64_t kvRowBytes() const {
    return kvBits == 4 ? numerics::kv4RowBytes(uint32_t(headDim))
                       : roundUp(uint64_t(headDim), kRowBytes);
  }
  /// HBM bytes of one kv head's fp16 value scales (4-bit cache).
  uint64_t kvScaleBytes() const { return roundUp(2ull * kvRows, kUnitBytes); }
  mlir::Operation *tokenEmbedding = nullptr, *positionEmbedding = nullptr;
  int64_t positionOffset = 0;
  mlir::Operation *ropeCos = nullptr, *ropeSin = nullptr; // llm.weight ops
  float softmaxScale = 1;

  // HBM addresses (bytes).
  uint64_t globalBytes = 0, layerStride = 0, kvOrigin = 0, kvStride = 0;
  uint64_t kvSlotStride = 0; ///< bytes of one KV-cache slot (all layers)
  std::vector<uint64_t> kvOffset; ///< per kv head: K at 2g, V at 2g + 1
  std::vector<uint32_t> kvChannel;
  std::vector<uint64_t> vsOffset; ///< per kv head: its value scales (4-bit)
  uint64_t scratchOffset = 0, runTimeEnd = 0;
  uint32_t scratchChannel = 0;
  HBMLoc positionTable, ropeTable, constants;
  uint64_t ropeRowBytes = 0;

  friend class InstructionSelection;
};

} // namespace flightllm::lowering

#endif
