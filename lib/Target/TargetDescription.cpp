//===- TargetDescription.cpp - Read, check and hash hardware descriptions -===//

#include "flightllm/Target/TargetDescription.h"
#include "flightllm/Support/BoundedJSON.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstring>
#include <set>
#include <vector>

using namespace flightllm::target;
using llvm::StringRef;

namespace {

/// A field of TargetFields.def with a pointer to its member (exactly one of
/// the three pointers is set, by kind).
struct FieldAccess {
  FieldSchema schema;
  std::string TargetDescription::*text;
  uint64_t TargetDescription::*count;
  double TargetDescription::*real;
};

#define FLIGHT_TARGET_MEMBER_Text(M) &TargetDescription::M, nullptr, nullptr
#define FLIGHT_TARGET_MEMBER_Count(M) nullptr, &TargetDescription::M, nullptr
#define FLIGHT_TARGET_MEMBER_Real(M) nullptr, nullptr, &TargetDescription::M
#define FLIGHT_TARGET_MEMBER_Fraction(M) nullptr, nullptr, &TargetDescription::M
const FieldAccess kFieldAccess[] = {
#define FLIGHT_TARGET_FIELD(Member, Path, Kind, Min, Max, Doc)                 \
  {{Path, FieldKind::Kind, double(Min), double(Max), Doc},                     \
   FLIGHT_TARGET_MEMBER_##Kind(Member)},
#include "flightllm/Target/TargetFields.def"
};

const FieldSchema kSchema[] = {
#define FLIGHT_TARGET_FIELD(Member, Path, Kind, Min, Max, Doc)                 \
  {Path, FieldKind::Kind, double(Min), double(Max), Doc},
#include "flightllm/Target/TargetFields.def"
};

} // namespace

std::string flightllm::target::rangeText(const FieldSchema &field) {
  // %.15g: integers (up to 2^40) print as such, fractions as written.
  return llvm::formatv("[{0}, {1}]", llvm::format("%.15g", field.min),
                       llvm::format("%.15g", field.max))
      .str();
}

namespace {

/// Fields that name the description rather than the hardware.
bool isIdentity(const FieldAccess &f) { return f.text != nullptr; }

/// Problems found so far, each once, in the order found.
class Problems {
public:
  explicit Problems(StringRef source) : source(source) {}
  void add(StringRef path, const llvm::Twine &message) {
    problems.insert((source + ": " + path + ": " + message).str());
  }
  bool empty() const { return problems.empty(); }
  llvm::Error take() {
    std::string text = llvm::join(problems, "\n");
    return llvm::createStringError(llvm::inconvertibleErrorCode(), text);
  }

private:
  std::string source;
  llvm::SetVector<std::string, std::vector<std::string>,
                  std::set<std::string>>
      problems;
};

/// The value at dotted `path` under `root`; nullptr after reporting the
/// first key on the way that is missing or not an object.
const llvm::json::Value *lookup(const llvm::json::Object &root, StringRef path,
                                Problems &problems) {
  const llvm::json::Object *object = &root;
  for (size_t start = 0;;) {
    size_t dot = path.find('.', start);
    StringRef prefix = path.take_front(dot);
    const llvm::json::Value *value = object->get(prefix.drop_front(start));
    if (!value) {
      problems.add(prefix, "missing");
      return nullptr;
    }
    if (dot == StringRef::npos)
      return value;
    object = value->getAsObject();
    if (!object) {
      problems.add(prefix, "expected an object");
      return nullptr;
    }
    start = dot + 1;
  }
}

/// Reports keys of `object` (at `prefix`) that are neither a field nor an
/// object holding fields.
void checkKeys(const llvm::json::Object &object, StringRef prefix,
               const llvm::StringSet<> &paths,
               const llvm::StringSet<> &groups, Problems &problems) {
  for (const auto &entry : object) {
    StringRef key = entry.first;
    std::string path = prefix.empty() ? key.str() : (prefix + "." + key).str();
    if (paths.contains(path))
      continue;
    if (!groups.contains(path)) {
      problems.add(path, "unknown field");
      continue;
    }
    if (const llvm::json::Object *inner = entry.second.getAsObject())
      checkKeys(*inner, path, paths, groups, problems);
  }
}

void readField(const FieldAccess &f, const llvm::json::Value &value,
               TargetDescription &target, Problems &problems) {
  const FieldSchema &schema = f.schema;
  StringRef path = schema.path;
  if (schema.kind == FieldKind::Text) {
    if (std::optional<StringRef> text = value.getAsString())
      target.*f.text = text->str();
    else
      problems.add(path, "expected a string");
    return;
  }
  bool count = schema.kind == FieldKind::Count;
  std::optional<double> x;
  if (count) {
    if (std::optional<int64_t> n = value.getAsInteger())
      x = double(*n);
  } else if (std::optional<double> number = value.getAsNumber()) {
    if (std::isfinite(*number))
      x = *number;
  }
  if (!x || *x < schema.min || *x > schema.max) {
    problems.add(path, llvm::formatv("expected {0} in {1}, got {2}",
                                     count ? "an integer" : "a number",
                                     rangeText(schema), value)
                           .str());
    return;
  }
  if (count)
    target.*f.count = static_cast<uint64_t>(*value.getAsInteger());
  else
    target.*f.real = *x;
}

/// The checks that involve the ISA or several fields.
void checkConsistency(const TargetDescription &t, Problems &problems) {
  namespace isa = flightllm::isa;
  if (t.name.empty())
    problems.add("name", "must not be empty");

  auto checkChannels = [&](StringRef path, uint64_t channels) {
    uint64_t limit = uint64_t(isa::LD::channel.max()) + 1;
    if (channels > limit)
      problems.add(path, llvm::formatv("{0} channels exceed the {1} the ISA "
                                       "channel field addresses",
                                       channels, limit));
  };
  checkChannels("hbm.channels", t.hbmChannels);
  checkChannels("ddr.channels", t.ddrChannels);

  auto checkChannelBytes = [&](StringRef path, uint64_t bytes, isa::Field addr,
                               const char *what) {
    uint64_t unit = isa::kOffChipUnitBytes;
    uint64_t reach = (uint64_t(addr.max()) + 1) * unit;
    if (bytes % unit)
      problems.add(path, llvm::formatv("{0} is not a multiple of the {1}-byte "
                                       "off-chip unit",
                                       bytes, unit));
    if (bytes > reach)
      problems.add(path, llvm::formatv("{0} bytes exceed the {1} bytes {2} "
                                       "addresses in a channel",
                                       bytes, reach, what));
  };
  checkChannelBytes("hbm.bytes_per_channel", t.hbmBytesPerChannel,
                    isa::ST::addr, "ST.addr");
  checkChannelBytes("ddr.bytes_per_channel", t.ddrBytesPerChannel,
                    isa::LD::addr, "LD.addr");

  struct Buffer {
    const char *path;
    uint64_t bytes;
  } buffers[] = {{"buffers_per_core.act_bytes", t.actBufferBytes},
                 {"buffers_per_core.weight_bytes", t.weightBufferBytes},
                 {"buffers_per_core.meta_bytes", t.metaBufferBytes},
                 {"buffers_per_core.acc_bytes", t.accBufferBytes}};
  uint64_t row = isa::kOnChipRowBytes;
  uint64_t reach = (uint64_t(isa::LD::onchip_addr.max()) + 1) * row;
  for (const Buffer &b : buffers) {
    if (b.bytes % row)
      problems.add(b.path, llvm::formatv("{0} is not a multiple of the "
                                         "{1}-byte on-chip row",
                                         b.bytes, row));
    if (b.bytes > reach)
      problems.add(b.path, llvm::formatv("{0} bytes exceed the {1} bytes the "
                                         "ISA's on-chip addresses reach",
                                         b.bytes, reach));
  }
  // Each memory separately, at the blocks' 64-bit data width: a buffer
  // cannot spill from UltraRAM into block RAM without changing its port
  // bandwidth (docs/targets.md, "On-chip buffers").
  struct Ram {
    OnChipMemory memory;
    uint64_t blocks;
    const char *name;
  } rams[] = {{OnChipMemory::uram, t.uramBlocks, "UltraRAM"},
              {OnChipMemory::bram, t.bramBlocks, "block RAM"}};
  for (const Ram &ram : rams) {
    uint64_t perCore = t.blocksPerCore(ram.memory);
    if (t.cores * perCore > ram.blocks)
      problems.add("buffers_per_core",
                   llvm::formatv("{0} cores x {1} {2} blocks exceed the "
                                 "device's {3} ({4} data bytes per block)",
                                 t.cores, perCore, ram.name, ram.blocks,
                                 t.dataBytesPerBlock(ram.memory)));
  }

  if (t.mmK != isa::kKBlock)
    problems.add("mm.k", llvm::formatv("must be the ISA K block ({0})",
                                       isa::kKBlock));
  if (t.mvK != isa::kKBlock)
    problems.add("mv.k", llvm::formatv("must be the ISA K block ({0})",
                                       isa::kKBlock));
  if (t.mvTokens != 1)
    problems.add("mv.tokens", "must be 1 (MV multiplies one vector)");
  if (t.dspsNeeded() > t.dspCount)
    problems.add("dsp.count",
                 llvm::formatv("{0} cores of {1} MACs/cycle need {2} DSPs at "
                               "{3} MACs each; the device has {4}",
                               t.cores,
                               std::max(t.mmMacsPerCycle(), t.mvMacsPerCycle()),
                               t.dspsNeeded(), t.int8MacsPerDsp, t.dspCount));
  if (t.instructionMemoryBytes > t.ddrBytes())
    problems.add("instruction_memory_bytes",
                 llvm::formatv("{0} bytes exceed the {1} bytes of DDR",
                               t.instructionMemoryBytes, t.ddrBytes()));
}

/// FNV-1a, 64 bit.
class Fnv1a {
public:
  void bytes(const void *data, size_t size) {
    const auto *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < size; ++i) {
      hash ^= p[i];
      hash *= 0x100000001b3ull;
    }
  }
  void u64(uint64_t value) {
    unsigned char le[8];
    for (unsigned i = 0; i < 8; ++i)
      le[i] = static_cast<unsigned char>(value >> (8 * i));
    bytes(le, 8);
  }
  uint64_t hash = 0xcbf29ce484222325ull;
};

} // namespace

uint64_t TargetDescription::bufferBytes(isa::Buffer buffer) const {
  switch (buffer) {
  case isa::Buffer::act:
    return actBufferBytes;
  case isa::Buffer::weight:
    return weightBufferBytes;
  case isa::Buffer::meta:
    return metaBufferBytes;
  case isa::Buffer::acc:
    return accBufferBytes;
  }
  return 0;
}

uint64_t TargetDescription::bufferBytesPerCore() const {
  return actBufferBytes + weightBufferBytes + metaBufferBytes + accBufferBytes;
}

uint64_t TargetDescription::dspsNeeded() const {
  uint64_t macs = std::max(mmMacsPerCycle(), mvMacsPerCycle());
  return cores * ((macs + int8MacsPerDsp - 1) / int8MacsPerDsp);
}

OnChipMemory TargetDescription::bufferMemory(isa::Buffer buffer) const {
  switch (buffer) {
  case isa::Buffer::act:
  case isa::Buffer::weight:
    return OnChipMemory::uram;
  case isa::Buffer::meta:
  case isa::Buffer::acc:
    return OnChipMemory::bram;
  }
  return OnChipMemory::bram;
}

uint64_t TargetDescription::dataBytesPerBlock(OnChipMemory memory) const {
  uint64_t bits = memory == OnChipMemory::uram ? uramBitsPerBlock
                                               : bramBitsPerBlock;
  // Words of kRamPortBits, each holding kRamPortDataBytes of data.
  return bits / kRamPortBits * kRamPortDataBytes;
}

uint64_t TargetDescription::bufferBlocks(isa::Buffer buffer) const {
  uint64_t perBlock = dataBytesPerBlock(bufferMemory(buffer));
  return perBlock ? (bufferBytes(buffer) + perBlock - 1) / perBlock : 0;
}

uint64_t TargetDescription::blocksPerCore(OnChipMemory memory) const {
  uint64_t blocks = 0;
  for (isa::Buffer b : {isa::Buffer::act, isa::Buffer::weight,
                        isa::Buffer::meta, isa::Buffer::acc})
    if (bufferMemory(b) == memory)
      blocks += bufferBlocks(b);
  return blocks;
}

uint64_t TargetDescription::bufferPortBytesPerCycle(isa::Buffer buffer) const {
  return bufferBlocks(buffer) * kRamPortsPerBlock * kRamPortDataBytes;
}

uint64_t TargetDescription::fingerprint() const {
  Fnv1a h;
  const char version[] = "flightllm-target-v1";
  h.bytes(version, sizeof(version));
  for (const FieldAccess &f : kFieldAccess) {
    if (isIdentity(f))
      continue;
    h.bytes(f.schema.path, std::strlen(f.schema.path) + 1);
    if (f.count) {
      h.u64(this->*f.count);
    } else {
      double x = this->*f.real + 0.0; // -0 and +0 hash alike
      uint64_t bits;
      std::memcpy(&bits, &x, sizeof(bits));
      h.u64(bits);
    }
  }
  return h.hash;
}

bool flightllm::target::operator==(const TargetDescription &a,
                                   const TargetDescription &b) {
  for (const FieldAccess &f : kFieldAccess) {
    if ((f.text && a.*f.text != b.*f.text) ||
        (f.count && a.*f.count != b.*f.count) ||
        (f.real && a.*f.real != b.*f.real))
      return false;
  }
  return true;
}

llvm::ArrayRef<FieldSchema> flightllm::target::fieldSchema() {
  return kSchema;
}

llvm::Expected<TargetDescription>
flightllm::target::parseTarget(StringRef json, StringRef source) {
  llvm::Expected<llvm::json::Value> value = parseBoundedJSON(json);
  if (!value)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: invalid JSON: %s", source.str().c_str(),
                                   llvm::toString(value.takeError()).c_str());
  Problems problems(source);
  const llvm::json::Object *root = value->getAsObject();
  if (!root) {
    problems.add("(root)", "expected an object");
    return problems.take();
  }

  llvm::StringSet<> paths, groups;
  for (const FieldSchema &f : kSchema) {
    StringRef path = f.path;
    paths.insert(path);
    for (size_t dot = path.find('.'); dot != StringRef::npos;
         dot = path.find('.', dot + 1))
      groups.insert(path.take_front(dot));
  }
  checkKeys(*root, "", paths, groups, problems);

  TargetDescription target;
  for (const FieldAccess &f : kFieldAccess)
    if (const llvm::json::Value *v = lookup(*root, f.schema.path, problems))
      readField(f, *v, target, problems);
  if (!problems.empty())
    return problems.take();
  checkConsistency(target, problems);
  if (!problems.empty())
    return problems.take();
  return target;
}

namespace {
struct Preset {
  StringRef name;
  StringRef json;
};
// TargetPresets.inc is generated from targets/*.json by EmbedPresets.cmake:
// one FLIGHT_TARGET_PRESET("name", R"flightllm_json(...)flightllm_json") each.
#define FLIGHT_TARGET_PRESET(Name, Json) {Name, Json},
const Preset kPresets[] = {
#include "TargetPresets.inc"
};
#undef FLIGHT_TARGET_PRESET
#define FLIGHT_TARGET_PRESET(Name, Json) Name,
const StringRef kPresetNames[] = {
#include "TargetPresets.inc"
};
#undef FLIGHT_TARGET_PRESET
} // namespace

llvm::ArrayRef<StringRef> flightllm::target::presetNames() {
  return kPresetNames;
}

std::optional<StringRef> flightllm::target::presetJSON(StringRef name) {
  for (const Preset &p : kPresets)
    if (p.name == name)
      return p.json;
  return std::nullopt;
}

llvm::Expected<TargetDescription>
flightllm::target::loadTarget(StringRef nameOrPath) {
  bool isPath = nameOrPath.contains('/') || nameOrPath.ends_with(".json");
  if (!isPath)
    if (std::optional<StringRef> json = presetJSON(nameOrPath))
      return parseTarget(*json, ("preset '" + nameOrPath + "'").str());
  auto buffer = llvm::MemoryBuffer::getFile(nameOrPath, /*IsText=*/true);
  if (!buffer) {
    std::string names = llvm::join(presetNames(), ", ");
    return llvm::createStringError(
        buffer.getError(), "unknown target '%s': not a preset (%s) and not "
                           "a readable file: %s",
        nameOrPath.str().c_str(), names.c_str(),
        buffer.getError().message().c_str());
  }
  return parseTarget((*buffer)->getBuffer(), nameOrPath);
}

llvm::json::Value flightllm::target::toJSON(const TargetDescription &target) {
  llvm::json::Object root;
  for (const FieldAccess &f : kFieldAccess) {
    llvm::json::Object *object = &root;
    StringRef path = f.schema.path;
    for (size_t dot = path.find('.'); dot != StringRef::npos;
         dot = path.find('.')) {
      StringRef key = path.take_front(dot);
      if (!object->get(key))
        (*object)[key] = llvm::json::Object();
      object = object->getObject(key);
      path = path.drop_front(dot + 1);
    }
    if (f.text)
      (*object)[path] = target.*f.text;
    else if (f.count)
      (*object)[path] = target.*f.count;
    else
      (*object)[path] = target.*f.real;
  }
  return root;
}
