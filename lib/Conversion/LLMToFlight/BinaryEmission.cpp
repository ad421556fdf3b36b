//===- BinaryEmission.cpp - The .flb and the ROM images of a lowered model ===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"

#include "flightllm/Binary/Rom.h"
#include "flightllm/Binary/Writer.h"
#include "flightllm/Support/OutputFiles.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace flightllm;
using namespace flightllm::lowering;

/// Whether `words` use the 4-bit KV-cache extension of the ISA (MISC
/// quantize4, quantize_value4 and place, LD row_align), which a reader that
/// predates it must refuse (binary::kFlagKV4Cache).
static bool usesKV4Instructions(llvm::ArrayRef<uint32_t> words) {
  for (size_t at = 0; at < words.size();) {
    isa::Instruction in;
    size_t consumed = 0;
    if (isa::decode(words.data() + at, words.size() - at, in, consumed) !=
        isa::Status::Ok)
      return false;
    at += consumed;
    if (in.opcode == isa::Opcode::LD && in.get(isa::LD::row_align))
      return true;
    if (in.opcode == isa::Opcode::MISC) {
      auto kind = in.getEnum<isa::MiscKind>(isa::MISC::kind);
      if (kind == isa::MiscKind::quantize4 ||
          kind == isa::MiscKind::quantize_value4 ||
          kind == isa::MiscKind::place)
        return true;
    }
  }
  return false;
}

/// Fills `writer` with everything of `model` and the tokenizer section (the
/// words and images are referenced, not copied).
static void fillWriter(const LoweredModel &model, binary::BinaryWriter &writer,
                       llvm::ArrayRef<uint8_t> tokenizerSection) {
  binary::ModelMetadata meta = model.metadata;
  meta.name = writer.addString(model.name);
  writer.setMetadata(meta);
  uint32_t id = 0; // a multi-core bucket's streams have consecutive ids
  for (size_t i = 0; i < model.streams.size(); ++i) {
    const StreamInfo &s = model.streams[i];
    binary::BucketEntry b;
    b.streamId = id;
    b.cores = s.cores() > 1 ? s.cores() : 0;
    writer.addStream(id++, s.words);
    for (const std::vector<uint32_t> &words : s.otherCoreWords)
      writer.addStream(id++, words);
    if (usesKV4Instructions(s.words))
      writer.addFlags(binary::kFlagKV4Cache);
    b.stage = static_cast<uint16_t>(s.stage);
    b.minLength = s.minLength;
    b.maxLength = s.maxLength;
    b.repeatCount = 1; // the streams loop over the layers themselves
    for (unsigned r = 0; r < 3; ++r) {
      b.baseOrigin[r] = model.baseOrigin[r];
      b.baseStride[r] = model.baseStride[r];
    }
    writer.addBucket(b);
  }
  for (size_t c = 0; c < model.hbm.size(); ++c)
    writer.addWeightImage(static_cast<uint32_t>(c), model.hbm[c]);
  // Weight tiles in the board's DDR (format 1.5).
  for (size_t c = 0; c < model.ddr.size(); ++c)
    writer.addDDRWeightImage(static_cast<uint32_t>(c), model.ddrOffset,
                             model.ddr[c]);
  const auto &dm = model.deviceMap;
  binary::DeviceMap map;
  map.embedRowBytes = dm.embedRowBytes;
  map.vocab = dm.vocab;
  map.hiddenSize = dm.hiddenSize;
  map.inputChannel = dm.inputChannel;
  map.inputOffsetUnits = static_cast<uint32_t>(dm.inputOffset / 32);
  map.inputRows = dm.inputRows;
  map.logitsChannel = dm.logitsChannel;
  map.logitsOffsetUnits = static_cast<uint32_t>(dm.logitsOffset / 32);
  map.logitsCount = dm.logitsCount;
  if (dm.stageFlags != 0) {
    // One card's program of a pipeline (format 1.2).
    map.stageFlags = dm.stageFlags;
    map.outputChannel = dm.outputChannel;
    map.outputOffsetUnits = static_cast<uint32_t>(dm.outputOffset / 32);
    writer.addFlags(binary::kFlagPipelineStage);
  }
  if (dm.decodeBatch > 1) {
    // Decode runs serve a batch of sequences (format 1.3).
    map.decodeBatch = dm.decodeBatch;
    writer.addFlags(binary::kFlagBatched);
  }
  writer.setDeviceMap(map);
  for (const LoweredModel::QuantInfo &q : model.quantParams) {
    binary::QuantRecord r;
    r.name = writer.addString(q.name);
    r.precision = static_cast<uint16_t>(q.precision);
    r.granularity = static_cast<uint16_t>(
        q.groupSize ? binary::QuantGranularity::PerGroup
                    : binary::QuantGranularity::PerChannel);
    r.groupSize = q.groupSize;
    r.flags = q.zeroPoints ? binary::kQuantHasZeroPoints : 0;
    r.scalePrecision = static_cast<uint16_t>(q.scalePrecision);
    r.hbmChannel = q.channel;
    r.count = q.count;
    r.offset = q.offset;
    writer.addQuantParam(r);
  }
  writer.addRawSection(static_cast<uint32_t>(binary::SectionKind::EmbeddingTable),
                       0, model.embeddingTable);
  if (!tokenizerSection.empty())
    writer.addRawSection(static_cast<uint32_t>(binary::SectionKind::Tokenizer),
                         0, tokenizerSection);
}

llvm::Error flightllm::lowering::writeBinary(const LoweredModel &model,
                                             uint64_t targetFingerprint,
                                             llvm::raw_pwrite_stream &os,
                                             llvm::ArrayRef<uint8_t> tokenizerSection) {
  binary::BinaryWriter writer(targetFingerprint);
  fillWriter(model, writer, tokenizerSection);
  return writer.writeTo(os);
}

llvm::Expected<std::vector<uint8_t>>
flightllm::lowering::binaryImage(const LoweredModel &model,
                                 uint64_t targetFingerprint,
                                 llvm::ArrayRef<uint8_t> tokenizerSection) {
  binary::BinaryWriter writer(targetFingerprint);
  fillWriter(model, writer, tokenizerSection);
  return writer.writeToBuffer();
}

llvm::Error flightllm::lowering::writeStreamRoms(
    const LoweredModel &model, llvm::StringRef binaryPath,
    llvm::ArrayRef<binary::RomFormat> formats, OutputFiles &outputs) {
  for (binary::RomFormat format : formats) {
    for (const StreamInfo &s : model.streams)
      for (uint32_t core = 0; core < s.cores(); ++core) {
        const std::vector<uint32_t> &words =
            core ? s.otherCoreWords[core - 1] : s.words;
        // Core k > 0 of a multi-core bucket: "<bucket>.core<k>".
        std::string name =
            core ? s.name + ".core" + std::to_string(core) : s.name;
        llvm::SmallString<256> path(binaryPath);
        llvm::sys::path::replace_extension(path, "");
        path += "." + name + "." + binary::romFormatName(format).str();
        binary::RomOptions options;
        options.wordBits = 32;
        options.name = binary::cIdentifier(name);
        llvm::ArrayRef<uint8_t> bytes(
            reinterpret_cast<const uint8_t *>(words.data()), 4 * words.size());
        llvm::Expected<llvm::raw_pwrite_stream &> os =
            outputs.addOutput(path, "--rom image");
        if (!os)
          return os.takeError();
        if (llvm::Error e = binary::writeRom(bytes, format, options, *os))
          return e;
      }
  }
  return llvm::Error::success();
}
