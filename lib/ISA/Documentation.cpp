//===- Documentation.cpp - docs/isa.md's tables from Instructions.def -----===//

#include "flightllm/ISA/Disassembler.h"

using namespace flightllm::isa;

static void printBits(llvm::raw_ostream &os, unsigned lsb, unsigned width) {
  os << "`[" << (lsb + width - 1);
  if (width > 1)
    os << ':' << lsb;
  os << "]`";
}

static const char *typeName(const FieldInfo &f) {
  switch (f.type) {
  case FieldType::Unsigned:
    return "unsigned";
  case FieldType::Signed:
    return "signed";
  case FieldType::Enum:
    return enumInfo(f.enumId).name;
  }
  return "";
}

/// The runs of reserved bits of one word, "word 2 `[31:22]`", comma separated.
static void printReserved(llvm::raw_ostream &os, Opcode op, unsigned words) {
  bool any = false;
  for (unsigned w = 0; w < words; ++w) {
    uint32_t reserved = reservedBits(op, w);
    for (int bit = 31; bit >= 0;) {
      if (!(reserved & (1u << bit))) {
        --bit;
        continue;
      }
      int lsb = bit;
      while (lsb > 0 && (reserved & (1u << (lsb - 1))))
        --lsb;
      os << (any ? ", " : "") << "word " << w << ' ';
      printBits(os, lsb, bit - lsb + 1);
      any = true;
      bit = lsb - 1;
    }
  }
  os << (any ? "" : "none");
}

static void printFieldTable(llvm::raw_ostream &os, const InstructionInfo &info) {
  os << "#### " << info.mnemonic << " (opcode " << unsigned(info.opcode)
     << ", " << unsigned(info.words) << (info.words == 1 ? " word" : " words")
     << ", queue `" << enumValueName(EnumId::Queue, unsigned(info.queue))
     << "`)\n\n"
     << info.doc << ".\n\n"
     << "| word | bits | field | type | range | meaning |\n"
     << "| --- | --- | --- | --- | --- | --- |\n";
  unsigned first = firstFieldIndex(info.opcode);
  for (unsigned i = 0, e = numFields(info.opcode); i < e; ++i) {
    Field f = fieldOf(first + i);
    const FieldInfo &fi = f.info();
    os << "| " << unsigned(fi.word) << " | ";
    printBits(os, fi.lsb, fi.width);
    os << " | `" << fi.name << "` | " << typeName(fi) << " | " << f.min()
       << ".." << f.max() << " | " << fi.doc << " |\n";
  }
  os << "\nReserved, must be 0: ";
  printReserved(os, info.opcode, info.words);
  os << ".\n\n";
}

void flightllm::isa::printMarkdownTables(llvm::raw_ostream &os) {
  os << kDocBeginMarker << "\n\n";

  os << "#### Constants\n\n| name | value | meaning |\n| --- | --- | --- |\n";
  for (const ConstantInfo &c : kConstants)
    os << "| `" << c.name << "` | " << c.value << " | " << c.doc << " |\n";

  os << "\n#### Header (word 0 of every instruction)\n\n"
     << "| bits | field | meaning |\n| --- | --- | --- |\n";
  for (const HeaderField &h : kHeaderFields) {
    os << "| ";
    printBits(os, h.lsb, h.width);
    os << " | `" << h.name << "` | " << h.doc << " |\n";
  }

  os << "\n#### Instructions\n\n"
     << "| mnemonic | opcode | words | queue | meaning |\n"
     << "| --- | --- | --- | --- | --- |\n";
  for (const InstructionInfo &info : kInstructions)
    os << "| `" << info.mnemonic << "` | " << unsigned(info.opcode) << " | "
       << unsigned(info.words) << " | "
       << enumValueName(EnumId::Queue, unsigned(info.queue)) << " | "
       << info.doc << " |\n";
  os << '\n';

  for (const InstructionInfo &info : kInstructions)
    printFieldTable(os, info);

  os << "#### Enumerations\n";
  for (unsigned e = 1; e < kNumEnums; ++e) {
    os << "\n`" << kEnums[e].name << "`: " << kEnums[e].doc << ".\n\n"
       << "| value | name | meaning |\n| --- | --- | --- |\n";
    for (const EnumValueInfo &v : kEnumValues)
      if (static_cast<unsigned>(v.enumId) == e)
        os << "| " << unsigned(v.value) << " | `" << v.name << "` | " << v.doc
           << " |\n";
  }
  os << '\n' << kDocEndMarker << '\n';
}
