//===- Instructions.cpp - Syntax and verifier of the instruction ops ------===//
//
// The instruction ops (FlightInstructions.gen.td, one per ISA instruction)
// share one assembly format and one verifier, both driven by the ISA field
// table:
//
//   flight.ld wait [matrix] release [matrix] onchip_addr = 0, buf = weight, ...
//
// `wait`/`release` are omitted when empty; fields are printed in table order
// and may be given in any order or omitted (0, the first enumerator) when
// parsing. The verifier is isa::validate on the op's isa::Instruction.
//
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "flightllm/ISA/Disassembler.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/ADT/SmallVector.h"

using namespace mlir;
using namespace flightllm;
using namespace flightllm::flight;

static constexpr StringLiteral kMaskNames[] = {"wait", "release"};

/// `[load, matrix]`: a set of queues named as the ISA's Queue enumerators.
static ParseResult parseQueueSet(OpAsmParser &parser, int32_t &mask) {
  mask = 0;
  return parser.parseCommaSeparatedList(
      OpAsmParser::Delimiter::Square, [&]() -> ParseResult {
        SMLoc loc = parser.getCurrentLocation();
        StringRef name;
        if (parser.parseKeyword(&name))
          return failure();
        std::optional<int64_t> queue =
            lookupEnumerator(isa::EnumId::Queue, name);
        if (!queue)
          return parser.emitError(loc, "unknown queue '") << name << "'";
        mask |= static_cast<int32_t>(1u << *queue);
        return success();
      });
}

static void printQueueSet(OpAsmPrinter &printer, uint32_t mask) {
  printer << '[';
  bool first = true;
  for (const isa::EnumValueInfo &v : isa::kEnumValues)
    if (v.enumId == isa::EnumId::Queue && (mask & (1u << v.value))) {
      printer << (first ? "" : ", ") << v.name;
      first = false;
    }
  printer << ']';
}

static ParseResult parseInstructionOp(OpAsmParser &parser,
                                      OperationState &result,
                                      isa::Opcode opcode) {
  Builder &builder = parser.getBuilder();
  for (StringRef maskName : kMaskNames) {
    int32_t mask = 0;
    if (succeeded(parser.parseOptionalKeyword(maskName)) &&
        parseQueueSet(parser, mask))
      return failure();
    result.addAttribute(maskName, builder.getI32IntegerAttr(mask));
  }

  unsigned first = isa::firstFieldIndex(opcode);
  unsigned count = isa::numFields(opcode);
  SmallVector<StringRef> names;
  for (unsigned i = 0; i < count; ++i)
    names.push_back(isa::kFields[first + i].name);
  SmallVector<Attribute> values(count);

  // Fields are recognised by name, so that the next op's name never is.
  StringRef name;
  SMLoc loc = parser.getCurrentLocation();
  if (succeeded(parser.parseOptionalKeyword(&name, names))) {
    while (true) {
      auto *it = llvm::find(names, name);
      if (it == names.end())
        return parser.emitError(loc, "unknown field '")
               << name << "' of " << isa::instructionInfo(opcode).mnemonic;
      unsigned index = static_cast<unsigned>(it - names.begin());
      if (values[index])
        return parser.emitError(loc, "field '") << name << "' given twice";
      if (parser.parseEqual())
        return failure();
      if (isa::kFields[first + index].type == isa::FieldType::Enum) {
        StringRef keyword;
        if (parser.parseKeyword(&keyword))
          return failure();
        values[index] = builder.getStringAttr(keyword);
      } else {
        int64_t value = 0;
        if (parser.parseInteger(value))
          return failure();
        values[index] = builder.getI64IntegerAttr(value);
      }
      if (failed(parser.parseOptionalComma()))
        break;
      loc = parser.getCurrentLocation();
      if (parser.parseKeyword(&name))
        return failure();
    }
  }

  // Omitted fields hold 0: the first enumerator of an enumeration.
  for (unsigned i = 0; i < count; ++i) {
    if (!values[i]) {
      const isa::FieldInfo &info = isa::kFields[first + i];
      if (info.type == isa::FieldType::Enum)
        values[i] = builder.getStringAttr(getEnumeratorName(info.enumId, 0));
      else
        values[i] = builder.getI64IntegerAttr(0);
    }
    result.addAttribute(names[i], values[i]);
  }
  return parser.parseOptionalAttrDict(result.attributes);
}

static void printInstructionOp(OpAsmPrinter &printer, Operation *op,
                               isa::Opcode opcode) {
  SmallVector<StringRef> elided(std::begin(kMaskNames), std::end(kMaskNames));
  for (StringRef maskName : kMaskNames) {
    auto mask = dyn_cast_or_null<IntegerAttr>(
        op->getInherentAttr(maskName).value_or(Attribute()));
    if (mask && mask.getInt() != 0) {
      printer << ' ' << maskName << ' ';
      printQueueSet(printer, static_cast<uint32_t>(mask.getInt()));
    }
  }
  unsigned first = isa::firstFieldIndex(opcode);
  for (unsigned i = 0, e = isa::numFields(opcode); i < e; ++i) {
    StringRef name = isa::kFields[first + i].name;
    elided.push_back(name);
    printer << (i ? ", " : " ") << name << " = ";
    Attribute attr = op->getInherentAttr(name).value_or(Attribute());
    if (auto str = dyn_cast_or_null<StringAttr>(attr))
      printer.printKeywordOrString(str.getValue());
    else if (auto integer = dyn_cast_or_null<IntegerAttr>(attr))
      printer << integer.getInt();
    else
      printer << "0";
  }
  printer.printOptionalAttrDict(op->getAttrs(), elided);
}

static LogicalResult verifyInstructionOp(Operation *op) {
  FailureOr<isa::Instruction> inst = toInstruction(op);
  if (failed(inst))
    return failure();
  isa::FieldId bad{};
  isa::Status status = isa::validate(*inst, &bad);
  if (status != isa::Status::Ok)
    return op->emitOpError(isa::describeStatus(status, *inst, bad));
  return success();
}

#define FLIGHT_ISA_INSTRUCTION(Name, Opc, Words, Q, Doc)                       \
  ParseResult Name##Op::parse(OpAsmParser &parser, OperationState &result) {   \
    return parseInstructionOp(parser, result, isa::Opcode::Name);               \
  }                                                                            \
  void Name##Op::print(OpAsmPrinter &printer) {                                \
    printInstructionOp(printer, getOperation(), isa::Opcode::Name);           \
  }                                                                            \
  LogicalResult Name##Op::verify() {                                           \
    return verifyInstructionOp(getOperation());                                \
  }
#include "flightllm/ISA/Instructions.def"

LogicalResult StreamOp::verifyRegions() {
  for (Operation &op : getBody().front())
    if (!getInstructionOpcode(&op))
      return op.emitOpError("is not an accelerator instruction; a "
                            "flight.stream holds instruction ops only");
  return success();
}
