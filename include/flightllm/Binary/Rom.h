//===- Rom.h - ROM images of byte images ------------------------*- C++ -*-===//
//
// Turns a byte image (a whole .flb, one instruction stream, one weight image)
// into the files FPGA flows and firmware take: a raw binary, a Xilinx .coe
// memory initialization file, a Verilog $readmemh .mem file, or a C header.
//
// The image is cut into words of `wordBits` bits, little-endian (byte 0 is the
// least significant byte of word 0), so a 32-bit ROM of an instruction stream
// holds exactly the stream's instruction words. A last partial word is padded
// with zero bytes; every format holds the same ceil(size / word bytes) words.
// Text formats print words as fixed-width lowercase hex.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_BINARY_ROM_H
#define FLIGHTLLM_BINARY_ROM_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <optional>
#include <string>

namespace flightllm::binary {

enum class RomFormat {
  Bin,     // the words as raw bytes (the image, zero-padded to a whole word)
  Coe,     // Xilinx coefficient file, radix 16
  Mem,     // Verilog $readmemh: one word per line, optional @address lines
  CHeader, // static const uintN_t NAME[] = {...}; static const size_t NAME_len
};

/// "bin", "coe", "mem" or "h".
std::optional<RomFormat> parseRomFormat(llvm::StringRef name);
llvm::StringRef romFormatName(RomFormat format);

struct RomOptions {
  /// Word width: a multiple of 8 from 8 to 1024 (the C header takes 8, 16, 32
  /// or 64).
  unsigned wordBits = 32;
  /// Names the image, as a C identifier (cIdentifier): in the comment line of
  /// every text format, and as the C header's array and include guard.
  std::string name = "rom";
  /// .mem only: when N > 0, an `@ADDR` line (word address, hex) before word 0
  /// and before every N-th word after it.
  unsigned memAddressInterval = 0;
  /// .mem only: the word address of the first word in the @ADDR lines.
  uint64_t memBaseAddress = 0;
};

/// Writes `image` as `format`. Fails on a bad word width, and for the text
/// formats on an empty image (a .coe or C array needs at least one word).
llvm::Error writeRom(llvm::ArrayRef<uint8_t> image, RomFormat format,
                     const RomOptions &options, llvm::raw_ostream &os);

/// A valid C identifier from `name`: characters outside [A-Za-z0-9_] become
/// '_', a name not starting with a letter gets a "rom_" prefix ("rom" if it is
/// empty), and a C or C++ keyword gets a '_' suffix ("stream 3.bin" ->
/// "stream_3_bin", "3d" -> "rom_3d", "int" -> "int_").
std::string cIdentifier(llvm::StringRef name);

} // namespace flightllm::binary

#endif // FLIGHTLLM_BINARY_ROM_H
