//===- SimulatorRuntimeTest.cpp - Runtime + simulator + flightllm-run -----===//
//
// A hand-assembled "bigram" model (.flb): the last new token's fp16
// embedding is quantized (MISC quantize_dynamic), multiplied by an INT8
// [vocab x hidden] matrix (MV, f32 out) and stored as the logits. The
// embedded runtime drives the simulator's HAL; the logits are checked bit
// for bit against Numerics.h, and `flightllm-run MODEL.flb` (engine sim) is
// checked to generate the same greedy tokens. The layouts follow
// docs/execution-model.md: 128-byte on-chip rows, the B operand's channels
// each on a whole number of rows, the token table in the EmbeddingTable
// section (as flightllm-compile writes it) or, the runtime's other path, in
// HBM.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Binary/Writer.h"
#include "flightllm/ISA/Numerics.h"
#include "flightllm/Simulator/Simulator.h"
#include "flightllm/runtime/runtime.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

using namespace flightllm;
using namespace flightllm::isa;
namespace nm = flightllm::numerics;

namespace {

constexpr uint32_t V = 256, D = 64;
static_assert(kOnChipRowBytes == 128 && nm::kRowBytes == kOnChipRowBytes,
              "the layouts below assume 128-byte on-chip rows");
/// An embedding row: fp16 [D] rounded up to the on-chip row.
constexpr uint32_t kRow = nm::roundUpRow(2 * D);
/// Channel c of the [V][D] int8 weights (b_kmajor = 0) starts at c * this.
constexpr uint32_t kWeightRow = nm::roundUpRow(D);
constexpr uint32_t kWeightCh = 1, kInputCh = 2, kLogitsCh = 3;
constexpr uint32_t kInputOffset = kRow; // row i at kRow * (i + 1)
constexpr uint32_t kScaleOffset = V * kWeightRow;
/// The act rows of the stream: input row, qvec, logits.
constexpr uint32_t kQvecRow = 4, kLogitsRow = kQvecRow + nm::qvecRows(D) + 2;
static_assert(kRow / kOnChipRowBytes <= kQvecRow, "input overlaps the qvec");

struct Model {
  std::vector<uint16_t> embed;  // [V][D]
  std::vector<int8_t> weights;  // [V][D]
  std::vector<float> scales;    // [V]
  std::vector<uint8_t> table;   // the EmbeddingTable section's bytes
  std::vector<uint8_t> flb;

  /// The logits after `token`, per the execution model.
  std::vector<float> logits(int32_t token) const {
    std::vector<int8_t> q(D);
    float s = nm::miscQuantizeDynamic(&embed[size_t(token) * D], q.data(), D);
    std::vector<float> out(V);
    for (uint32_t c = 0; c < V; ++c)
      out[c] = nm::mmOutputF32(nm::dotI8(q.data(), &weights[size_t(c) * D], D),
                               s, scales[c]);
    return out;
  }
};

std::vector<uint32_t> streamWords() {
  std::vector<uint32_t> words;
  auto add = [&](const Instruction &in) {
    uint32_t w[kMaxWords];
    EXPECT_EQ(encode(in, w, kMaxWords), Status::Ok);
    words.insert(words.end(), w, w + in.info().words);
  };
  auto ld = [](Buffer buf, uint32_t row, uint32_t ch, uint32_t addr,
               uint32_t len) {
    Instruction in(Opcode::LD);
    in.set(LD::buf, buf).set(LD::onchip_addr, row).set(LD::channel, ch);
    in.set(LD::addr, addr).set(LD::length, len);
    in.set(LD::loop1, 1).set(LD::loop2, 1).set(LD::loop3, 1);
    return in;
  };
  // The last new token's row: input offset + (S - 1) rows = S rows.
  const uint32_t rowUnits = kRow / kOffChipUnitBytes;
  Instruction input = ld(Buffer::act, 0, kInputCh, 0, rowUnits);
  input.set(LD::param, ParamReg::S).set(LD::scale, rowUnits);
  add(input.releaseTo(Queue::misc));
  Instruction quant(Opcode::MISC);
  quant.set(MISC::kind, MiscKind::quantize_dynamic).set(MISC::k, D);
  quant.set(MISC::rows, 1).set(MISC::a_addr, 0).set(MISC::out_addr, kQvecRow);
  add(quant.waitOn(Queue::load).releaseTo(Queue::matrix));
  add(ld(Buffer::weight, 0, kWeightCh, 0, V * kWeightRow / kOffChipUnitBytes));
  add(ld(Buffer::meta, 0, kWeightCh, kScaleOffset / kOffChipUnitBytes,
         V * 4 / kOffChipUnitBytes)
          .releaseTo(Queue::matrix));
  Instruction mv(Opcode::MV);
  mv.set(MV::k_blocks, D / 16).set(MV::n, V).set(MV::a_addr, kQvecRow);
  mv.set(MV::b_addr, 0).set(MV::scale_addr, 0).set(MV::out_addr, kLogitsRow);
  mv.set(MV::out_format, OutFormat::f32);
  add(mv.waitOn(Queue::load).waitOn(Queue::misc).releaseTo(Queue::store));
  Instruction st(Opcode::ST);
  st.set(ST::buf, Buffer::act).set(ST::onchip_addr, kLogitsRow);
  st.set(ST::channel, kLogitsCh);
  st.set(ST::addr, 0).set(ST::length, V * 4 / 32);
  add(st.waitOn(Queue::matrix));
  Instruction end(Opcode::SYS);
  end.set(SYS::kind, SysKind::end);
  add(end);
  return words;
}

Model buildModel(uint64_t fingerprint) {
  Model m;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  m.embed.resize(size_t(V) * D);
  for (auto &h : m.embed)
    h = nm::toF16(d(rng));
  m.weights.resize(size_t(V) * D);
  for (auto &w : m.weights)
    w = static_cast<int8_t>(int(rng() % 255) - 127);
  m.scales.resize(V);
  for (auto &s : m.scales)
    s = 0.001f * (1 + rng() % 100);

  binary::BinaryWriter w(fingerprint);
  binary::ModelMetadata meta;
  meta.name = w.addString("bigram");
  meta.family = static_cast<uint32_t>(binary::ModelFamily::Llama);
  meta.numLayers = 1;
  meta.hiddenSize = D;
  meta.numHeads = 1;
  meta.numKVHeads = 1;
  meta.headDim = D;
  meta.intermediateSize = D;
  meta.vocabSize = V;
  meta.maxContext = 16;
  meta.prefillBucketWidth = 8;
  meta.decodeBucketWidth = 16;
  w.setMetadata(meta);
  w.takeStream(0, streamWords());
  for (auto stage : {binary::Stage::Prefill, binary::Stage::Decode}) {
    binary::BucketEntry b;
    b.stage = static_cast<uint16_t>(stage);
    b.minLength = 1;
    b.maxLength = stage == binary::Stage::Prefill ? 8 : 16;
    b.streamId = 0;
    b.repeatCount = 1;
    w.addBucket(b);
  }
  // fp16 [D] then zeros to kRow, per token.
  std::vector<uint8_t> table(size_t(V) * kRow, 0);
  for (uint32_t t = 0; t < V; ++t)
    std::memcpy(&table[size_t(t) * kRow], &m.embed[size_t(t) * D], 2 * D);
  // Channel c's D weights, zero padded to kWeightRow; then the scales.
  std::vector<uint8_t> weightImage(kScaleOffset + V * 4, 0);
  for (uint32_t c = 0; c < V; ++c)
    std::memcpy(&weightImage[size_t(c) * kWeightRow],
                &m.weights[size_t(c) * D], D);
  std::memcpy(weightImage.data() + kScaleOffset, m.scales.data(), V * 4);
  w.takeWeightImage(kWeightCh, std::move(weightImage));
  binary::DeviceMap map;
  map.embedRowBytes = kRow;
  map.vocab = V;
  map.hiddenSize = D;
  map.inputChannel = kInputCh;
  map.inputOffsetUnits = kInputOffset / kOffChipUnitBytes;
  map.inputRows = 8;
  map.logitsChannel = kLogitsCh;
  map.logitsOffsetUnits = 0;
  map.logitsCount = V;
  m.table = std::move(table); // the writer does not copy it
  w.addRawSection(static_cast<uint32_t>(binary::SectionKind::EmbeddingTable),
                  0, m.table);
  w.setDeviceMap(map);
  auto bytes = w.writeToBuffer();
  EXPECT_TRUE(static_cast<bool>(bytes));
  if (bytes)
    m.flb = std::move(*bytes);
  else
    llvm::consumeError(bytes.takeError());
  return m;
}

int32_t argmax(const std::vector<float> &v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best])
      best = int32_t(i);
  return best;
}

target::TargetDescription u280() {
  auto t = target::loadTarget("u280");
  EXPECT_TRUE(static_cast<bool>(t));
  return *t;
}

void greedyBigram() {
  auto t = u280();
  Model m = buildModel(t.fingerprint());
  ASSERT_FALSE(m.flb.empty());
  sim::Simulator simulator(t);
  flight_hal hal = simulator.hal();
  std::vector<uint8_t> arena(flight_runtime_arena_bytes());
  flight_runtime *rt = nullptr;
  ASSERT_EQ(flight_open(&rt, arena.data(), arena.size(), m.flb.data(),
                        m.flb.size(), &hal, t.fingerprint(), 0),
            FLIGHT_OK)
      << (rt ? flight_last_error(rt) : "");
  std::vector<int32_t> prompt = {5, 17, 200};
  std::vector<float> logits(V);
  ASSERT_EQ(flight_prefill(rt, prompt.data(), 3, logits.data()), FLIGHT_OK)
      << flight_last_error(rt) << " " << simulator.faultMessage();
  std::vector<float> want = m.logits(200);
  ASSERT_EQ(std::memcmp(logits.data(), want.data(), 4 * V), 0);
  int32_t token = argmax(logits);
  for (int step = 0; step < 5; ++step) {
    ASSERT_EQ(flight_decode_step(rt, token, logits.data()), FLIGHT_OK)
        << flight_last_error(rt) << " " << simulator.faultMessage();
    want = m.logits(token);
    ASSERT_EQ(std::memcmp(logits.data(), want.data(), 4 * V), 0) << step;
    token = argmax(logits);
  }
  EXPECT_EQ(simulator.total().runs, 6u);
  EXPECT_GT(simulator.total().cycles, 0u);
  flight_close(rt);
}
} // namespace

TEST(SimulatorRuntime, GreedyBigramIsBitExact) { greedyBigram(); }

#ifdef FLIGHTLLM_RUN_PATH
namespace {
std::string runTool(const std::string &args) {
  std::string out = ::testing::TempDir() + "/flightllm-run-out.txt";
  std::string cmd = std::string(FLIGHTLLM_RUN_PATH) + " " + args + " > " +
                    out + " 2>&1";
  int rc = std::system(cmd.c_str());
  auto buf = llvm::MemoryBuffer::getFile(out);
  std::string text = buf ? (*buf)->getBuffer().str() : "";
  std::remove(out.c_str());
  return std::to_string(rc == 0 ? 0 : 1) + "\n" + text;
}
} // namespace

TEST(SimulatorRuntime, FlightllmRunEngineSim) {
  auto t = u280();
  Model m = buildModel(t.fingerprint());
  std::string path = ::testing::TempDir() + "/bigram.flb";
  {
    std::FILE *f = std::fopen(path.c_str(), "wb");
    ASSERT_TRUE(f);
    std::fwrite(m.flb.data(), 1, m.flb.size(), f);
    std::fclose(f);
  }
  // The expected greedy tokens.
  std::vector<int64_t> want;
  int32_t token = argmax(m.logits(9));
  for (int i = 0; i < 4; ++i) {
    want.push_back(token);
    token = argmax(m.logits(token));
  }
  std::string out = runTool(path + " --tokens 3,9 --max-new-tokens 4 --json");
  ASSERT_EQ(out.substr(0, 2), "0\n") << out;
  auto json = llvm::json::parse(out.substr(2));
  ASSERT_TRUE(static_cast<bool>(json)) << out;
  const llvm::json::Object *o = json->getAsObject();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->getString("engine"), "sim");
  EXPECT_EQ(o->getString("target"), "u280");
  const llvm::json::Array *gen = o->getArray("generated_tokens");
  ASSERT_TRUE(gen);
  ASSERT_EQ(gen->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ((*gen)[i].getAsInteger(), want[i]) << i;
  EXPECT_GT(*o->getNumber("prefill_ms"), 0.0);
  EXPECT_GT(*o->getNumber("tokens_per_s"), 0.0);
  EXPECT_GT(*o->getNumber("decode_hbm_bandwidth_utilization"), 0.0);
  EXPECT_GT(*o->getNumber("decode_energy_j_per_token"), 0.0);

  // Text report, byte-level text, trace and logits dump.
  std::string trace = ::testing::TempDir() + "/bigram-trace.json";
  std::string npy = ::testing::TempDir() + "/bigram-logits.npy";
  out = runTool(path + " --prompt AB --max-new-tokens 3 --trace " + trace +
                " --dump-logits " + npy);
  ASSERT_EQ(out.substr(0, 2), "0\n") << out;
  EXPECT_NE(out.find("generated 3 tokens:"), std::string::npos) << out;
  EXPECT_NE(out.find("tokens/s"), std::string::npos) << out;
  EXPECT_NE(out.find("HBM bandwidth"), std::string::npos) << out;
  auto traceBuf = llvm::MemoryBuffer::getFile(trace);
  ASSERT_TRUE(static_cast<bool>(traceBuf));
  EXPECT_TRUE(static_cast<bool>(llvm::json::parse((*traceBuf)->getBuffer())));
  auto npyBuf = llvm::MemoryBuffer::getFile(npy);
  ASSERT_TRUE(static_cast<bool>(npyBuf));
  EXPECT_EQ((*npyBuf)->getBufferSize() % 4, 0u);
  EXPECT_GT((*npyBuf)->getBufferSize(), 3u * V * 4);

  // Timing only: says the tokens are not model output.
  out = runTool(path + " --tokens 3 --max-new-tokens 3 --timing-only");
  ASSERT_EQ(out.substr(0, 2), "0\n") << out;
  EXPECT_NE(out.find("timing only"), std::string::npos) << out;
  out = runTool(path + " --tokens 3 --max-new-tokens 2 --timing-only --json");
  ASSERT_EQ(out.substr(0, 2), "0\n") << out;
  auto tj = llvm::json::parse(out.substr(2));
  ASSERT_TRUE(static_cast<bool>(tj)) << out;
  EXPECT_EQ(tj->getAsObject()->getBoolean("tokens_meaningful"), false);

  // Errors.
  out = runTool(path + " --tokens 3 --max-new-tokens 2 --engine=reference");
  EXPECT_EQ(out.substr(0, 2), "1\n");
  EXPECT_NE(out.find("--engine=sim"), std::string::npos) << out;
  out = runTool(path + " --tokens 3 --max-new-tokens 2 --target=vhk158");
  EXPECT_EQ(out.substr(0, 2), "1\n");
  EXPECT_NE(out.find("target"), std::string::npos) << out;
  out = runTool(path + " --tokens 1,2,3,4,5,6,7,8,9 --max-new-tokens 20");
  EXPECT_EQ(out.substr(0, 2), "1\n");
  EXPECT_NE(out.find("context overflow"), std::string::npos) << out;
  std::remove(path.c_str());
  std::remove(trace.c_str());
  std::remove(npy.c_str());
}
#endif
