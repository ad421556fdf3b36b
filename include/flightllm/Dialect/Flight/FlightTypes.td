//===- FlightTypes.td - flight types -----------------------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTTYPES_TD
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTTYPES_TD

include "flightllm/Dialect/Flight/FlightAttrs.td"

def Flight_BufferType : Flight_Type<"Buffer", "buffer"> {
  let summary = "a statically shaped buffer in a FlightLLM memory space";
  let description = [{
    A reference to a dense, row-major region of one memory space:

    ```mlir
    !flight.buffer<128x4096xi8, act>
    !flight.buffer<4096x4096xi4, hbm>
    ```

    The shape is static: at least one dimension, every dimension positive.
    The element type is an integer (any signedness) or floating-point type
    whose bit width is a power of two from 1 to 64 (`i1`, `i4`, `i8`, `f16`,
    `bf16`, `f32`, ...), so that sub-byte elements pack evenly into bytes.
    Sizes are reported in bits (`getSizeInBits`); `getSizeInBytes` rounds the
    whole buffer up, never a row. The type says nothing about where the region
    starts: `flight.alloc` binds it to an offset.
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t">:$shape,
    "::mlir::Type":$elementType,
    EnumParameter<Flight_MemorySpace>:$space);
  let builders = [
    TypeBuilderWithInferredContext<(ins
        "::llvm::ArrayRef<int64_t>":$shape,
        "::mlir::Type":$elementType,
        "::flightllm::flight::MemorySpace":$space), [{
      return $_get(elementType.getContext(), shape, elementType, space);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether `type` may be the element type of a buffer.
    static bool isValidElementType(::mlir::Type type);

    int64_t getRank() const { return getShape().size(); }
    /// The product of the dimensions.
    int64_t getNumElements() const;
    /// The bit width of one element (4 for i4).
    unsigned getElementBitWidth() const;
    /// The number of bits the buffer occupies, elements densely packed.
    int64_t getSizeInBits() const;
    /// getSizeInBits() / 8 rounded up.
    int64_t getSizeInBytes() const;
    /// Whether the buffer lives on chip (act, weight, meta or acc).
    bool isOnChip() const;
  }];
}

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTTYPES_TD
