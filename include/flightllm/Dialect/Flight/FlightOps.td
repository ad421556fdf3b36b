//===- FlightOps.td - The flight dialect ops ---------------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTOPS_TD
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTOPS_TD

include "flightllm/Dialect/Flight/FlightDialect.td"
include "flightllm/Dialect/Flight/FlightAttrs.td"
include "flightllm/Dialect/Flight/FlightTypes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Flight_AllocOp : Flight_Op<"alloc", [Pure]> {
  let summary = "Bind a buffer to a byte offset in a memory space";
  let description = [{
    Names the region of memory space `space` that starts `offset` bytes from
    the start of the space and holds a `!flight.buffer` of the result type.
    Nothing happens at run time: the compiler places buffers statically, so
    two allocs with the same space, offset and type denote the same memory
    (the op is pure), and regions of different allocs may overlap when their
    lifetimes do not.

    ```mlir
    %a = flight.alloc act offset 0 : !flight.buffer<128x4096xi8, act>
    %w = flight.alloc hbm offset 1048576 : !flight.buffer<4096x4096xi4, hbm>
    ```

    `space` must be the memory space of the result type, and `offset` must be
    non-negative and a multiple of the space's alignment: 64 bytes for the
    on-chip buffers (one 512-bit buffer row, 64 INT8 lanes), 32 bytes for
    `hbm` and `ddr` (one 256-bit HBM pseudo-channel / AXI beat).
  }];
  let arguments = (ins Flight_MemorySpaceAttr:$space, I64Attr:$offset);
  let results = (outs Flight_BufferType:$result);
  let assemblyFormat = [{
    custom<MemorySpace>($space) `offset` $offset attr-dict `:`
    qualified(type($result))
  }];
  let builders = [
    // The space is the result type's.
    OpBuilder<(ins "::flightllm::flight::BufferType":$type,
                   "int64_t":$offset), [{
      build($_builder, $_state, type, type.getSpace(), offset);
    }]>
  ];
  let hasVerifier = 1;
}

def Flight_SyncOp : Flight_Op<"sync"> {
  let summary = "Wait until every instruction queue has drained";
  let description = [{
    A full barrier: instructions after it start only once every instruction
    before it, on every queue (load, store, matrix, misc, sys), has finished.
    The op declares no memory effects and is therefore never moved or erased.

    ```mlir
    flight.sync
    ```
  }];
  let assemblyFormat = "attr-dict";
}

//===----------------------------------------------------------------------===//
// Instruction streams
//===----------------------------------------------------------------------===//

def Flight_StreamOp : Flight_Op<"stream", [
    Symbol, IsolatedFromAbove, SingleBlock, NoTerminator]> {
  let summary = "One instruction stream of the accelerator";
  let description = [{
    The instructions of one stream, in program order: the body holds only
    instruction ops (`flight.ld`, `flight.st`, `flight.mm`, `flight.mv`,
    `flight.misc`, `flight.sys`). The compiler emits one stream per length
    bucket; `flightllm::flight::encodeStream` turns a stream into the words
    the accelerator reads (docs/isa.md), `decodeStream` back.

    ```mlir
    flight.stream @prefill_128 {
      flight.ld release [matrix] buf = weight, addr = 4096, length = 16
      flight.mm wait [load] k_blocks = 4
      flight.sys kind = end
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
}

// The buffer level: ops on !flight.buffer values, before addresses.
include "flightllm/Dialect/Flight/FlightBufferOps.td"

// One op per ISA instruction, generated from Instructions.def.
include "flightllm/Dialect/Flight/FlightInstructions.gen.td"

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTOPS_TD
