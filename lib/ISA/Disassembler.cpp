//===- Disassembler.cpp - Text for FlightLLM instructions -----------------===//

#include "flightllm/ISA/Disassembler.h"

#include "llvm/Support/Format.h"

using namespace flightllm::isa;

std::string flightllm::isa::qualifiedFieldName(FieldId field) {
  const FieldInfo &info = Field{field}.info();
  return std::string(instructionInfo(info.opcode).mnemonic) + "." + info.name;
}

void flightllm::isa::printQueueMask(llvm::raw_ostream &os,
                                    llvm::StringRef label, unsigned mask) {
  os << label << '{';
  bool first = true;
  for (unsigned q = 0; q < 8; ++q) {
    if (!(mask & (1u << q)))
      continue;
    if (!first)
      os << ',';
    first = false;
    if (const char *name = enumValueName(EnumId::Queue, q))
      os << name;
    else
      os << "bit" << q;
  }
  os << '}';
}

static void printFieldValue(llvm::raw_ostream &os, Field f, int64_t value) {
  if (f.info().type == FieldType::Enum)
    if (const char *name = enumValueName(f.info().enumId, value)) {
      os << name;
      return;
    }
  os << value;
}

void flightllm::isa::printInstruction(llvm::raw_ostream &os,
                                      const Instruction &inst) {
  const InstructionInfo *info =
      lookupInstruction(static_cast<uint32_t>(inst.opcode));
  if (!info) {
    os << "<opcode " << static_cast<unsigned>(inst.opcode) << '>';
    return;
  }
  os << info->mnemonic << ' ';
  printQueueMask(os, "wait", inst.wait);
  os << ' ';
  printQueueMask(os, "release", inst.release);
  unsigned first = firstFieldIndex(inst.opcode);
  for (unsigned i = 0, e = numFields(inst.opcode); i < e; ++i) {
    Field f = fieldOf(first + i);
    os << ' ' << f.info().name << '=';
    printFieldValue(os, f, inst.values[i]);
  }
}

std::string flightllm::isa::formatInstruction(const Instruction &inst) {
  std::string text;
  llvm::raw_string_ostream os(text);
  printInstruction(os, inst);
  return text;
}

std::string flightllm::isa::describeStatus(Status status,
                                           const Instruction &inst,
                                           FieldId badField) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << statusName(status);
  switch (status) {
  case Status::FieldOutOfRange: {
    Field f{badField};
    os << ": " << qualifiedFieldName(badField) << " = "
       << (f.opcode() == inst.opcode ? inst.get(f) : 0) << " (range "
       << f.min() << ".." << f.max();
    if (f.info().type == FieldType::Enum)
      os << ", " << enumInfo(f.info().enumId).name;
    os << ')';
    break;
  }
  case Status::FieldNotInInstruction:
    os << ": " << qualifiedFieldName(badField) << " set on "
       << instructionInfo(inst.opcode).mnemonic;
    break;
  case Status::MaskOutOfRange:
  case Status::SelfDependency:
    os << ": ";
    printQueueMask(os, "wait", inst.wait);
    os << ' ';
    printQueueMask(os, "release", inst.release);
    break;
  case Status::UnknownOpcode:
    os << ' ' << static_cast<unsigned>(inst.opcode);
    break;
  default:
    break;
  }
  return text;
}

llvm::Error
flightllm::isa::encodeInstruction(const Instruction &inst,
                                  llvm::SmallVectorImpl<uint32_t> &out) {
  uint32_t words[kMaxWords];
  FieldId bad{};
  Status status = encode(inst, words, kMaxWords, &bad);
  if (status != Status::Ok) {
    const InstructionInfo *info =
        lookupInstruction(static_cast<uint32_t>(inst.opcode));
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "cannot encode %s: %s",
        info ? info->mnemonic : "instruction",
        describeStatus(status, inst, bad).c_str());
  }
  out.append(words, words + inst.info().words);
  return llvm::Error::success();
}

namespace {
/// Walks a stream instruction by instruction; the error names the offset.
template <typename Fn>
llvm::Error forEachInstruction(llvm::ArrayRef<uint32_t> words,
                               uint64_t startIndex, Fn &&fn) {
  uint64_t index = startIndex;
  for (size_t offset = 0; offset < words.size(); ++index) {
    Instruction inst;
    size_t consumed = 0;
    FieldId bad{};
    Status status = decode(words.data() + offset, words.size() - offset, inst,
                           consumed, &bad);
    if (status != Status::Ok) {
      std::string detail;
      llvm::raw_string_ostream os(detail);
      os << statusName(status);
      uint32_t word0 = words[offset];
      const InstructionInfo *info =
          lookupInstruction(word0 >> header::opcode.lsb);
      if (status == Status::UnknownOpcode)
        os << ' ' << (word0 >> header::opcode.lsb);
      else if (status == Status::Truncated)
        os << ": " << info->mnemonic << " needs " << unsigned(info->words)
           << " words, " << (words.size() - offset) << " remain";
      else if (status == Status::FieldOutOfRange)
        os << ": " << qualifiedFieldName(bad) << " = "
           << Field{bad}.extract(words.data() + offset) << " (range "
           << Field{bad}.min() << ".." << Field{bad}.max() << ')';
      else if (info)
        os << " in " << info->mnemonic;
      os << " (word 0x" << llvm::format_hex_no_prefix(word0, 8) << ')';
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "word offset %zu (instruction %llu): %s", offset,
          static_cast<unsigned long long>(index), detail.c_str());
    }
    fn(index, offset, inst);
    offset += consumed;
  }
  return llvm::Error::success();
}
} // namespace

llvm::Error
flightllm::isa::decodeStream(llvm::ArrayRef<uint32_t> words,
                             llvm::SmallVectorImpl<Instruction> &out) {
  return forEachInstruction(
      words, 0, [&](uint64_t, size_t, const Instruction &inst) {
        out.push_back(inst);
      });
}

llvm::Error flightllm::isa::disassemble(llvm::ArrayRef<uint32_t> words,
                                        llvm::raw_ostream &os,
                                        uint64_t startIndex) {
  return forEachInstruction(
      words, startIndex,
      [&](uint64_t index, size_t offset, const Instruction &inst) {
        os << index << " @" << offset << ": ";
        printInstruction(os, inst);
        os << '\n';
      });
}
