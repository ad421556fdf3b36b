//===- Example.cpp - A small deterministic .flb for tests -----------------===//

#include "Example.h"

#include "flightllm/Binary/Writer.h"
#include "flightllm/ISA/Disassembler.h"
#include "flightllm/Target/TargetDescription.h"

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

/// One decoder layer's worth of a stream, enough to exercise the
/// disassembler: load an activation row and a weight tile (relative to base
/// register B1), a matrix op (MM for prefill, MV for decode) of K = n = `k`
/// writing fp16 rows to act row 4, a masked softmax over one of those rows at
/// the current position (scale in meta), the result stored into the KV cache
/// (B2 + P rows), end. `k` varies per stream so that the streams differ.
llvm::Error exampleStream(bool prefill, unsigned k,
                          llvm::SmallVectorImpl<uint32_t> &words) {
  namespace isa = flightllm::isa;
  using isa::Queue;
  isa::Instruction loadAct(isa::Opcode::LD);
  loadAct.set(isa::LD::buf, isa::Buffer::act)
      .set(isa::LD::length, 2)
      .set(isa::LD::loop1, 1)
      .set(isa::LD::loop2, 1)
      .set(isa::LD::loop3, 1);
  isa::Instruction loadWeights(isa::Opcode::LD);
  loadWeights.set(isa::LD::buf, isa::Buffer::weight)
      .set(isa::LD::base, isa::BaseReg::B1)
      .set(isa::LD::length, 1)
      .set(isa::LD::loop1, 1)
      .set(isa::LD::loop2, 1)
      .set(isa::LD::loop3, 1)
      .releaseTo(Queue::matrix);
  isa::Instruction matrix(prefill ? isa::Opcode::MM : isa::Opcode::MV);
  matrix.set(prefill ? isa::MM::k_blocks : isa::MV::k_blocks, k / 16)
      .set(prefill ? isa::MM::out_addr : isa::MV::out_addr, 4)
      .set(prefill ? isa::MM::n : isa::MV::n, k)
      .set(prefill ? isa::MM::out_stride : isa::MV::out_stride, 1)
      .set(prefill ? isa::MM::out_format : isa::MV::out_format,
           isa::OutFormat::f16)
      .set(prefill ? isa::MM::wbits : isa::MV::wbits, isa::WeightBits::int4)
      .waitOn(Queue::load)
      .releaseTo(Queue::misc);
  isa::Instruction softmax(isa::Opcode::MISC);
  softmax.set(isa::MISC::kind, isa::MiscKind::softmax)
      .set(isa::MISC::masked, 1)
      .set(isa::MISC::pos_param, isa::ParamReg::P)
      .set(isa::MISC::b_space, isa::BSpace::meta)
      .set(isa::MISC::a_addr, 4)
      .set(isa::MISC::out_addr, 4)
      .set(isa::MISC::k, k)
      .set(isa::MISC::rows, 1)
      .waitOn(Queue::matrix)
      .releaseTo(Queue::store);
  isa::Instruction store(isa::Opcode::ST);
  store.set(isa::ST::buf, isa::Buffer::act)
      .set(isa::ST::channel, 1)
      .set(isa::ST::base, isa::BaseReg::B2)
      .set(isa::ST::param, isa::ParamReg::P)
      .set(isa::ST::scale, 2)
      .set(isa::ST::length, 2)
      .waitOn(Queue::misc);
  isa::Instruction end(isa::Opcode::SYS);
  end.set(isa::SYS::kind, isa::SysKind::end);
  for (const isa::Instruction &inst :
       {loadAct, loadWeights, matrix, softmax, store, end})
    if (llvm::Error e = isa::encodeInstruction(inst, words))
      return e;
  return llvm::Error::success();
}

} // namespace

llvm::Error flightllm::objdump::writeExampleBinary(llvm::StringRef path) {
  // Compiled for the U280 preset.
  llvm::Expected<target::TargetDescription> u280 = target::loadTarget("u280");
  if (!u280)
    return u280.takeError();
  BinaryWriter writer(u280->fingerprint());

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
  // started once per layer; decode contexts 17-48 share stream 2.
  for (uint32_t id = 0; id < 4; ++id) {
    llvm::SmallVector<uint32_t> words;
    if (llvm::Error e = exampleStream(id == 0, 16 * (id + 1), words))
      return e;
    writer.takeStream(id, std::vector<uint32_t>(words.begin(), words.end()));
  }
  auto bucket = [&](Stage stage, uint32_t lo, uint32_t hi, uint32_t stream) {
    BucketEntry b;
    b.stage = static_cast<uint16_t>(stage);
    b.minLength = lo;
    b.maxLength = hi;
    b.streamId = stream;
    b.repeatCount = meta.numLayers;
    // In 32-byte units: B1 = this layer's 32 bytes of weights in channel 0
    // (the scales follow at byte 64), B2 = this layer's KV cache, 256 bytes
    // per layer from byte 512 of channel 1.
    b.baseOrigin[0] = 0;
    b.baseStride[0] = 1;
    b.baseOrigin[1] = 0x10;
    b.baseStride[1] = 0x8;
    writer.addBucket(b);
  };
  // Added out of order on purpose: the writer sorts the table.
  bucket(Stage::Decode, 49, 64, 3);
  bucket(Stage::Prefill, 1, 64, 0);
  bucket(Stage::Decode, 1, 16, 1);
  bucket(Stage::Decode, 17, 32, 2);
  bucket(Stage::Decode, 33, 48, 2);

  // The fp16 embedding table (256 rows of 128 bytes) at byte 0x1000 of
  // channel 0, 64 input rows at byte 0 of channel 1 and the fp32 logits at
  // byte 0x2000 of channel 1 (offsets in 32-byte units).
  DeviceMap map;
  map.embedChannel = 0;
  map.embedOffsetUnits = 0x1000 / 32;
  map.embedRowBytes = 128;
  map.vocab = meta.vocabSize;
  map.hiddenSize = meta.hiddenSize;
  map.inputChannel = 1;
  map.inputOffsetUnits = 0;
  map.inputRows = 64;
  map.logitsChannel = 1;
  map.logitsOffsetUnits = 0x2000 / 32;
  map.logitsCount = meta.vocabSize;
  writer.setDeviceMap(map);

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
