//===- BinaryRomTest.cpp - ROM images: exact text of every format ---------===//

#include "flightllm/Binary/Rom.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

using namespace flightllm::binary;

namespace {

const std::vector<uint8_t> kFiveBytes = {0x01, 0x02, 0x03, 0x04, 0x05};

std::string rom(const std::vector<uint8_t> &image, RomFormat format,
                RomOptions options = {}) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (llvm::Error e = writeRom(image, format, options, os))
    return "error: " + llvm::toString(std::move(e));
  return text;
}

TEST(Rom, ParsesFormatNames) {
  EXPECT_EQ(parseRomFormat("bin"), RomFormat::Bin);
  EXPECT_EQ(parseRomFormat("coe"), RomFormat::Coe);
  EXPECT_EQ(parseRomFormat("mem"), RomFormat::Mem);
  EXPECT_EQ(parseRomFormat("h"), RomFormat::CHeader);
  EXPECT_EQ(parseRomFormat("hex"), std::nullopt);
  EXPECT_EQ(romFormatName(RomFormat::CHeader), "h");
}

TEST(Rom, BinPadsToAWholeWord) {
  EXPECT_EQ(rom(kFiveBytes, RomFormat::Bin),
            std::string("\x01\x02\x03\x04\x05\0\0\0", 8));
  RomOptions bytes;
  bytes.wordBits = 8;
  EXPECT_EQ(rom(kFiveBytes, RomFormat::Bin, bytes),
            std::string("\x01\x02\x03\x04\x05", 5));
  EXPECT_EQ(rom({}, RomFormat::Bin), "");
}

TEST(Rom, Coe) {
  EXPECT_EQ(rom(kFiveBytes, RomFormat::Coe),
            "; rom: 5 bytes as 2 words of 32 bits, little-endian, last word "
            "zero-padded\n"
            "memory_initialization_radix=16;\n"
            "memory_initialization_vector=\n"
            "04030201,\n"
            "00000005;\n");
  RomOptions options;
  options.wordBits = 16;
  options.name = "stream 0";
  EXPECT_EQ(rom({0xAB, 0xCD, 0xEF, 0x01}, RomFormat::Coe, options),
            "; stream_0: 4 bytes as 2 words of 16 bits, little-endian\n"
            "memory_initialization_radix=16;\n"
            "memory_initialization_vector=\n"
            "cdab,\n"
            "01ef;\n");
}

TEST(Rom, Mem) {
  EXPECT_EQ(rom(kFiveBytes, RomFormat::Mem),
            "// rom: 5 bytes as 2 words of 32 bits, little-endian, last word "
            "zero-padded\n"
            "04030201\n"
            "00000005\n");
  RomOptions options;
  options.wordBits = 16;
  options.memAddressInterval = 2;
  options.memBaseAddress = 0x100;
  EXPECT_EQ(rom(kFiveBytes, RomFormat::Mem, options),
            "// rom: 5 bytes as 3 words of 16 bits, little-endian, last word "
            "zero-padded\n"
            "@100\n"
            "0201\n"
            "0403\n"
            "@102\n"
            "0005\n");
  options.wordBits = 8;
  options.memAddressInterval = 1000;
  options.memBaseAddress = 0;
  EXPECT_EQ(rom({0xFF}, RomFormat::Mem, options),
            "// rom: 1 byte as 1 word of 8 bits, little-endian\n"
            "@0\n"
            "ff\n");
}

TEST(Rom, WideWordsPutByteZeroLast) {
  std::vector<uint8_t> image(17);
  for (size_t i = 0; i < image.size(); ++i)
    image[i] = static_cast<uint8_t>(i);
  RomOptions options;
  options.wordBits = 128;
  EXPECT_EQ(rom(image, RomFormat::Mem, options),
            "// rom: 17 bytes as 2 words of 128 bits, little-endian, last "
            "word zero-padded\n"
            "0f0e0d0c0b0a09080706050403020100\n"
            "00000000000000000000000000000010\n");
}

TEST(Rom, CHeader) {
  RomOptions options;
  options.name = "decode-stream.3";
  std::vector<uint8_t> image(37);
  for (size_t i = 0; i < image.size(); ++i)
    image[i] = static_cast<uint8_t>(0xA0 + i);
  EXPECT_EQ(rom(image, RomFormat::CHeader, options),
            "/* decode_stream_3: 37 bytes as 10 words of 32 bits, "
            "little-endian, last word zero-padded. */\n"
            "#ifndef FLIGHTLLM_ROM_DECODE_STREAM_3_H\n"
            "#define FLIGHTLLM_ROM_DECODE_STREAM_3_H\n"
            "\n"
            "#include <stddef.h>\n"
            "#include <stdint.h>\n"
            "\n"
            "static const uint32_t decode_stream_3[] = {\n"
            "    0xa3a2a1a0u, 0xa7a6a5a4u, 0xabaaa9a8u, 0xafaeadacu, "
            "0xb3b2b1b0u, 0xb7b6b5b4u, 0xbbbab9b8u, 0xbfbebdbcu,\n"
            "    0xc3c2c1c0u, 0x000000c4u\n"
            "};\n"
            "static const size_t decode_stream_3_len = 10;\n"
            "static const size_t decode_stream_3_bytes = 37;\n"
            "\n"
            "#endif /* FLIGHTLLM_ROM_DECODE_STREAM_3_H */\n");

  options.name = "7";
  options.wordBits = 64;
  EXPECT_EQ(rom(kFiveBytes, RomFormat::CHeader, options),
            "/* rom_7: 5 bytes as 1 word of 64 bits, little-endian, last "
            "word zero-padded. */\n"
            "#ifndef FLIGHTLLM_ROM_ROM_7_H\n"
            "#define FLIGHTLLM_ROM_ROM_7_H\n"
            "\n"
            "#include <stddef.h>\n"
            "#include <stdint.h>\n"
            "\n"
            "static const uint64_t rom_7[] = {\n"
            "    0x0000000504030201ull\n"
            "};\n"
            "static const size_t rom_7_len = 1;\n"
            "static const size_t rom_7_bytes = 5;\n"
            "\n"
            "#endif /* FLIGHTLLM_ROM_ROM_7_H */\n");
}

TEST(Rom, Errors) {
  RomOptions options;
  for (unsigned bits : {0u, 12u, 2048u}) {
    options.wordBits = bits;
    EXPECT_EQ(rom(kFiveBytes, RomFormat::Coe, options),
              "error: word width " + std::to_string(bits) +
                  " is not a multiple of 8 between 8 and 1024");
  }
  options.wordBits = 24;
  EXPECT_EQ(rom(kFiveBytes, RomFormat::CHeader, options),
            "error: a C header takes 8, 16, 32 or 64-bit words, not 24");
  EXPECT_NE(rom(kFiveBytes, RomFormat::Mem, options).rfind("error", 0), 0u);
  EXPECT_EQ(rom({}, RomFormat::Coe),
            "error: the image is empty: a .coe file needs at least one word");
  EXPECT_EQ(rom({}, RomFormat::CHeader),
            "error: the image is empty: a .h file needs at least one word");
}

TEST(Rom, CIdentifiers) {
  EXPECT_EQ(cIdentifier("model"), "model");
  EXPECT_EQ(cIdentifier("stream 3.bin"), "stream_3_bin");
  EXPECT_EQ(cIdentifier("3d"), "rom_3d");
  EXPECT_EQ(cIdentifier("_x"), "rom_x");
  EXPECT_EQ(cIdentifier(""), "rom");
  EXPECT_EQ(cIdentifier("int"), "int_");
  EXPECT_EQ(cIdentifier("class"), "class_");
  EXPECT_EQ(cIdentifier("a*/b"), "a__b");
  EXPECT_EQ(cIdentifier("Weights_0"), "Weights_0");
}

} // namespace
