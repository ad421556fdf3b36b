//===- Disassembler.h - Printing and checked encoding of instructions ------===//
//
// The host-side (LLVM) companions of the freestanding ISA.h: text for
// instructions and streams, and encode/decode wrapped in llvm::Error with
// messages that name the field, the value and its range. Every name printed
// comes from Instructions.def.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_ISA_DISASSEMBLER_H
#define FLIGHTLLM_ISA_DISASSEMBLER_H

#include "flightllm/ISA/ISA.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace flightllm::isa {

/// "LD.addr".
std::string qualifiedFieldName(FieldId field);

/// `wait{load,matrix}` for mask 0b101.
void printQueueMask(llvm::raw_ostream &os, llvm::StringRef label,
                    unsigned mask);

/// One instruction on one line, without a newline:
///   `LD wait{} release{matrix} onchip_addr=0 buf=weight addr=4096 ...`
/// Every field is printed, in table order; enumerations by name, signed
/// fields with their sign. Values an Enum field cannot hold print as numbers.
void printInstruction(llvm::raw_ostream &os, const Instruction &inst);
std::string formatInstruction(const Instruction &inst);

/// The message for a failed encode/decode: the status, and for field errors
/// the field, its value and its range.
std::string describeStatus(Status status, const Instruction &inst,
                           FieldId badField);

/// encode() appending to `out`; failures become an llvm::Error such as
/// `cannot encode LD: field value out of range: LD.addr = -1 (range 0..1073741823)`.
llvm::Error encodeInstruction(const Instruction &inst,
                              llvm::SmallVectorImpl<uint32_t> &out);

/// Decodes a whole stream; errors name the word offset.
llvm::Error decodeStream(llvm::ArrayRef<uint32_t> words,
                         llvm::SmallVectorImpl<Instruction> &out);

/// Prints one line per instruction:
///   `<index> @<word offset>: <printInstruction>`
/// where the index of the instruction at words[0] is `startIndex` and word
/// offsets count from words[0]. Stops at the first word that does not start a
/// valid instruction and returns an error naming its word offset and index
/// (the lines before it are printed).
llvm::Error disassemble(llvm::ArrayRef<uint32_t> words, llvm::raw_ostream &os,
                        uint64_t startIndex = 0);

/// The reference tables of docs/isa.md (constants, header, instructions,
/// every field, every enumeration), between the markers below.
void printMarkdownTables(llvm::raw_ostream &os);
inline constexpr const char *kDocBeginMarker =
    "<!-- BEGIN flightllm-isa-doc: generated from "
    "include/flightllm/ISA/Instructions.def; do not edit by hand -->";
inline constexpr const char *kDocEndMarker = "<!-- END flightllm-isa-doc -->";

} // namespace flightllm::isa

#endif // FLIGHTLLM_ISA_DISASSEMBLER_H
