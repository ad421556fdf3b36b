//===- TargetTest.cpp - Hardware descriptions: presets, checks, hashes ----===//

#include "TargetTestUtil.h"

#include "flightllm/Target/TargetDescription.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace flightllm::target;
using flightllm::target::test::preset;
using llvm::json::Value;

namespace {

/// The repository root, given by the build (a path derived from __FILE__ is
/// relative when the compiler is run through ccache with base_dir).
std::string sourceRoot() { return FLIGHTLLM_SOURCE_ROOT; }

std::string readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  EXPECT_TRUE(bool(buffer)) << path;
  return buffer ? (*buffer)->getBuffer().str() : "";
}

Value presetValue(llvm::StringRef name) {
  llvm::Expected<Value> v = llvm::json::parse(*presetJSON(name));
  EXPECT_TRUE(bool(v));
  return v ? std::move(*v) : Value(nullptr);
}

/// The object holding the last key of dotted `path` (created on the way).
llvm::json::Object *parentOf(Value &root, llvm::StringRef &path) {
  llvm::json::Object *object = root.getAsObject();
  while (path.contains('.')) {
    auto [head, rest] = path.split('.');
    if (!object->get(head))
      (*object)[head] = llvm::json::Object();
    object = object->getObject(head);
    path = rest;
  }
  return object;
}

Value with(Value root, llvm::StringRef path, Value value) {
  (*parentOf(root, path))[path] = std::move(value);
  return root;
}

Value without(Value root, llvm::StringRef path) {
  parentOf(root, path)->erase(path);
  return root;
}

std::string text(const Value &v) { return llvm::formatv("{0:2}", v).str(); }

/// The error parseTarget reports for `json`, or "" if it parses.
std::string errorOf(const std::string &json) {
  llvm::Expected<TargetDescription> t = parseTarget(json, "t.json");
  return t ? "" : llvm::toString(t.takeError());
}
std::string errorOf(const Value &v) { return errorOf(text(v)); }

} // namespace

TEST(Target, PresetsAreEmbeddedAndLoad) {
  ASSERT_EQ(presetNames().size(), 2u);
  EXPECT_EQ(presetNames()[0], "u280");
  EXPECT_EQ(presetNames()[1], "vhk158");
  for (llvm::StringRef name : presetNames())
    EXPECT_EQ(preset(name).name, name.str());

  TargetDescription u280 = preset("u280");
  EXPECT_EQ(u280.clockMHz, 225);
  EXPECT_EQ(u280.cores, 3u);
  EXPECT_EQ(u280.hbmChannels, 32u);
  EXPECT_EQ(u280.hbmBytes(), 8ull << 30);
  EXPECT_DOUBLE_EQ(u280.hbmPeakGBPerS(), 460);
  EXPECT_EQ(u280.ddrBytes(), 32ull << 30);
  EXPECT_EQ(u280.dspCount, 9024u);
  EXPECT_EQ(u280.uramBytes(), 960ull * 288 * 1024 / 8); // 270 Mb
  EXPECT_EQ(u280.bramBytes(), 2016ull * 36 * 1024 / 8);
  EXPECT_EQ(u280.mmMacsPerCycle(), 4096u);
  EXPECT_EQ(u280.mvMacsPerCycle(), 1024u);
  EXPECT_EQ(u280.bufferBytes(flightllm::isa::Buffer::act), 8u << 20);
  EXPECT_EQ(u280.bufferBytes(flightllm::isa::Buffer::weight), 2u << 20);
  EXPECT_EQ(u280.bufferBytes(flightllm::isa::Buffer::meta), 1u << 20);
  EXPECT_EQ(u280.bufferBytes(flightllm::isa::Buffer::acc), 256u << 10);
  EXPECT_EQ(u280.bufferBytesPerCore(), (11u << 20) + (256u << 10));
  EXPECT_EQ(u280.dspsNeeded(), 6144u);

  TargetDescription vhk158 = preset("vhk158");
  EXPECT_EQ(vhk158.clockMHz, 310);
  EXPECT_DOUBLE_EQ(vhk158.hbmPeakGBPerS(), 819.2);
  EXPECT_EQ(vhk158.hbmBytes(), 8ull << 30);
  EXPECT_EQ(vhk158.hbmEfficiencyWithinChannel, 0.924);
  EXPECT_EQ(vhk158.hbmEfficiencyAcrossChannels, 0.35);
  EXPECT_EQ(vhk158.mmMacsPerCycle(), 4096u);
  EXPECT_EQ(vhk158.mvMacsPerCycle(), 1024u);
  EXPECT_NE(u280.fingerprint(), vhk158.fingerprint());
}

TEST(Target, PresetFilesAreWhatIsEmbedded) {
  for (llvm::StringRef name : presetNames()) {
    std::string path = sourceRoot() + "/targets/" + name.str() + ".json";
    EXPECT_EQ(readFile(path), presetJSON(name)->str()) << path;
    llvm::Expected<TargetDescription> fromFile = loadTarget(path);
    ASSERT_TRUE(bool(fromFile)) << llvm::toString(fromFile.takeError());
    EXPECT_TRUE(*fromFile == preset(name));
  }
}

TEST(Target, LoadTargetReportsUnknownNamesAndFiles) {
  llvm::Expected<TargetDescription> t = loadTarget("u281");
  ASSERT_FALSE(bool(t));
  EXPECT_EQ(llvm::toString(t.takeError()),
            "unknown target 'u281': not a preset (u280, vhk158) and not a "
            "readable file: No such file or directory");
  t = loadTarget("/nonexistent/u280.json");
  ASSERT_FALSE(bool(t));
  EXPECT_EQ(llvm::toString(t.takeError()),
            "unknown target '/nonexistent/u280.json': not a preset (u280, "
            "vhk158) and not a readable file: No such file or directory");
}

TEST(Target, EveryValidationErrorNamesItsPath) {
  Value base = presetValue("u280");
  struct Case {
    Value json;
    std::string error;
  } cases[] = {
      {without(base, "hbm.channels"), "hbm.channels: missing"},
      {without(base, "ddr"), "ddr: missing"},
      {with(base, "hbm", 5), "hbm: expected an object"},
      {with(base, "hbm.foo", 1), "hbm.foo: unknown field"},
      {with(base, "extra", 1), "extra: unknown field"},
      {with(base, "cores", 0), "cores: expected an integer in [1, 64], got 0"},
      {with(base, "cores", -2), "cores: expected an integer in [1, 64], got -2"},
      {with(base, "cores", 1.5), "cores: expected an integer in [1, 64], got 1.5"},
      {with(base, "cores", "3"), "cores: expected an integer in [1, 64], got \"3\""},
      {with(base, "clock_mhz", -1), "clock_mhz: expected a number in [1, 10000], got -1"},
      {with(base, "clock_mhz", nullptr),
       "clock_mhz: expected a number in [1, 10000], got null"},
      {with(base, "hbm.efficiency_within_channel", 0),
       "hbm.efficiency_within_channel: expected a number in [0.01, 1], got 0"},
      {with(base, "hbm.efficiency_across_channels", 1.5),
       "hbm.efficiency_across_channels: expected a number in [0.01, 1], got 1.5"},
      {with(base, "name", 5), "name: expected a string"},
      {with(base, "name", ""), "name: must not be empty"},
      {with(base, "hbm.channels", 65),
       "hbm.channels: 65 channels exceed the 64 the ISA channel field "
       "addresses"},
      {with(base, "ddr.channels", 100),
       "ddr.channels: 100 channels exceed the 64 the ISA channel field "
       "addresses"},
      {with(base, "hbm.bytes_per_channel", 268435457),
       "hbm.bytes_per_channel: 268435457 is not a multiple of the 32-byte "
       "off-chip unit"},
      {with(base, "hbm.bytes_per_channel", int64_t(4) << 30),
       "hbm.bytes_per_channel: 4294967296 bytes exceed the 2147483648 bytes "
       "ST.addr addresses in a channel"},
      {with(base, "ddr.bytes_per_channel", int64_t(64) << 30),
       "ddr.bytes_per_channel: 68719476736 bytes exceed the 34359738368 bytes "
       "LD.addr addresses in a channel"},
      {with(base, "buffers_per_core.meta_bytes", 1000),
       "buffers_per_core.meta_bytes: 1000 is not a multiple of the 128-byte "
       "on-chip row"},
      {with(base, "buffers_per_core.weight_bytes", (1 << 20) + 64),
       "buffers_per_core.weight_bytes: 1048640 is not a multiple of the "
       "128-byte on-chip row"},
      {with(base, "buffers_per_core.act_bytes", (8 << 20) + 128),
       "buffers_per_core.act_bytes: 8388736 bytes exceed the 8388608 bytes "
       "the ISA's on-chip addresses reach\n"
       "t.json: buffers_per_core: 3 cores x 321 UltraRAM blocks exceed the "
       "device's 960 (32768 data bytes per block)"},
      {with(base, "uram.blocks", 10),
       "buffers_per_core: 3 cores x 320 UltraRAM blocks exceed the device's "
       "10 (32768 data bytes per block)"},
      {with(base, "bram.blocks", 959),
       "buffers_per_core: 3 cores x 320 block RAM blocks exceed the device's "
       "959 (4096 data bytes per block)"},
      {with(base, "buffers_per_core.weight_bytes", (2 << 20) + 128),
       "buffers_per_core: 3 cores x 321 UltraRAM blocks exceed the device's "
       "960 (32768 data bytes per block)"},
      {with(base, "mm.k", 8), "mm.k: must be the ISA K block (16)"},
      {with(base, "mv.k", 32), "mv.k: must be the ISA K block (16)"},
      {with(base, "mv.tokens", 2),
       "mv.tokens: must be 1 (MV multiplies one vector)"},
      {with(base, "dsp.count", 1000),
       "dsp.count: 3 cores of 4096 MACs/cycle need 6144 DSPs at 2 MACs "
       "each; the device has 1000"},
      {with(base, "instruction_memory_bytes", int64_t(40) << 30),
       "instruction_memory_bytes: 42949672960 bytes exceed the 34359738368 "
       "bytes of DDR"},
      {Value(llvm::json::Array()), "(root): expected an object"},
      // Absurd but well-formed values (issue 18).
      {with(base, "clock_mhz", 1e-300),
       "clock_mhz: expected a number in [1, 10000], got 1e-300"},
      {with(base, "sfu.lanes", int64_t(1) << 40),
       "sfu.lanes: expected an integer in [1, 65536], got 1099511627776"},
      {with(base, "dsp.int8_macs_per_dsp", int64_t(1) << 62),
       "dsp.int8_macs_per_dsp: expected an integer in [1, 16], got "
       "4611686018427387904"},
      {with(base, "instruction_memory_bytes", 1),
       "instruction_memory_bytes: expected an integer in [64, "
       "1099511627776], got 1"},
  };
  for (const Case &c : cases)
    EXPECT_EQ(errorOf(c.json), "t.json: " + c.error) << text(c.json);

  std::string syntax = errorOf(std::string("{\"name\": "));
  EXPECT_EQ(llvm::StringRef(syntax).split(':').first, "t.json");
  EXPECT_NE(syntax.find("invalid JSON"), std::string::npos) << syntax;

  // Every problem is reported, one per line.
  Value two = with(with(base, "cores", 0), "sfu.lanes", "many");
  EXPECT_EQ(errorOf(two), "t.json: cores: expected an integer in [1, 64], got 0\n"
                          "t.json: sfu.lanes: expected an integer in [1, 65536], "
                          "got \"many\"");
}

TEST(Target, EveryNumberIsCheckedAgainstItsRange) {
  Value base = presetValue("u280");
  for (const FieldSchema &f : fieldSchema()) {
    if (f.kind == FieldKind::Text)
      continue;
    std::string expected = std::string(f.kind == FieldKind::Count
                                           ? "expected an integer in "
                                           : "expected a number in ") +
                           rangeText(f);
    // Just outside the range on either side: refused, naming the field.
    double below = f.kind == FieldKind::Count ? f.min - 1 : f.min / 2;
    double above = f.kind == FieldKind::Count ? f.max + 1 : f.max * 2;
    for (double x : {below, above}) {
      Value bad = f.kind == FieldKind::Count ? with(base, f.path, int64_t(x))
                                             : with(base, f.path, x);
      std::string error = errorOf(bad);
      EXPECT_NE(error.find(std::string("t.json: ") + f.path + ": " + expected),
                std::string::npos)
          << f.path << " = " << x << ": " << error;
    }
  }
}

TEST(Target, DeepNestingIsAnErrorNotAStackOverflow) {
  std::string deep(1 << 20, '[');
  EXPECT_EQ(errorOf(deep),
            "t.json: invalid JSON: nested deeper than 64 levels at byte 64");
  // Brackets inside strings do not count.
  Value quoted = with(presetValue("u280"), "description", std::string(1000, '{'));
  EXPECT_EQ(errorOf(quoted), "");
}

TEST(Target, FingerprintIgnoresKeyOrderSpellingAndNames) {
  std::string original = presetJSON("u280")->str();
  uint64_t expected = preset("u280").fingerprint();
  // Golden value: binaries store it. If u280.json changes on purpose, update.
  EXPECT_EQ(expected, 0x8f8aa8685be6037aull)
      << llvm::formatv("{0:x16}", expected).str();

  // llvm::json prints keys sorted: another order than the preset file's.
  Value sorted = presetValue("u280");
  ASSERT_NE(text(sorted), original);
  llvm::Expected<TargetDescription> t = parseTarget(text(sorted), "sorted");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->fingerprint(), expected);

  // Numbers spelled differently, whitespace removed.
  std::string respelled = original;
  for (auto [from, to] : {std::pair<std::string, std::string>{"225", "2.25e2"},
                          {"8388608", "8.388608E6"},
                          {"0.924", "0.9240"},
                          {"\n", ""},
                          {"  ", ""}})
    for (size_t at = 0; (at = respelled.find(from, at)) != std::string::npos;
         at += to.size())
      respelled.replace(at, from.size(), to);
  ASSERT_NE(respelled.find("8.388608E6"), std::string::npos) << respelled;
  ASSERT_NE(respelled.find("2.25e2"), std::string::npos) << respelled;
  ASSERT_NE(respelled.find("0.9240"), std::string::npos) << respelled;
  t = parseTarget(respelled, "respelled");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->fingerprint(), expected);

  t = parseTarget(text(with(with(sorted, "name", "my-board"), "description",
                            "same hardware")),
                  "renamed");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->fingerprint(), expected);
}

TEST(Target, FingerprintChangesWithEveryHardwareField) {
  Value base = presetValue("u280");
  uint64_t original = preset("u280").fingerprint();
  std::set<std::string> fixedByValidation;
  for (const FieldSchema &f : fieldSchema()) {
    if (f.kind == FieldKind::Text)
      continue;
    // Copy the current value and try it halved and doubled.
    llvm::StringRef path = f.path;
    llvm::json::Object *parent = parentOf(base, path);
    double x = *parent->get(path)->getAsNumber();
    bool distinguished = false, parsed = false;
    for (double factor : {0.5, 2.0}) {
      Value changed = f.kind == FieldKind::Count
                          ? with(base, f.path, int64_t(x * factor))
                          : with(base, f.path, x * factor);
      llvm::Expected<TargetDescription> t =
          parseTarget(text(changed), f.path);
      if (!t) {
        llvm::consumeError(t.takeError());
        continue;
      }
      parsed = true;
      distinguished |= t->fingerprint() != original;
    }
    if (!parsed)
      fixedByValidation.insert(f.path);
    else
      EXPECT_TRUE(distinguished) << f.path;
  }
  // The only fields no other value is valid for.
  EXPECT_EQ(fixedByValidation,
            (std::set<std::string>{"mm.k", "mv.k", "mv.tokens"}));
}

TEST(Target, ToJSONRoundTrips) {
  for (llvm::StringRef name : presetNames()) {
    TargetDescription t = preset(name);
    llvm::Expected<TargetDescription> back = parseTarget(text(toJSON(t)), name);
    ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
    EXPECT_TRUE(*back == t) << name.str();
    EXPECT_EQ(back->fingerprint(), t.fingerprint());
  }
}

TEST(Target, DocsListEveryFieldAndPreset) {
  std::string docs = readFile(sourceRoot() + "/docs/targets.md");
  for (const FieldSchema &f : fieldSchema()) {
    EXPECT_NE(docs.find("`" + std::string(f.path) + "`"), std::string::npos)
        << f.path << " is not in docs/targets.md";
    if (f.kind == FieldKind::Text)
      continue;
    // The fields table gives the range the reader enforces.
    std::string row = "| `" + std::string(f.path) + "` | " +
                      (f.kind == FieldKind::Count ? "integer" : "number") +
                      " in " + rangeText(f) + " |";
    EXPECT_NE(docs.find(row), std::string::npos)
        << "docs/targets.md lacks the row " << row;
  }
  for (llvm::StringRef name : presetNames())
    EXPECT_NE(docs.find("targets/" + name.str() + ".json"), std::string::npos)
        << name.str();
}
