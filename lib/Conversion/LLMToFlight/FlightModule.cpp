//===- FlightModule.cpp - A lowered model as a flight module, and back ----===//
//
// Besides its streams, a binary needs data that is not an instruction: the
// model's metadata, the base registers of the buckets, the device map, the
// QuantParams records, the HBM image of every channel, the embedding table
// and the host-only tokenizer section. They travel as module attributes (docs/lowering.md, "Pass
// pipeline"), the images as dense_resource blobs, so that a printed flight
// module is the whole program and `flightllm-translate --flight-to-flb`
// writes the same binary as `flightllm-compile --emit=bin`.
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/Transforms/AccessAttributes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <variant>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::lowering;

namespace {
constexpr llvm::StringLiteral kFingerprint = "flight.target_fingerprint";
constexpr llvm::StringLiteral kModel = "flight.model";
constexpr llvm::StringLiteral kBases = "flight.bases";
constexpr llvm::StringLiteral kDeviceMap = "flight.device_map";
constexpr llvm::StringLiteral kQuantParams = "flight.quant_params";
constexpr llvm::StringLiteral kHbmImage = "flight.hbm_image";
constexpr llvm::StringLiteral kDdrImage = "flight.ddr_image";
constexpr llvm::StringLiteral kEmbeddingTable = "flight.embedding_table";
constexpr llvm::StringLiteral kTokenizer = "flight.tokenizer";

/// An unsigned integer field of a record, by name.
template <typename S> struct IntField {
  const char *name;
  std::variant<uint16_t S::*, uint32_t S::*, uint64_t S::*,
               binary::Precision S::*>
      member;
  uint64_t get(const S &s) const {
    return std::visit([&](auto m) { return uint64_t(s.*m); }, member);
  }
  uint64_t max() const {
    return std::visit(
        [](auto m) -> uint64_t {
          using T = std::remove_reference_t<decltype(std::declval<S>().*m)>;
          if constexpr (std::is_enum_v<T>)
            return UINT16_MAX;
          else
            return std::numeric_limits<T>::max();
        },
        member);
  }
  void set(S &s, uint64_t v) const {
    std::visit(
        [&](auto m) {
          using T = std::remove_reference_t<decltype(s.*m)>;
          s.*m = static_cast<T>(v);
        },
        member);
  }
};

using binary::ModelMetadata;
using DeviceMapInfo = LoweredModel::DeviceMapInfo;
using QuantInfo = LoweredModel::QuantInfo;

const IntField<ModelMetadata> kModelFields[] = {
    {"family", &ModelMetadata::family},
    {"num_layers", &ModelMetadata::numLayers},
    {"hidden_size", &ModelMetadata::hiddenSize},
    {"num_heads", &ModelMetadata::numHeads},
    {"num_kv_heads", &ModelMetadata::numKVHeads},
    {"head_dim", &ModelMetadata::headDim},
    {"intermediate_size", &ModelMetadata::intermediateSize},
    {"vocab_size", &ModelMetadata::vocabSize},
    {"max_context", &ModelMetadata::maxContext},
    {"prefill_bucket_width", &ModelMetadata::prefillBucketWidth},
    {"decode_bucket_width", &ModelMetadata::decodeBucketWidth},
    {"weight_precision", &ModelMetadata::weightPrecision},
    {"activation_precision", &ModelMetadata::activationPrecision},
    {"kv_precision", &ModelMetadata::kvPrecision},
};
const IntField<DeviceMapInfo> kDeviceMapFields[] = {
    {"embed_row_bytes", &DeviceMapInfo::embedRowBytes},
    {"vocab", &DeviceMapInfo::vocab},
    {"hidden_size", &DeviceMapInfo::hiddenSize},
    {"input_channel", &DeviceMapInfo::inputChannel},
    {"input_offset", &DeviceMapInfo::inputOffset},
    {"input_rows", &DeviceMapInfo::inputRows},
    {"logits_channel", &DeviceMapInfo::logitsChannel},
    {"logits_offset", &DeviceMapInfo::logitsOffset},
    {"logits_count", &DeviceMapInfo::logitsCount},
};
/// Written only when not zero (KV-cache slots, pipeline stages), so other
/// modules print as before; absent reads as zero.
const IntField<ModelMetadata> kOptionalModelFields[] = {
    {"kv_slots", &ModelMetadata::kvSlots},
    {"kv_slot_stride_units", &ModelMetadata::kvSlotStrideUnits},
};
const IntField<DeviceMapInfo> kOptionalDeviceMapFields[] = {
    {"stage_flags", &DeviceMapInfo::stageFlags},
    {"output_channel", &DeviceMapInfo::outputChannel},
    {"output_offset", &DeviceMapInfo::outputOffset},
    {"decode_batch", &DeviceMapInfo::decodeBatch},
};
const IntField<QuantInfo> kQuantFields[] = {
    {"channel", &QuantInfo::channel},
    {"offset", &QuantInfo::offset},
    {"count", &QuantInfo::count},
    {"precision", &QuantInfo::precision},
    {"scale_precision", &QuantInfo::scalePrecision},
};

template <typename S, size_t N>
DictionaryAttr recordAttr(Builder &b, const S &s, const IntField<S> (&fields)[N],
                          SmallVector<NamedAttribute> extra = {}) {
  for (const IntField<S> &f : fields)
    extra.push_back(b.getNamedAttr(f.name, b.getI64IntegerAttr(int64_t(f.get(s)))));
  return b.getDictionaryAttr(extra);
}

/// `fields` of `s` that are not zero, as named attributes.
template <typename S, size_t N>
SmallVector<NamedAttribute> nonZeroFields(Builder &b, const S &s,
                                          const IntField<S> (&fields)[N]) {
  SmallVector<NamedAttribute> out;
  for (const IntField<S> &f : fields)
    if (f.get(s) != 0)
      out.push_back(b.getNamedAttr(f.name, b.getI64IntegerAttr(int64_t(f.get(s)))));
  return out;
}

/// Reads `fields` of `dict` into `s`; errors name `where` and the field.
template <typename S, size_t N>
LogicalResult readRecord(Operation *at, const Twine &where, DictionaryAttr dict,
                         const IntField<S> (&fields)[N], S &s) {
  for (const IntField<S> &f : fields) {
    auto value = dyn_cast_or_null<IntegerAttr>(dict.get(f.name));
    if (!value)
      return at->emitError() << where << ": missing integer field '" << f.name
                             << "'";
    if (value.getValue().isNegative() ||
        value.getValue().getActiveBits() > 64 ||
        value.getValue().getZExtValue() > f.max())
      return at->emitError() << where << "." << f.name << " = " << value
                             << " is out of range (0.." << f.max() << ")";
    f.set(s, value.getValue().getZExtValue());
  }
  return success();
}

/// The `fields` present in `dict`, as readRecord; absent ones stay zero.
template <typename S, size_t N>
LogicalResult readOptional(Operation *at, const Twine &where,
                           DictionaryAttr dict, const IntField<S> (&fields)[N],
                           S &s) {
  for (const IntField<S> &f : fields) {
    if (!dict.get(f.name))
      continue;
    const IntField<S> one[] = {f};
    if (failed(readRecord(at, where, dict, one, s)))
      return failure();
  }
  return success();
}

Attribute bytesAttr(Builder &b, StringRef key, llvm::ArrayRef<uint8_t> bytes) {
  auto type = RankedTensorType::get({int64_t(bytes.size())}, b.getI8Type());
  // An empty table (a pipeline card without the prologue has no embedding)
  // has no data pointer, and the blob's memcpy must not be given null
  // (UBSan in the sanitized suite, print-pipeline.test).
  static const char kNone = 0;
  const char *data =
      bytes.empty() ? &kNone : reinterpret_cast<const char *>(bytes.data());
  return DenseResourceElementsAttr::get(
      type, key,
      HeapAsmResourceBlob::allocateAndCopyWithAlign(
          llvm::ArrayRef<char>(data, bytes.size()), alignof(uint64_t)));
}

FailureOr<std::vector<uint8_t>> readBytes(Operation *at, const Twine &where,
                                          Attribute attr) {
  auto res = dyn_cast_or_null<DenseResourceElementsAttr>(attr);
  if (!res || !res.getType().getElementType().isInteger(8) ||
      res.getType().getRank() != 1)
    return at->emitError() << where
                           << ": expected a dense_resource of tensor<Nxi8>";
  AsmResourceBlob *blob = res.getRawHandle().getBlob();
  if (!blob)
    return at->emitError() << where
                           << ": the resource's data is missing (elided?)";
  ArrayRef<char> data = blob->getData();
  return std::vector<uint8_t>(data.begin(), data.end());
}
} // namespace

void flightllm::lowering::attachBinaryData(
    const LoweredModel &model, uint64_t targetFingerprint, ModuleOp module,
    llvm::ArrayRef<uint8_t> tokenizerSection) {
  attachModelData(model, targetFingerprint, module);
  attachImageData(model, module);
  attachTokenizer(module, tokenizerSection);
}

void flightllm::lowering::attachModelData(const LoweredModel &model,
                                          uint64_t targetFingerprint,
                                          ModuleOp module) {
  Builder b(module.getContext());
  module->setAttr(kFingerprint, b.getI64IntegerAttr(int64_t(targetFingerprint)));
  SmallVector<NamedAttribute> modelExtra =
      nonZeroFields(b, model.metadata, kOptionalModelFields);
  modelExtra.push_back(b.getNamedAttr("name", b.getStringAttr(model.name)));
  module->setAttr(kModel, recordAttr(b, model.metadata, kModelFields, modelExtra));
}

void flightllm::lowering::attachImageData(const LoweredModel &model,
                                          ModuleOp module) {
  Builder b(module.getContext());
  auto regs = [&](const uint32_t (&r)[3]) {
    return b.getDenseI64ArrayAttr({r[0], r[1], r[2]});
  };
  module->setAttr(kBases, b.getDictionaryAttr(
                              {b.getNamedAttr("origin", regs(model.baseOrigin)),
                               b.getNamedAttr("stride", regs(model.baseStride))}));
  module->setAttr(kDeviceMap,
                  recordAttr(b, model.deviceMap, kDeviceMapFields,
                             nonZeroFields(b, model.deviceMap,
                                           kOptionalDeviceMapFields)));
  SmallVector<Attribute> quant;
  for (const QuantInfo &q : model.quantParams)
  {
    // Group-wise formats only: per-channel records stay as they were.
    SmallVector<NamedAttribute> extra = {
        b.getNamedAttr("name", b.getStringAttr(q.name))};
    if (q.groupSize)
      extra.push_back(b.getNamedAttr("group_size", b.getI64IntegerAttr(q.groupSize)));
    if (q.zeroPoints)
      extra.push_back(b.getNamedAttr("zero_points", b.getUnitAttr()));
    quant.push_back(recordAttr(b, q, kQuantFields, extra));
  }
  module->setAttr(kQuantParams, b.getArrayAttr(quant));
  SmallVector<Attribute> images;
  for (size_t c = 0; c < model.hbm.size(); ++c)
    images.push_back(bytesAttr(b, "flight_hbm_" + std::to_string(c), model.hbm[c]));
  module->setAttr(kHbmImage, b.getArrayAttr(images));
  // Only with weights in DDR, so other modules print as before.
  if (!model.ddr.empty()) {
    SmallVector<Attribute> ddrImages;
    for (size_t c = 0; c < model.ddr.size(); ++c)
      ddrImages.push_back(
          bytesAttr(b, "flight_ddr_" + std::to_string(c), model.ddr[c]));
    module->setAttr(
        kDdrImage,
        b.getDictionaryAttr(
            {b.getNamedAttr("offset",
                            b.getI64IntegerAttr(int64_t(model.ddrOffset))),
             b.getNamedAttr("channels", b.getArrayAttr(ddrImages))}));
  }
  module->setAttr(kEmbeddingTable,
                  bytesAttr(b, "flight_embedding_table", model.embeddingTable));
}

void flightllm::lowering::attachTokenizer(ModuleOp module,
                                          llvm::ArrayRef<uint8_t> section) {
  Builder b(module.getContext());
  if (!section.empty())
    module->setAttr(kTokenizer, bytesAttr(b, "flight_tokenizer", section));
}

FailureOr<LoweredModel> flightllm::lowering::readFlightModule(
    ModuleOp module, uint64_t &targetFingerprint,
    std::vector<uint8_t> &tokenizerSection) {
  LoweredModel model;
  Operation *op = module.getOperation();
  auto dict = [&](StringRef name) -> FailureOr<DictionaryAttr> {
    auto d = dyn_cast_or_null<DictionaryAttr>(op->getAttr(name));
    if (!d)
      return op->emitError() << "module attribute '" << name
                             << "' (a dictionary) is missing; the binary needs "
                                "it (flightllm-compile --emit=flight writes it)";
    return d;
  };
  auto fingerprint = dyn_cast_or_null<IntegerAttr>(op->getAttr(kFingerprint));
  if (!fingerprint)
    return op->emitError() << "module attribute '" << kFingerprint
                           << "' (an integer) is missing";
  targetFingerprint = fingerprint.getValue().getZExtValue();

  FailureOr<DictionaryAttr> meta = dict(kModel);
  if (failed(meta) ||
      failed(readRecord(op, kModel, *meta, kModelFields, model.metadata)) ||
      failed(readOptional(op, kModel, *meta, kOptionalModelFields,
                          model.metadata)))
    return failure();
  auto name = dyn_cast_or_null<StringAttr>(meta->get("name"));
  if (!name)
    return op->emitError() << kModel << ": missing string field 'name'";
  model.name = name.str();

  FailureOr<DictionaryAttr> bases = dict(kBases);
  if (failed(bases))
    return failure();
  for (auto [field, out] : {std::make_pair("origin", model.baseOrigin),
                            std::make_pair("stride", model.baseStride)}) {
    auto values = dyn_cast_or_null<DenseI64ArrayAttr>(bases->get(field));
    if (!values || values.size() != 3 ||
        llvm::any_of(values.asArrayRef(),
                     [](int64_t v) { return v < 0 || v > UINT32_MAX; }))
      return op->emitError() << kBases << "." << field
                             << ": expected array<i64: B1, B2, B3> of 32-bit "
                                "unsigned values";
    for (unsigned r = 0; r < 3; ++r)
      out[r] = static_cast<uint32_t>(values[r]);
  }

  FailureOr<DictionaryAttr> dm = dict(kDeviceMap);
  if (failed(dm) ||
      failed(readRecord(op, kDeviceMap, *dm, kDeviceMapFields, model.deviceMap)))
    return failure();
  if (failed(readOptional(op, kDeviceMap, *dm, kOptionalDeviceMapFields,
                          model.deviceMap)))
    return failure();

  auto quant = dyn_cast_or_null<ArrayAttr>(op->getAttr(kQuantParams));
  if (!quant)
    return op->emitError() << "module attribute '" << kQuantParams
                           << "' (an array of dictionaries) is missing";
  for (auto [i, element] : llvm::enumerate(quant)) {
    std::string where = (kQuantParams + "[" + Twine(i) + "]").str();
    auto record = dyn_cast<DictionaryAttr>(element);
    if (!record)
      return op->emitError() << where << ": expected a dictionary";
    QuantInfo q;
    if (failed(readRecord(op, where, record, kQuantFields, q)))
      return failure();
    auto qname = dyn_cast_or_null<StringAttr>(record.get("name"));
    if (!qname)
      return op->emitError() << where << ": missing string field 'name'";
    q.name = qname.str();
    if (auto g = dyn_cast_or_null<IntegerAttr>(record.get("group_size"))) {
      if (g.getValue().isNegative() || g.getValue().getActiveBits() > 32)
        return op->emitError() << where << ".group_size = " << g
                               << " is out of range";
      q.groupSize = static_cast<uint32_t>(g.getValue().getZExtValue());
    }
    q.zeroPoints = bool(record.get("zero_points"));
    model.quantParams.push_back(std::move(q));
  }

  auto images = dyn_cast_or_null<ArrayAttr>(op->getAttr(kHbmImage));
  if (!images)
    return op->emitError() << "module attribute '" << kHbmImage
                           << "' (one dense_resource per HBM channel) is missing";
  for (auto [c, image] : llvm::enumerate(images)) {
    auto bytes = readBytes(op, kHbmImage + ("[" + Twine(c) + "]"), image);
    if (failed(bytes))
      return failure();
    model.hbm.push_back(std::move(*bytes));
  }
  if (Attribute ddrAttr = op->getAttr(kDdrImage)) {
    auto ddr = dyn_cast<DictionaryAttr>(ddrAttr);
    auto offset = ddr ? ddr.getAs<IntegerAttr>("offset") : IntegerAttr();
    auto channels = ddr ? ddr.getAs<ArrayAttr>("channels") : ArrayAttr();
    if (!offset || !channels || offset.getValue().isNegative() ||
        offset.getValue().getActiveBits() > 64 ||
        offset.getValue().getZExtValue() % 32 != 0)
      return op->emitError()
             << kDdrImage
             << ": expected {offset = N (a multiple of 32), channels = [one "
                "dense_resource per DDR channel]}";
    model.ddrOffset = offset.getValue().getZExtValue();
    for (auto [c, image] : llvm::enumerate(channels)) {
      auto bytes = readBytes(op, kDdrImage + (".channels[" + Twine(c) + "]"),
                             image);
      if (failed(bytes))
        return failure();
      model.ddr.push_back(std::move(*bytes));
    }
  }
  auto table = readBytes(op, kEmbeddingTable, op->getAttr(kEmbeddingTable));
  if (failed(table))
    return failure();
  model.embeddingTable = std::move(*table);
  tokenizerSection.clear();
  if (Attribute tokenizer = op->getAttr(kTokenizer)) {
    auto bytes = readBytes(op, kTokenizer, tokenizer);
    if (failed(bytes))
      return failure();
    tokenizerSection = std::move(*bytes);
  }

  for (auto stream : module.getBody()->getOps<flight::StreamOp>()) {
    StreamInfo info;
    info.name = stream.getSymName().str();
    auto stage = dyn_cast_or_null<StringAttr>(stream->getAttr("stage"));
    auto minLen = dyn_cast_or_null<IntegerAttr>(stream->getAttr("min_length"));
    auto maxLen = dyn_cast_or_null<IntegerAttr>(stream->getAttr("max_length"));
    if (!stage || (stage.getValue() != "prefill" && stage.getValue() != "decode"))
      return stream.emitError()
             << "a stream of the binary needs stage = \"prefill\" or \"decode\"";
    if (!minLen || !maxLen || minLen.getInt() < 1 ||
        maxLen.getInt() < minLen.getInt() || maxLen.getInt() > UINT32_MAX)
      return stream.emitError() << "a stream of the binary needs min_length "
                                   "and max_length, 1 <= min <= max < 2^32";
    info.stage = stage.getValue() == "prefill" ? binary::Stage::Prefill
                                               : binary::Stage::Decode;
    info.minLength = static_cast<uint32_t>(minLen.getInt());
    info.maxLength = static_cast<uint32_t>(maxLen.getInt());
    // Core k > 0 of a multi-core bucket follows cores 0 .. k-1 of it.
    auto core = dyn_cast_or_null<IntegerAttr>(stream->getAttr("core"));
    if (core && core.getInt() != 0) {
      StreamInfo *first = model.streams.empty() ? nullptr : &model.streams.back();
      if (!first || int64_t(first->cores()) != core.getInt() ||
          first->stage != info.stage || first->minLength != info.minLength ||
          first->maxLength != info.maxLength)
        return stream.emitError()
               << "core " << core.getInt()
               << " of a multi-core bucket must follow its cores 0 to "
               << core.getInt() - 1 << " (same stage and lengths)";
    }
    for (Operation &inst : stream.getBody().front())
      if (flight::hasAccessAttributes(&inst))
        return inst.emitError()
               << "the instruction still has access annotations: the stream "
                  "has no dependency tokens yet (run flight-insert-tokens)";
    FailureOr<std::vector<uint32_t>> words = flight::encodeStream(stream);
    if (failed(words))
      return failure();
    if (core && core.getInt() != 0) {
      model.streams.back().otherCoreWords.push_back(std::move(*words));
      continue;
    }
    info.words = std::move(*words);
    model.streams.push_back(std::move(info));
  }
  if (model.streams.empty())
    return op->emitError() << "the module has no flight.stream";
  return model;
}

/// A link of flight.system: {raw_gbps, efficiency, latency_us}.
static FailureOr<system::LinkDescription> readLink(Operation *at,
                                                   DictionaryAttr systemAttr,
                                                   StringRef name) {
  auto dict = systemAttr.getAs<DictionaryAttr>(name);
  system::LinkDescription link;
  for (auto [field, out] :
       {std::make_pair("raw_gbps", &link.rawGBps),
        std::make_pair("efficiency", &link.efficiency),
        std::make_pair("latency_us", &link.latencyUs)}) {
    auto value = dict ? dict.getAs<FloatAttr>(field) : FloatAttr();
    if (!value)
      return at->emitError() << kSystemAttrName << "." << name
                             << ": missing number '" << field << "'";
    *out = value.getValueAsDouble();
  }
  if (link.rawGBps <= 0 || link.efficiency <= 0 || link.efficiency > 1)
    return at->emitError() << kSystemAttrName << "." << name
                           << ": expected raw_gbps > 0 and efficiency in (0, 1]";
  return link;
}

FailureOr<std::vector<uint8_t>>
flightllm::lowering::readSystemModule(ModuleOp module) {
  Operation *op = module.getOperation();
  auto sys = dyn_cast_or_null<DictionaryAttr>(op->getAttr(kSystemAttrName));
  if (!sys)
    return op->emitError() << "module attribute '" << kSystemAttrName
                           << "' (a dictionary) is missing";
  auto fingerprint = sys.getAs<IntegerAttr>("target_fingerprint");
  auto layers = sys.getAs<IntegerAttr>("num_layers");
  if (!fingerprint || !layers || layers.getInt() < 1 ||
      layers.getInt() > UINT32_MAX)
    return op->emitError() << kSystemAttrName
                           << ": needs integers target_fingerprint and "
                              "num_layers >= 1";
  FailureOr<system::LinkDescription> cardLink = readLink(op, sys, "card_link");
  FailureOr<system::LinkDescription> hostLink = readLink(op, sys, "host_link");
  if (failed(cardLink) || failed(hostLink))
    return failure();
  uint64_t systemFingerprint = fingerprint.getValue().getZExtValue();
  std::vector<system::PipelineStagePlan> plan;
  std::vector<std::vector<uint8_t>> cards;
  uint32_t rowBytes = 0;
  for (ModuleOp card : module.getBody()->getOps<ModuleOp>()) {
    FailureOr<PipelineStageRange> stage = moduleStage(card);
    if (failed(stage))
      return failure();
    if (stage->wholeModel())
      return card.emitError() << "a card's module needs a '" << kStageAttrName
                              << "' attribute (flight-partition-stages)";
    uint64_t cardFingerprint = 0;
    std::vector<uint8_t> cardTokenizer;
    FailureOr<LoweredModel> model =
        readFlightModule(card, cardFingerprint, cardTokenizer);
    if (failed(model))
      return failure();
    if (cardFingerprint != systemFingerprint)
      return card.emitError() << "the card was lowered for another target than "
                                 "the system's";
    llvm::Expected<std::vector<uint8_t>> image =
        binaryImage(*model, cardFingerprint);
    if (!image)
      return card.emitError() << llvm::toString(image.takeError());
    rowBytes = model->deviceMap.embedRowBytes;
    system::PipelineStagePlan s;
    s.firstLayer = stage->firstLayer;
    s.layerCount = stage->layerCount;
    s.prologue = stage->prologue;
    s.epilogue = stage->epilogue;
    plan.push_back(s);
    cards.push_back(std::move(*image));
  }
  if (cards.empty())
    return op->emitError() << "the system module has no card modules";
  std::vector<uint8_t> tokenizer;
  if (Attribute attr = op->getAttr(kTokenizer)) {
    auto bytes = readBytes(op, kTokenizer, attr);
    if (failed(bytes))
      return failure();
    tokenizer = std::move(*bytes);
  }
  llvm::Expected<std::vector<uint8_t>> file = system::systemBinary(
      systemFingerprint, *cardLink, *hostLink,
      static_cast<unsigned>(layers.getInt()), rowBytes, plan, cards, tokenizer);
  if (!file)
    return op->emitError() << llvm::toString(file.takeError());
  return std::move(*file);
}
