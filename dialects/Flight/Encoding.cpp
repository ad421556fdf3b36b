//===- Encoding.cpp - flight instruction ops <-> ISA instructions and words ===//
//
// Everything here walks the ISA's tables (ISA.h, from Instructions.def): an
// op attribute is found by its field's name, enumerators by the ISA's names,
// and ranges, masks and bits are the ISA's validate/encode/decode.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/Encoding.h"

#include "flightllm/ISA/Disassembler.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

std::optional<isa::Opcode> flight::getInstructionOpcode(Operation *op) {
#define FLIGHT_ISA_INSTRUCTION(Name, Opc, Words, Q, Doc)                       \
  if (llvm::isa<Name##Op>(op))                                                 \
    return isa::Opcode::Name;
#include "flightllm/ISA/Instructions.def"
  return std::nullopt;
}

/// The name of the op that stands for `opcode`.
static StringRef getInstructionOpName(isa::Opcode opcode) {
  switch (opcode) {
#define FLIGHT_ISA_INSTRUCTION(Name, Opc, Words, Q, Doc)                       \
  case isa::Opcode::Name:                                                      \
    return Name##Op::getOperationName();
#include "flightllm/ISA/Instructions.def"
  }
  llvm_unreachable("every opcode has an op");
}

std::optional<int64_t> flight::lookupEnumerator(isa::EnumId id,
                                               StringRef name) {
  for (const isa::EnumValueInfo &v : isa::kEnumValues)
    if (v.enumId == id && name == v.name)
      return v.value;
  return std::nullopt;
}

const char *flight::getEnumeratorName(isa::EnumId id, int64_t value) {
  for (const isa::EnumValueInfo &v : isa::kEnumValues)
    if (v.enumId == id && v.value == value)
      return v.name;
  return nullptr;
}

FailureOr<isa::Instruction> flight::toInstruction(Operation *op) {
  std::optional<isa::Opcode> opcode = getInstructionOpcode(op);
  if (!opcode)
    return op->emitOpError("is not an accelerator instruction");
  isa::Instruction inst(*opcode);

  // The masks: anything that does not fit the header's mask type is the
  // ISA's MaskOutOfRange; the bits above the queues are checked by validate.
  using MaskT = decltype(inst.wait);
  for (auto [name, slot] : {std::pair<StringRef, MaskT *>{"wait", &inst.wait},
                            {"release", &inst.release}}) {
    auto attr = dyn_cast_or_null<IntegerAttr>(
        op->getInherentAttr(name).value_or(Attribute()));
    int64_t mask = attr ? attr.getInt() : 0;
    if (mask < 0 || mask > std::numeric_limits<MaskT>::max())
      return op->emitOpError()
             << isa::statusName(isa::Status::MaskOutOfRange) << ": " << name
             << " = " << mask;
    *slot = static_cast<MaskT>(mask);
  }

  unsigned first = isa::firstFieldIndex(*opcode);
  for (unsigned i = 0, e = isa::numFields(*opcode); i < e; ++i) {
    isa::Field field = isa::fieldOf(first + i);
    const isa::FieldInfo &info = field.info();
    Attribute attr = op->getInherentAttr(info.name).value_or(Attribute());
    if (info.type != isa::FieldType::Enum) {
      auto value = dyn_cast_or_null<IntegerAttr>(attr);
      if (!value)
        return op->emitOpError("field '")
               << info.name << "' must be an integer attribute";
      inst.set(field, value.getInt());
      continue;
    }
    auto name = dyn_cast_or_null<StringAttr>(attr);
    if (!name)
      return op->emitOpError("field '")
             << info.name << "' must be a string attribute naming a "
             << isa::kEnums[static_cast<unsigned>(info.enumId)].name;
    std::optional<int64_t> value = lookupEnumerator(info.enumId, name);
    if (!value) {
      InFlightDiagnostic diag = op->emitOpError("field '")
                                << info.name << "': unknown "
                                << isa::kEnums[static_cast<unsigned>(
                                                   info.enumId)]
                                       .name
                                << " '" << name.getValue()
                                << "'; expected one of";
      bool firstName = true;
      for (const isa::EnumValueInfo &v : isa::kEnumValues)
        if (v.enumId == info.enumId) {
          diag << (firstName ? " " : ", ") << v.name;
          firstName = false;
        }
      return diag;
    }
    inst.set(field, *value);
  }
  return inst;
}

Operation *flight::createInstructionOp(OpBuilder &builder, Location loc,
                                       const isa::Instruction &inst) {
  OperationState state(loc, getInstructionOpName(inst.opcode));
  state.addAttribute("wait", builder.getI32IntegerAttr(inst.wait));
  state.addAttribute("release", builder.getI32IntegerAttr(inst.release));
  unsigned first = isa::firstFieldIndex(inst.opcode);
  for (unsigned i = 0, e = isa::numFields(inst.opcode); i < e; ++i) {
    isa::Field field = isa::fieldOf(first + i);
    const isa::FieldInfo &info = field.info();
    Attribute attr;
    if (info.type == isa::FieldType::Enum) {
      const char *name = getEnumeratorName(info.enumId, inst.get(field));
      assert(name && "decode() yields enumerators only");
      attr = builder.getStringAttr(name);
    } else {
      attr = builder.getI64IntegerAttr(inst.get(field));
    }
    state.addAttribute(info.name, attr);
  }
  return builder.create(state);
}

FailureOr<std::vector<uint32_t>> flight::encodeStream(StreamOp stream) {
  SmallVector<uint32_t> words;
  for (Operation &op : stream.getBody().front()) {
    FailureOr<isa::Instruction> inst = toInstruction(&op);
    if (failed(inst))
      return failure();
    if (llvm::Error err = isa::encodeInstruction(*inst, words))
      return op.emitError(llvm::toString(std::move(err)));
  }
  return std::vector<uint32_t>(words.begin(), words.end());
}

FailureOr<StreamOp> flight::decodeStream(ArrayRef<uint32_t> words,
                                         OpBuilder &builder, Location loc,
                                         StringRef name) {
  SmallVector<isa::Instruction> insts;
  if (llvm::Error err = isa::decodeStream(words, insts))
    return emitError(loc, llvm::toString(std::move(err)));
  auto stream = StreamOp::create(builder, loc, name);
  stream.getBody().emplaceBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(&stream.getBody().front());
  for (const isa::Instruction &inst : insts)
    createInstructionOp(builder, loc, inst);
  return stream;
}
