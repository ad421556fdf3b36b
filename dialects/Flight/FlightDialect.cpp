//===- FlightDialect.cpp - The flight dialect -----------------------------===//

#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace flightllm::flight;

#include "flightllm/Dialect/Flight/FlightOpsDialect.cpp.inc"

#include "flightllm/Dialect/Flight/FlightOpsEnums.cpp.inc"

//===----------------------------------------------------------------------===//
// Memory-space keywords, shared by the buffer type and flight.alloc
//===----------------------------------------------------------------------===//

/// Parses a bare memory-space keyword such as `act`.
static ParseResult parseMemorySpaceKeyword(AsmParser &parser,
                                           MemorySpace &space) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseOptionalKeyword(&keyword))
    return parser.emitError(loc, "expected a memory space (hbm, ddr, act, "
                                 "weight, meta or acc)");
  std::optional<MemorySpace> parsed = symbolizeMemorySpace(keyword);
  if (!parsed)
    return parser.emitError(loc, "unknown memory space '")
           << keyword << "'; expected hbm, ddr, act, weight, meta or acc";
  space = *parsed;
  return success();
}

/// custom<MemorySpace>($space): the attribute as a bare keyword.
static ParseResult parseMemorySpace(OpAsmParser &parser,
                                    MemorySpaceAttr &space) {
  MemorySpace value;
  if (parseMemorySpaceKeyword(parser, value))
    return failure();
  space = MemorySpaceAttr::get(parser.getContext(), value);
  return success();
}

static void printMemorySpace(OpAsmPrinter &printer, Operation *,
                             MemorySpaceAttr space) {
  printer << stringifyMemorySpace(space.getValue());
}

//===----------------------------------------------------------------------===//
// BufferType
//===----------------------------------------------------------------------===//

bool BufferType::isValidElementType(Type type) {
  if (!isa<IntegerType, FloatType>(type))
    return false;
  unsigned width = type.getIntOrFloatBitWidth();
  return width <= 64 && llvm::isPowerOf2_32(width);
}

LogicalResult BufferType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, Type elementType,
                                 MemorySpace space) {
  if (shape.empty())
    return emitError() << "buffer must have at least one dimension";
  for (auto [index, dim] : llvm::enumerate(shape)) {
    if (ShapedType::isDynamic(dim))
      return emitError() << "buffer dimension #" << index << " must be static";
    if (dim <= 0)
      return emitError() << "buffer dimension #" << index
                         << " must be positive, got " << dim;
  }
  if (!isa<IntegerType, FloatType>(elementType))
    return emitError() << "buffer element type must be an integer or "
                          "floating-point type, got "
                       << elementType;
  if (!isValidElementType(elementType))
    return emitError() << "buffer element bit width must be a power of two "
                          "from 1 to 64, got "
                       << elementType.getIntOrFloatBitWidth() << " ("
                       << elementType << ")";
  // Sizes are reported in bits as int64_t: reject shapes that overflow them.
  uint64_t bits = elementType.getIntOrFloatBitWidth();
  for (int64_t dim : shape) {
    if (bits > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(dim))
      return emitError() << "buffer size in bits overflows 64 bits";
    bits *= static_cast<uint64_t>(dim);
  }
  return success();
}

Type BufferType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  Type elementType;
  MemorySpace space;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/true,
                                /*withTrailingX=*/true) ||
      parser.parseType(elementType) || parser.parseComma() ||
      parseMemorySpaceKeyword(parser, space) || parser.parseGreater())
    return {};
  return parser.getChecked<BufferType>(loc, parser.getContext(), shape,
                                       elementType, space);
}

void BufferType::print(AsmPrinter &printer) const {
  printer << '<';
  printer.printDimensionList(getShape());
  printer << 'x' << getElementType() << ", " << stringifyMemorySpace(getSpace())
          << '>';
}

int64_t BufferType::getNumElements() const {
  int64_t count = 1;
  for (int64_t dim : getShape())
    count *= dim;
  return count;
}

unsigned BufferType::getElementBitWidth() const {
  return getElementType().getIntOrFloatBitWidth();
}

int64_t BufferType::getSizeInBits() const {
  return getNumElements() * getElementBitWidth();
}

int64_t BufferType::getSizeInBytes() const {
  return llvm::divideCeil(getSizeInBits(), 8);
}

bool BufferType::isOnChip() const { return flight::isOnChip(getSpace()); }

//===----------------------------------------------------------------------===//
// AllocOp
//===----------------------------------------------------------------------===//

LogicalResult AllocOp::verify() {
  MemorySpace space = getSpace();
  MemorySpace typeSpace = getType().getSpace();
  if (space != typeSpace)
    return emitOpError("memory space '")
           << stringifyMemorySpace(space)
           << "' does not match the result type's memory space '"
           << stringifyMemorySpace(typeSpace) << "'";
  int64_t offset = getOffset();
  if (offset < 0)
    return emitOpError("offset must be non-negative, got ") << offset;
  int64_t alignment = getOffsetAlignment(space);
  if (offset % alignment != 0)
    return emitOpError("offset ")
           << offset << " is not a multiple of " << alignment
           << " bytes, the alignment of memory space '"
           << stringifyMemorySpace(space) << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// RowsAttr
//===----------------------------------------------------------------------===//

LogicalResult RowsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               MemorySpace space, uint32_t row,
                               uint32_t count) {
  if (!isOnChip(space))
    return emitError() << "#flight.rows must name an on-chip buffer (act, "
                          "weight, meta or acc), not '"
                       << stringifyMemorySpace(space) << "'";
  if (uint64_t(row) + count > UINT32_MAX)
    return emitError() << "#flight.rows<" << stringifyMemorySpace(space)
                       << ", " << row << ", " << count
                       << "> ends beyond row 2^32 - 1";
  return success();
}

//===----------------------------------------------------------------------===//
// Dialect
//===----------------------------------------------------------------------===//

#define GET_ATTRDEF_CLASSES
#include "flightllm/Dialect/Flight/FlightOpsAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "flightllm/Dialect/Flight/FlightOpsTypes.cpp.inc"

#define GET_OP_CLASSES
#include "flightllm/Dialect/Flight/FlightOps.cpp.inc"

void FlightDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "flightllm/Dialect/Flight/FlightOpsAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "flightllm/Dialect/Flight/FlightOpsTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "flightllm/Dialect/Flight/FlightOps.cpp.inc"
      >();
}
