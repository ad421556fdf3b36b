//===- ISA.h - The FlightLLM accelerator ISA: encode, decode, limits ------===//
//
// Everything here is generated from Instructions.def by the preprocessor:
// opcodes, enumerations, the field table, constexpr field limits, encode and
// decode. The header is freestanding: it includes only <cstdint> and
// <cstddef>, allocates nothing, throws nothing and needs no RTTI, so the
// compiler, the embedded runtime and the simulator share it as it is
// (test/unit/ISAFreestanding.cpp compiles it with -fno-exceptions -fno-rtti
// -ffreestanding). docs/isa.md describes the semantics.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_ISA_ISA_H
#define FLIGHTLLM_ISA_ISA_H

#include <cstddef>
#include <cstdint>

namespace flightllm::isa {

//===----------------------------------------------------------------------===//
// Constants and enumerations
//===----------------------------------------------------------------------===//

#define FLIGHT_ISA_CONSTANT(Name, Value, Doc)                                  \
  inline constexpr uint32_t k##Name = Value;
#include "flightllm/ISA/Instructions.def"

#define FLIGHT_ISA_ENUM(Name, Doc) enum class Name : uint8_t {
#define FLIGHT_ISA_ENUM_VALUE(Enum, Name, Doc) Name,
#define FLIGHT_ISA_ENUM_END(Name)                                              \
  }                                                                            \
  ;
#include "flightllm/ISA/Instructions.def"

/// Names an enumeration of the ISA (the type of an Enum field).
enum class EnumId : uint8_t {
  None,
#define FLIGHT_ISA_ENUM(Name, Doc) Name,
#include "flightllm/ISA/Instructions.def"
};

enum class Opcode : uint8_t {
#define FLIGHT_ISA_INSTRUCTION(Name, Opc, Words, Q, Doc) Name = Opc,
#include "flightllm/ISA/Instructions.def"
};

/// How a field's bits are read.
enum class FieldType : uint8_t { Unsigned, Signed, Enum };

/// Every field of every instruction, named <Instruction>_<field>.
enum class FieldId : uint16_t {
#define FLIGHT_ISA_FIELD(Inst, Name, Word, Lsb, Width, Type, Enum, Doc)        \
  Inst##_##Name,
#include "flightllm/ISA/Instructions.def"
};

//===----------------------------------------------------------------------===//
// Tables
//===----------------------------------------------------------------------===//

/// A bit range of the header (word 0 of every instruction).
struct HeaderField {
  const char *name;
  uint8_t lsb;
  uint8_t width;
  const char *doc;
};

struct EnumInfo {
  const char *name;
  const char *doc;
};

struct EnumValueInfo {
  EnumId enumId;
  uint8_t value;
  const char *name;
  const char *doc;
};

struct InstructionInfo {
  const char *mnemonic;
  Opcode opcode;
  uint8_t words;
  Queue queue;
  const char *doc;
};

struct FieldInfo {
  const char *name;
  Opcode opcode;
  uint8_t word;
  uint8_t lsb;
  uint8_t width;
  FieldType type;
  EnumId enumId;
  const char *doc;
};

struct ConstantInfo {
  const char *name;
  uint32_t value;
  const char *doc;
};

inline constexpr ConstantInfo kConstants[] = {
#define FLIGHT_ISA_CONSTANT(Name, Value, Doc) {#Name, Value, Doc},
#include "flightllm/ISA/Instructions.def"
};

inline constexpr HeaderField kHeaderFields[] = {
#define FLIGHT_ISA_HEADER_FIELD(Name, Lsb, Width, Doc) {#Name, Lsb, Width, Doc},
#include "flightllm/ISA/Instructions.def"
};

namespace header {
#define FLIGHT_ISA_HEADER_FIELD(Name, Lsb, Width, Doc)                         \
  inline constexpr HeaderField Name = {#Name, Lsb, Width, Doc};
#include "flightllm/ISA/Instructions.def"
} // namespace header

inline constexpr EnumInfo kEnums[] = {
    {"None", "not an enumeration"},
#define FLIGHT_ISA_ENUM(Name, Doc) {#Name, Doc},
#include "flightllm/ISA/Instructions.def"
};

inline constexpr EnumValueInfo kEnumValues[] = {
#define FLIGHT_ISA_ENUM_VALUE(Enum, Name, Doc)                                 \
  {EnumId::Enum, static_cast<uint8_t>(Enum::Name), #Name, Doc},
#include "flightllm/ISA/Instructions.def"
};

inline constexpr InstructionInfo kInstructions[] = {
#define FLIGHT_ISA_INSTRUCTION(Name, Opc, Words, Q, Doc)                       \
  {#Name, Opcode::Name, Words, Queue::Q, Doc},
#include "flightllm/ISA/Instructions.def"
};

inline constexpr FieldInfo kFields[] = {
#define FLIGHT_ISA_FIELD(Inst, Name, Word, Lsb, Width, Type, Enum, Doc)        \
  {#Name,          Opcode::Inst,    Word, Lsb, Width, FieldType::Type,         \
   EnumId::Enum,   Doc},
#include "flightllm/ISA/Instructions.def"
};

inline constexpr size_t kNumEnums = sizeof(kEnums) / sizeof(kEnums[0]);
inline constexpr size_t kNumEnumValues =
    sizeof(kEnumValues) / sizeof(kEnumValues[0]);
inline constexpr size_t kNumInstructions =
    sizeof(kInstructions) / sizeof(kInstructions[0]);
inline constexpr size_t kNumFields = sizeof(kFields) / sizeof(kFields[0]);
inline constexpr unsigned kNumOpcodes = 16;

/// The number of values of an enumeration (0 for EnumId::None).
constexpr unsigned enumCount(EnumId e) {
  unsigned n = 0;
  for (const EnumValueInfo &v : kEnumValues)
    n += v.enumId == e;
  return n;
}

/// The name of value `value` of enumeration `e`, or nullptr.
constexpr const char *enumValueName(EnumId e, int64_t value) {
  for (const EnumValueInfo &v : kEnumValues)
    if (v.enumId == e && v.value == value)
      return v.name;
  return nullptr;
}

constexpr const EnumInfo &enumInfo(EnumId e) {
  return kEnums[static_cast<unsigned>(e)];
}

constexpr uint32_t queueBit(Queue q) { return 1u << static_cast<unsigned>(q); }

namespace detail {
/// Per-opcode facts derived from the tables once, at compile time.
struct OpcodeTable {
  int8_t instruction[kNumOpcodes]; // index into kInstructions, or -1
  uint16_t firstField[kNumOpcodes];
  uint8_t numFields[kNumOpcodes];
  uint32_t usedBits[kNumOpcodes][kMaxWords]; // header and field bits
  unsigned maxFields;
};

constexpr uint32_t bitMask(unsigned lsb, unsigned width) {
  return width >= 32 ? ~0u << lsb : ((1u << width) - 1u) << lsb;
}

constexpr OpcodeTable makeOpcodeTable() {
  OpcodeTable t{};
  t.maxFields = 0;
  for (unsigned op = 0; op < kNumOpcodes; ++op) {
    t.instruction[op] = -1;
    t.firstField[op] = static_cast<uint16_t>(kNumFields);
  }
  for (unsigned i = 0; i < kNumInstructions; ++i) {
    unsigned op = static_cast<unsigned>(kInstructions[i].opcode);
    t.instruction[op] = static_cast<int8_t>(i);
    for (const HeaderField &h : kHeaderFields)
      t.usedBits[op][0] |= bitMask(h.lsb, h.width);
  }
  for (unsigned f = 0; f < kNumFields; ++f) {
    unsigned op = static_cast<unsigned>(kFields[f].opcode);
    if (t.numFields[op] == 0)
      t.firstField[op] = static_cast<uint16_t>(f);
    ++t.numFields[op];
    if (t.numFields[op] > t.maxFields)
      t.maxFields = t.numFields[op];
    if (kFields[f].word < kMaxWords)
      t.usedBits[op][kFields[f].word] |=
          bitMask(kFields[f].lsb, kFields[f].width);
  }
  return t;
}

inline constexpr OpcodeTable kOpcodeTable = makeOpcodeTable();

// Consistency checks of Instructions.def, evaluated at compile time.

constexpr bool opcodesAreValidAndDistinct() {
  for (unsigned i = 0; i < kNumInstructions; ++i) {
    unsigned op = static_cast<unsigned>(kInstructions[i].opcode);
    if (op == 0 || op >= kNumOpcodes || kInstructions[i].words == 0 ||
        kInstructions[i].words > kMaxWords)
      return false;
    for (unsigned j = 0; j < i; ++j)
      if (kInstructions[j].opcode == kInstructions[i].opcode)
        return false;
  }
  return true;
}

constexpr bool fieldsAreGroupedByInstruction() {
  for (unsigned f = 0; f < kNumFields; ++f) {
    unsigned op = static_cast<unsigned>(kFields[f].opcode);
    if (f < kOpcodeTable.firstField[op] ||
        f >= kOpcodeTable.firstField[op] + kOpcodeTable.numFields[op])
      return false;
  }
  return true;
}

constexpr bool fieldsFitTheirInstruction() {
  for (const FieldInfo &f : kFields) {
    int instr = kOpcodeTable.instruction[static_cast<unsigned>(f.opcode)];
    if (instr < 0 || f.word >= kInstructions[instr].words || f.width == 0 ||
        f.width > 32 || f.lsb + f.width > 32)
      return false;
  }
  return true;
}

constexpr bool fieldsDoNotOverlap() {
  for (unsigned i = 0; i < kNumFields; ++i) {
    const FieldInfo &a = kFields[i];
    uint32_t bits = bitMask(a.lsb, a.width);
    if (a.word == 0)
      for (const HeaderField &h : kHeaderFields)
        if (bits & bitMask(h.lsb, h.width))
          return false;
    for (unsigned j = 0; j < i; ++j) {
      const FieldInfo &b = kFields[j];
      if (a.opcode == b.opcode && a.word == b.word &&
          (bits & bitMask(b.lsb, b.width)))
        return false;
    }
  }
  return true;
}

constexpr bool fieldTypesAreConsistent() {
  for (const FieldInfo &f : kFields) {
    if ((f.type == FieldType::Enum) != (f.enumId != EnumId::None))
      return false;
    if (f.type == FieldType::Enum &&
        (f.width >= 32 || enumCount(f.enumId) > (1u << f.width)))
      return false;
    if (f.type == FieldType::Signed && f.width < 2)
      return false;
  }
  return true;
}

constexpr bool headerMatchesDesign() {
  return header::opcode.lsb == 28 && header::opcode.width == 4 &&
         header::wait.width == kNumQueues &&
         header::release.width == kNumQueues &&
         enumCount(EnumId::Queue) == kNumQueues;
}

static_assert(opcodesAreValidAndDistinct(),
              "Instructions.def: opcodes must be distinct, in 1..15, with "
              "1..kMaxWords words");
static_assert(fieldsAreGroupedByInstruction(),
              "Instructions.def: list the fields of one instruction together");
static_assert(fieldsFitTheirInstruction(),
              "Instructions.def: a field lies outside its instruction's words");
static_assert(fieldsDoNotOverlap(),
              "Instructions.def: two fields (or a field and the header) "
              "share bits");
static_assert(fieldTypesAreConsistent(),
              "Instructions.def: an Enum field needs an enumeration whose "
              "values fit its width; other fields take None; signed fields "
              "need 2 bits");
static_assert(headerMatchesDesign(), "Instructions.def: header layout");
} // namespace detail

/// The most fields any instruction has.
inline constexpr unsigned kMaxFields = detail::kOpcodeTable.maxFields;

/// The instruction with this opcode value, or nullptr.
constexpr const InstructionInfo *lookupInstruction(uint32_t opcode) {
  if (opcode >= kNumOpcodes || detail::kOpcodeTable.instruction[opcode] < 0)
    return nullptr;
  return &kInstructions[detail::kOpcodeTable.instruction[opcode]];
}

constexpr const InstructionInfo &instructionInfo(Opcode op) {
  return *lookupInstruction(static_cast<uint32_t>(op));
}

/// The length in words of the instruction whose first word is `word0`, or 0
/// if its opcode is unknown.
constexpr unsigned instructionWords(uint32_t word0) {
  const InstructionInfo *info = lookupInstruction(word0 >> header::opcode.lsb);
  return info ? info->words : 0;
}

/// The bits of word `word` of an instruction with opcode `op` that no field
/// covers: they must be zero.
constexpr uint32_t reservedBits(Opcode op, unsigned word) {
  return ~detail::kOpcodeTable.usedBits[static_cast<unsigned>(op)][word];
}

//===----------------------------------------------------------------------===//
// Fields
//===----------------------------------------------------------------------===//

/// A field of one instruction; the named constants LD::addr, MISC::kind, ...
/// below are the way to refer to one.
struct Field {
  FieldId id;

  constexpr const FieldInfo &info() const {
    return kFields[static_cast<unsigned>(id)];
  }
  constexpr Opcode opcode() const { return info().opcode; }
  /// The position among the fields of its instruction.
  constexpr unsigned index() const {
    return static_cast<unsigned>(id) -
           detail::kOpcodeTable.firstField[static_cast<unsigned>(opcode())];
  }
  constexpr uint32_t bitMask() const {
    return detail::bitMask(info().lsb, info().width);
  }
  /// The smallest value the field holds.
  constexpr int64_t min() const {
    return info().type == FieldType::Signed
               ? -(int64_t(1) << (info().width - 1))
               : 0;
  }
  /// The largest value the field holds.
  constexpr int64_t max() const {
    switch (info().type) {
    case FieldType::Signed:
      return (int64_t(1) << (info().width - 1)) - 1;
    case FieldType::Enum:
      return int64_t(enumCount(info().enumId)) - 1;
    case FieldType::Unsigned:
      break;
    }
    return (int64_t(1) << info().width) - 1;
  }
  constexpr bool inRange(int64_t value) const {
    return value >= min() && value <= max();
  }
  /// The field's value in an encoded instruction (sign-extended if signed).
  /// No range check: use decode() on untrusted words.
  constexpr int64_t extract(const uint32_t *words) const {
    int64_t raw = (words[info().word] & bitMask()) >> info().lsb;
    if (info().type == FieldType::Signed &&
        (raw >> (info().width - 1)) != 0)
      raw -= int64_t(1) << info().width;
    return raw;
  }
  /// Writes `value` (which must be inRange) into encoded words.
  constexpr void insert(uint32_t *words, int64_t value) const {
    uint32_t bits = static_cast<uint32_t>(static_cast<uint64_t>(value)
                                          << info().lsb) &
                    bitMask();
    words[info().word] = (words[info().word] & ~bitMask()) | bits;
  }
};

constexpr Field fieldOf(unsigned index) {
  return Field{static_cast<FieldId>(index)};
}

#define FLIGHT_ISA_FIELD(Inst, Name, Word, Lsb, Width, Type, Enum, Doc)        \
  namespace Inst {                                                             \
  inline constexpr Field Name{FieldId::Inst##_##Name};                         \
  }
#include "flightllm/ISA/Instructions.def"

/// The fields of the instruction with opcode `op`: kFields[first, first+count).
constexpr unsigned firstFieldIndex(Opcode op) {
  return detail::kOpcodeTable.firstField[static_cast<unsigned>(op)];
}
constexpr unsigned numFields(Opcode op) {
  return detail::kOpcodeTable.numFields[static_cast<unsigned>(op)];
}

//===----------------------------------------------------------------------===//
// Instructions
//===----------------------------------------------------------------------===//

/// Why encode() or decode() refused.
enum class Status : uint8_t {
  Ok,
  /// A field value lies outside [Field::min(), Field::max()] (encode), or
  /// an Enum field holds no value of its enumeration (decode).
  FieldOutOfRange,
  /// Instruction::set() named a field of another instruction.
  FieldNotInInstruction,
  /// A wait or release mask has bits above the five queues.
  MaskOutOfRange,
  /// A wait or release mask names the instruction's own queue.
  SelfDependency,
  /// The opcode is not an instruction.
  UnknownOpcode,
  /// decode(): fewer words remain than the instruction needs.
  Truncated,
  /// encode(): the output holds fewer words than the instruction needs.
  BufferTooSmall,
  /// decode(): a bit no field covers is set.
  ReservedBitsSet,
};

constexpr const char *statusName(Status s) {
  switch (s) {
  case Status::Ok:
    return "ok";
  case Status::FieldOutOfRange:
    return "field value out of range";
  case Status::FieldNotInInstruction:
    return "field of another instruction";
  case Status::MaskOutOfRange:
    return "wait/release mask out of range";
  case Status::SelfDependency:
    return "wait/release mask names the instruction's own queue";
  case Status::UnknownOpcode:
    return "unknown opcode";
  case Status::Truncated:
    return "truncated instruction stream";
  case Status::BufferTooSmall:
    return "output buffer too small";
  case Status::ReservedBitsSet:
    return "reserved bits set";
  }
  return "unknown status";
}

/// One decoded instruction. Field values are held as int64_t so that a value
/// a field cannot hold (negative for an unsigned field, above its maximum)
/// survives until encode() reports it; decode() only produces values in
/// range (uint32_t or int32_t).
struct Instruction {
  Opcode opcode = Opcode::SYS;
  uint8_t wait = 0;    ///< Bit i set: take a token from queue i first.
  uint8_t release = 0; ///< Bit i set: give a token to queue i when done.
  /// The first field passed to set() that belongs to another instruction.
  int32_t foreignField = -1;
  /// Values in the order of the instruction's fields (Field::index()).
  int64_t values[kMaxFields] = {};

  constexpr Instruction() = default;
  constexpr explicit Instruction(Opcode op) : opcode(op) {}

  constexpr const InstructionInfo &info() const {
    return instructionInfo(opcode);
  }
  constexpr Queue queue() const { return info().queue; }
  constexpr bool has(Field f) const { return f.opcode() == opcode; }

  /// The value of `f`; 0 if `f` belongs to another instruction.
  constexpr int64_t get(Field f) const {
    return has(f) ? values[f.index()] : 0;
  }
  template <typename E> constexpr E getEnum(Field f) const {
    return static_cast<E>(get(f));
  }

  /// Sets `f` to `value`; the range is checked by encode(). Naming a field
  /// of another instruction is remembered and reported by encode().
  constexpr Instruction &set(Field f, int64_t value) {
    if (has(f))
      values[f.index()] = value;
    else if (foreignField < 0)
      foreignField = static_cast<int32_t>(f.id);
    return *this;
  }
#define FLIGHT_ISA_ENUM(Name, Doc)                                             \
  constexpr Instruction &set(Field f, Name value) {                            \
    return set(f, static_cast<int64_t>(value));                                \
  }
#include "flightllm/ISA/Instructions.def"

  constexpr Instruction &waitOn(Queue q) {
    wait = static_cast<uint8_t>(wait | queueBit(q));
    return *this;
  }
  constexpr Instruction &releaseTo(Queue q) {
    release = static_cast<uint8_t>(release | queueBit(q));
    return *this;
  }
};

constexpr bool operator==(const Instruction &a, const Instruction &b) {
  if (a.opcode != b.opcode || a.wait != b.wait || a.release != b.release ||
      a.foreignField != b.foreignField)
    return false;
  for (unsigned i = 0; i < kMaxFields; ++i)
    if (a.values[i] != b.values[i])
      return false;
  return true;
}
constexpr bool operator!=(const Instruction &a, const Instruction &b) {
  return !(a == b);
}

/// Checks everything encode() checks, without writing. On FieldOutOfRange or
/// FieldNotInInstruction, `*badField` (if given) names the field.
constexpr Status validate(const Instruction &inst,
                          FieldId *badField = nullptr) {
  const InstructionInfo *info =
      lookupInstruction(static_cast<uint32_t>(inst.opcode));
  if (!info)
    return Status::UnknownOpcode;
  if (inst.foreignField >= 0) {
    if (badField)
      *badField = static_cast<FieldId>(inst.foreignField);
    return Status::FieldNotInInstruction;
  }
  constexpr unsigned allQueues = (1u << kNumQueues) - 1;
  if ((inst.wait & ~allQueues) || (inst.release & ~allQueues))
    return Status::MaskOutOfRange;
  if ((inst.wait | inst.release) & queueBit(info->queue))
    return Status::SelfDependency;
  unsigned first = firstFieldIndex(inst.opcode);
  for (unsigned i = 0, e = numFields(inst.opcode); i < e; ++i) {
    if (!fieldOf(first + i).inRange(inst.values[i])) {
      if (badField)
        *badField = static_cast<FieldId>(first + i);
      return Status::FieldOutOfRange;
    }
  }
  return Status::Ok;
}

/// Encodes `inst` into words[0 .. instructionInfo(inst.opcode).words). Writes
/// nothing unless the result is Status::Ok. Values are never truncated: a
/// value outside its field's range is FieldOutOfRange, naming the field in
/// `*badField`.
constexpr Status encode(const Instruction &inst, uint32_t *words, size_t cap,
                        FieldId *badField = nullptr) {
  if (Status s = validate(inst, badField); s != Status::Ok)
    return s;
  const InstructionInfo &info = inst.info();
  if (cap < info.words)
    return Status::BufferTooSmall;
  uint32_t out[kMaxWords] = {};
  out[0] = static_cast<uint32_t>(inst.opcode) << header::opcode.lsb |
           static_cast<uint32_t>(inst.wait) << header::wait.lsb |
           static_cast<uint32_t>(inst.release) << header::release.lsb;
  unsigned first = firstFieldIndex(inst.opcode);
  for (unsigned i = 0, e = numFields(inst.opcode); i < e; ++i)
    fieldOf(first + i).insert(out, inst.values[i]);
  for (unsigned w = 0; w < info.words; ++w)
    words[w] = out[w];
  return Status::Ok;
}

/// Decodes the instruction at words[0]; `n` words are available. On success
/// `consumed` is its length in words. Rejects unknown opcodes, truncated
/// input, set reserved bits, masks naming the own queue and Enum fields
/// holding no enumerator (naming the field in `*badField`), so that decode
/// accepts exactly what encode produces.
constexpr Status decode(const uint32_t *words, size_t n, Instruction &out,
                        size_t &consumed, FieldId *badField = nullptr) {
  consumed = 0;
  if (n == 0)
    return Status::Truncated;
  const InstructionInfo *info = lookupInstruction(words[0] >> header::opcode.lsb);
  if (!info)
    return Status::UnknownOpcode;
  if (n < info->words)
    return Status::Truncated;
  for (unsigned w = 0; w < info->words; ++w)
    if (words[w] & reservedBits(info->opcode, w))
      return Status::ReservedBitsSet;
  Instruction inst(info->opcode);
  inst.wait = static_cast<uint8_t>((words[0] >> header::wait.lsb) &
                                   ((1u << header::wait.width) - 1));
  inst.release = static_cast<uint8_t>((words[0] >> header::release.lsb) &
                                      ((1u << header::release.width) - 1));
  if ((inst.wait | inst.release) & queueBit(info->queue))
    return Status::SelfDependency;
  unsigned first = firstFieldIndex(info->opcode);
  for (unsigned i = 0, e = numFields(info->opcode); i < e; ++i) {
    Field f = fieldOf(first + i);
    inst.values[i] = f.extract(words);
    if (!f.inRange(inst.values[i])) {
      if (badField)
        *badField = f.id;
      return Status::FieldOutOfRange;
    }
  }
  out = inst;
  consumed = info->words;
  return Status::Ok;
}

//===----------------------------------------------------------------------===//
// Byte order: streams are stored as little-endian 32-bit words.
//===----------------------------------------------------------------------===//

constexpr uint32_t loadWordLE(const uint8_t *bytes) {
  return uint32_t(bytes[0]) | uint32_t(bytes[1]) << 8 |
         uint32_t(bytes[2]) << 16 | uint32_t(bytes[3]) << 24;
}

constexpr void storeWordLE(uint32_t word, uint8_t *bytes) {
  for (unsigned i = 0; i < 4; ++i)
    bytes[i] = static_cast<uint8_t>(word >> (8 * i));
}

} // namespace flightllm::isa

#endif // FLIGHTLLM_ISA_ISA_H
