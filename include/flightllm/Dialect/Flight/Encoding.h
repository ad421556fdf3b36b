//===- Encoding.h - flight instruction ops <-> ISA instructions and words --===//
//
// The bridge between the flight dialect's instruction ops (one per ISA
// instruction, generated from Instructions.def) and the ISA's instructions
// and words. An op's attributes are named as the ISA's fields, so the
// conversion walks the ISA field table and never names a field itself;
// ranges, masks and the bit layout are the ISA's encode/decode/validate.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_ENCODING_H
#define FLIGHTLLM_DIALECT_FLIGHT_ENCODING_H

#include "flightllm/Dialect/Flight/FlightDialect.h"
#include "flightllm/ISA/ISA.h"

#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <vector>

namespace flightllm::flight {

/// The value of the enumerator of ISA enumeration `id` named `name`.
std::optional<int64_t> lookupEnumerator(isa::EnumId id, llvm::StringRef name);

/// The name of enumerator `value` of `id`, or nullptr.
const char *getEnumeratorName(isa::EnumId id, int64_t value);

/// The ISA opcode of an instruction op (flight.ld, ...), or nullopt for any
/// other op.
std::optional<isa::Opcode> getInstructionOpcode(mlir::Operation *op);

/// The ISA instruction an instruction op stands for. Reports unknown enum
/// keywords and masks that fit no mask at the op; does not range-check the
/// fields (isa::validate does).
mlir::FailureOr<isa::Instruction> toInstruction(mlir::Operation *op);

/// Creates the instruction op for `inst` (whose values must be in range, as
/// isa::decode produces them) at the builder's insertion point.
mlir::Operation *createInstructionOp(mlir::OpBuilder &builder,
                                     mlir::Location loc,
                                     const isa::Instruction &inst);

/// The words of a stream, in order. Errors are reported at the offending op
/// and name the field, its value and its range.
mlir::FailureOr<std::vector<uint32_t>> encodeStream(StreamOp stream);

/// A stream named `name` holding the instructions of `words` (isa::decode),
/// created at the builder's insertion point; errors are reported at `loc`
/// and name the word offset.
mlir::FailureOr<StreamOp> decodeStream(llvm::ArrayRef<uint32_t> words,
                                       mlir::OpBuilder &builder,
                                       mlir::Location loc,
                                       llvm::StringRef name = "stream");

} // namespace flightllm::flight

#endif // FLIGHTLLM_DIALECT_FLIGHT_ENCODING_H
