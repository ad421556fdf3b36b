//===- Example.cpp - A small deterministic .flb for tests -----------------===//

#include "Example.h"

#include "flightllm/Binary/Writer.h"

#include <vector>

using namespace flightllm::binary;

namespace {

/// Deterministic filler bytes (a 32-bit LCG).
std::vector<uint8_t> fillerBytes(size_t size, uint32_t seed) {
  std::vector<uint8_t> bytes(size);
  for (uint8_t &b : bytes) {
    seed = seed * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(seed >> 24);
  }
  return bytes;
}

/// A stand-in instruction stream: `count` words tagged with the stream id.
std::vector<uint32_t> exampleStream(uint32_t id, uint32_t count) {
  std::vector<uint32_t> words;
  for (uint32_t i = 0; i < count; ++i)
    words.push_back(0xF0000000u | (id << 16) | i);
  return words;
}

} // namespace

llvm::Error flightllm::objdump::writeExampleBinary(llvm::StringRef path) {
  BinaryWriter writer(0x0123456789ABCDEFull);

  ModelMetadata meta;
  meta.name = writer.addString("tiny-llama");
  meta.family = static_cast<uint32_t>(ModelFamily::Llama);
  meta.numLayers = 2;
  meta.hiddenSize = 64;
  meta.numHeads = 4;
  meta.numKVHeads = 2;
  meta.headDim = 16;
  meta.intermediateSize = 176;
  meta.vocabSize = 256;
  meta.maxContext = 64;
  meta.prefillBucketWidth = 128;
  meta.decodeBucketWidth = 16;
  meta.weightPrecision = static_cast<uint16_t>(Precision::I4);
  meta.activationPrecision = static_cast<uint16_t>(Precision::I8);
  meta.kvPrecision = static_cast<uint16_t>(Precision::I8);
  writer.setMetadata(meta);

  // Streams 0 (prefill) and 1-3 (decode), each compiled for one layer and
  // run once per layer; decode contexts 17-48 share stream 2.
  const uint32_t streamWords[] = {6, 4, 5, 3};
  for (uint32_t id = 0; id < 4; ++id)
    writer.takeStream(id, exampleStream(id, streamWords[id]));
  auto bucket = [&](Stage stage, uint32_t lo, uint32_t hi, uint32_t stream) {
    BucketEntry b;
    b.stage = static_cast<uint16_t>(stage);
    b.minLength = lo;
    b.maxLength = hi;
    b.streamId = stream;
    b.repeatCount = meta.numLayers;
    b.weightStride = 0x4000;
    b.kvStride = 0x1000;
    writer.addBucket(b);
  };
  // Added out of order on purpose: the writer sorts the table.
  bucket(Stage::Decode, 49, 64, 3);
  bucket(Stage::Prefill, 1, 64, 0);
  bucket(Stage::Decode, 1, 16, 1);
  bucket(Stage::Decode, 17, 32, 2);
  bucket(Stage::Decode, 33, 48, 2);

  // Channel images whose sizes are not multiples of 4 (ROM padding).
  writer.takeWeightImage(0, fillerBytes(100, 1));
  writer.takeWeightImage(1, fillerBytes(37, 2));

  QuantRecord q;
  q.name = writer.addString("layers.0.attn.q_proj");
  q.precision = static_cast<uint16_t>(Precision::I4);
  q.granularity = static_cast<uint16_t>(QuantGranularity::PerGroup);
  q.groupSize = 64;
  q.scalePrecision = static_cast<uint16_t>(Precision::F16);
  q.hbmChannel = 0;
  q.count = 16;
  q.offset = 64;
  writer.addQuantParam(q);
  q.name = writer.addString("layers.0.attn.k_proj");
  q.granularity = static_cast<uint16_t>(QuantGranularity::PerChannel);
  q.groupSize = 0;
  q.flags = kQuantHasZeroPoints;
  q.hbmChannel = 1;
  q.count = 8;
  q.offset = 0;
  writer.addQuantParam(q);

  return writer.writeFile(path);
}
