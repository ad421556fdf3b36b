//===- RomWriter.cpp - ROM images of byte images --------------------------===//

#include "flightllm/Binary/Rom.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Format.h"

using namespace flightllm::binary;

std::optional<RomFormat>
flightllm::binary::parseRomFormat(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<RomFormat>>(name)
      .Case("bin", RomFormat::Bin)
      .Case("coe", RomFormat::Coe)
      .Case("mem", RomFormat::Mem)
      .Case("h", RomFormat::CHeader)
      .Default(std::nullopt);
}

llvm::StringRef flightllm::binary::romFormatName(RomFormat format) {
  switch (format) {
  case RomFormat::Bin:
    return "bin";
  case RomFormat::Coe:
    return "coe";
  case RomFormat::Mem:
    return "mem";
  case RomFormat::CHeader:
    return "h";
  }
  return "?";
}

std::string flightllm::binary::cIdentifier(llvm::StringRef name) {
  std::string id;
  for (char c : name)
    id.push_back(llvm::isAlnum(c) || c == '_' ? c : '_');
  // Names starting with a digit are invalid, with '_' reserved at file scope.
  if (id.empty())
    id = "rom";
  else if (!llvm::isAlpha(id[0]))
    id = (id[0] == '_' ? "rom" : "rom_") + id;
  // Keywords of C (up to C23) and C++ (the runtime includes these headers).
  static const char *const keywords[] = {"alignas",
                                         "alignof",
                                         "and",
                                         "and_eq",
                                         "asm",
                                         "auto",
                                         "bitand",
                                         "bitor",
                                         "bool",
                                         "break",
                                         "case",
                                         "catch",
                                         "char",
                                         "char16_t",
                                         "char32_t",
                                         "char8_t",
                                         "class",
                                         "co_await",
                                         "co_return",
                                         "co_yield",
                                         "compl",
                                         "concept",
                                         "const",
                                         "const_cast",
                                         "consteval",
                                         "constexpr",
                                         "constinit",
                                         "continue",
                                         "decltype",
                                         "default",
                                         "delete",
                                         "do",
                                         "double",
                                         "dynamic_cast",
                                         "else",
                                         "enum",
                                         "explicit",
                                         "export",
                                         "extern",
                                         "false",
                                         "float",
                                         "for",
                                         "friend",
                                         "goto",
                                         "if",
                                         "inline",
                                         "int",
                                         "long",
                                         "mutable",
                                         "namespace",
                                         "new",
                                         "noexcept",
                                         "not",
                                         "not_eq",
                                         "nullptr",
                                         "operator",
                                         "or",
                                         "or_eq",
                                         "private",
                                         "protected",
                                         "public",
                                         "register",
                                         "reinterpret_cast",
                                         "requires",
                                         "restrict",
                                         "return",
                                         "short",
                                         "signed",
                                         "sizeof",
                                         "static",
                                         "static_assert",
                                         "static_cast",
                                         "struct",
                                         "switch",
                                         "template",
                                         "this",
                                         "thread_local",
                                         "throw",
                                         "true",
                                         "try",
                                         "typedef",
                                         "typeid",
                                         "typename",
                                         "typeof",
                                         "typeof_unqual",
                                         "union",
                                         "unsigned",
                                         "using",
                                         "virtual",
                                         "void",
                                         "volatile",
                                         "wchar_t",
                                         "while",
                                         "xor",
                                         "xor_eq"};
  if (llvm::is_contained(keywords, llvm::StringRef(id)))
    id.push_back('_');
  return id;
}

namespace {

/// Calls `fn(wordIndex, hexDigits)` for each word of the image.
template <typename Fn>
void forEachHexWord(llvm::ArrayRef<uint8_t> image, unsigned wordBytes,
                    Fn &&fn) {
  uint64_t words = llvm::divideCeil(image.size(), wordBytes);
  std::string hex(2 * wordBytes, '0');
  for (uint64_t w = 0; w < words; ++w) {
    for (unsigned b = 0; b < wordBytes; ++b) {
      uint64_t at = w * wordBytes + b;
      uint8_t byte = at < image.size() ? image[at] : 0;
      // Byte b is the b-th least significant: printed from the right.
      size_t pos = 2 * (wordBytes - 1 - b);
      hex[pos] = llvm::hexdigit(byte >> 4, /*LowerCase=*/true);
      hex[pos + 1] = llvm::hexdigit(byte & 0xF, /*LowerCase=*/true);
    }
    fn(w, llvm::StringRef(hex));
  }
}

/// "rom: 5 bytes as 2 words of 32 bits, little-endian, last word zero-padded"
std::string describe(llvm::ArrayRef<uint8_t> image, const RomOptions &options) {
  unsigned wordBytes = options.wordBits / 8;
  uint64_t words = llvm::divideCeil(image.size(), wordBytes);
  std::string text;
  llvm::raw_string_ostream os(text);
  // The identifier form of the name: safe inside any comment syntax.
  os << cIdentifier(options.name) << ": " << image.size()
     << (image.size() == 1 ? " byte" : " bytes") << " as " << words
     << (words == 1 ? " word" : " words") << " of " << options.wordBits
     << " bits, little-endian";
  if (image.size() % wordBytes != 0)
    os << ", last word zero-padded";
  return text;
}

} // namespace

llvm::Error flightllm::binary::writeRom(llvm::ArrayRef<uint8_t> image,
                                        RomFormat format,
                                        const RomOptions &options,
                                        llvm::raw_ostream &os) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  const unsigned bits = options.wordBits;
  if (bits == 0 || bits % 8 != 0 || bits > 1024)
    return error("word width " + llvm::Twine(bits) +
                 " is not a multiple of 8 between 8 and 1024");
  if (format == RomFormat::CHeader && bits != 8 && bits != 16 && bits != 32 &&
      bits != 64)
    return error("a C header takes 8, 16, 32 or 64-bit words, not " +
                 llvm::Twine(bits));
  if (format != RomFormat::Bin && image.empty())
    return error("the image is empty: a ." + romFormatName(format) +
                 " file needs at least one word");
  const unsigned wordBytes = bits / 8;
  const uint64_t words = llvm::divideCeil(image.size(), wordBytes);

  switch (format) {
  case RomFormat::Bin:
    os.write(reinterpret_cast<const char *>(image.data()), image.size());
    os.write_zeros(words * wordBytes - image.size());
    break;

  case RomFormat::Coe:
    os << "; " << describe(image, options) << "\n"
       << "memory_initialization_radix=16;\n"
       << "memory_initialization_vector=\n";
    forEachHexWord(image, wordBytes, [&](uint64_t w, llvm::StringRef hex) {
      os << hex << (w + 1 == words ? ";\n" : ",\n");
    });
    break;

  case RomFormat::Mem: {
    os << "// " << describe(image, options) << "\n";
    const unsigned interval = options.memAddressInterval;
    forEachHexWord(image, wordBytes, [&](uint64_t w, llvm::StringRef hex) {
      if (interval != 0 && w % interval == 0)
        os << "@" << llvm::format_hex_no_prefix(options.memBaseAddress + w, 1)
           << "\n";
      os << hex << "\n";
    });
    break;
  }

  case RomFormat::CHeader: {
    const std::string id = cIdentifier(options.name);
    const std::string guard =
        "FLIGHTLLM_ROM_" + llvm::StringRef(id).upper() + "_H";
    os << "/* " << describe(image, options) << ". */\n"
       << "#ifndef " << guard << "\n"
       << "#define " << guard << "\n\n"
       << "#include <stddef.h>\n"
       << "#include <stdint.h>\n\n"
       << "static const uint" << bits << "_t " << id << "[] = {";
    const unsigned perLine = wordBytes == 1 ? 16 : wordBytes == 8 ? 4 : 8;
    const llvm::StringRef suffix = bits == 64 ? "ull" : "u";
    forEachHexWord(image, wordBytes, [&](uint64_t w, llvm::StringRef hex) {
      os << (w % perLine == 0 ? "\n    " : " ") << "0x" << hex << suffix
         << (w + 1 == words ? "" : ",");
    });
    os << "\n};\n"
       << "static const size_t " << id << "_len = " << words << ";\n"
       << "static const size_t " << id << "_bytes = " << image.size() << ";\n\n"
       << "#endif /* " << guard << " */\n";
    break;
  }
  }
  return llvm::Error::success();
}
