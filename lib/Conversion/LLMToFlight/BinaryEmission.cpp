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

/// Fills `writer` with everything of `model` and the tokenizer section (the
/// words and images are referenced, not copied).
static void fillWriter(const LoweredModel &model, binary::BinaryWriter &writer,
                       llvm::ArrayRef<uint8_t> tokenizerSection) {
  binary::ModelMetadata meta = model.metadata;
  meta.name = writer.addString(model.name);
  writer.setMetadata(meta);
  for (size_t i = 0; i < model.streams.size(); ++i) {
    const StreamInfo &s = model.streams[i];
    writer.addStream(static_cast<uint32_t>(i), s.words);
    binary::BucketEntry b;
    b.stage = static_cast<uint16_t>(s.stage);
    b.minLength = s.minLength;
    b.maxLength = s.maxLength;
    b.streamId = static_cast<uint32_t>(i);
    b.repeatCount = 1; // the streams loop over the layers themselves
    for (unsigned r = 0; r < 3; ++r) {
      b.baseOrigin[r] = model.baseOrigin[r];
      b.baseStride[r] = model.baseStride[r];
    }
    writer.addBucket(b);
  }
  for (size_t c = 0; c < model.hbm.size(); ++c)
    writer.addWeightImage(static_cast<uint32_t>(c), model.hbm[c]);
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
    writer.setFlags(binary::kFlagPipelineStage);
  }
  writer.setDeviceMap(map);
  for (const LoweredModel::QuantInfo &q : model.quantParams) {
    binary::QuantRecord r;
    r.name = writer.addString(q.name);
    r.precision = static_cast<uint16_t>(q.precision);
    r.granularity = static_cast<uint16_t>(binary::QuantGranularity::PerChannel);
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
    for (const StreamInfo &s : model.streams) {
      llvm::SmallString<256> path(binaryPath);
      llvm::sys::path::replace_extension(path, "");
      path += "." + s.name + "." + binary::romFormatName(format).str();
      binary::RomOptions options;
      options.wordBits = 32;
      options.name = binary::cIdentifier(s.name);
      llvm::ArrayRef<uint8_t> bytes(
          reinterpret_cast<const uint8_t *>(s.words.data()), 4 * s.words.size());
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
