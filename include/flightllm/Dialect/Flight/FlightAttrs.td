//===- FlightAttrs.td - flight enums and attributes --------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTATTRS_TD
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTATTRS_TD

include "flightllm/Dialect/Flight/FlightDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Memory spaces
//===----------------------------------------------------------------------===//

def Flight_MemorySpace : I32Enum<"MemorySpace",
    "a FlightLLM memory space", [
  I32EnumCase<"Hbm", 0, "hbm">,
  I32EnumCase<"Ddr", 1, "ddr">,
  I32EnumCase<"Act", 2, "act">,
  I32EnumCase<"Weight", 3, "weight">,
  I32EnumCase<"Meta", 4, "meta">,
  I32EnumCase<"Acc", 5, "acc">
]> {
  let cppNamespace = "::flightllm::flight";
}

def Flight_MemorySpaceAttr
    : EnumAttr<Flight_Dialect, Flight_MemorySpace, "space"> {
  let summary = "A memory space of the FlightLLM accelerator";
  let description = [{
    Where a `!flight.buffer` lives:

    * `hbm`: off-chip HBM2 (8 GB in 32 pseudo-channels of 256 MB on the
      U280). Holds the weights and the KV cache. Byte alignment 32.
    * `ddr`: off-chip DDR4. Holds the instruction streams (one per SLR) and
      data offloaded from HBM. Byte alignment 32.
    * `act`: the on-chip activation (global) buffer in URAM. Holds the
      activations; in decode they never leave it. Byte alignment 64.
    * `weight`: the on-chip weight tile buffer feeding the matrix unit.
      Byte alignment 64.
    * `meta`: the on-chip buffer of dequantization scales, biases and sparsity
      metadata (N:M indices, block masks). Byte alignment 64.
    * `acc`: the on-chip output/accumulator buffer of the matrix unit.
      Byte alignment 64.

    Syntax: `#flight.space<hbm>`.
  }];
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Instruction queues
//===----------------------------------------------------------------------===//

def Flight_Queue : I32Enum<"Queue",
    "a FlightLLM instruction queue", [
  I32EnumCase<"Load", 0, "load">,
  I32EnumCase<"Store", 1, "store">,
  I32EnumCase<"Matrix", 2, "matrix">,
  I32EnumCase<"Misc", 3, "misc">,
  I32EnumCase<"Sys", 4, "sys">
]> {
  let cppNamespace = "::flightllm::flight";
}

def Flight_QueueAttr : EnumAttr<Flight_Dialect, Flight_Queue, "queue"> {
  let summary = "An instruction queue of the FlightLLM accelerator";
  let description = [{
    The accelerator's modules each consume instructions from their own queue:

    * `load`: LD, HBM/DDR to on-chip buffers.
    * `store`: ST, on-chip buffers to HBM/DDR.
    * `matrix`: MM (matrix-matrix, prefill) and MV (matrix-vector, decode).
    * `misc`: MISC ops on the special function unit (softmax, norms, silu,
      element-wise).
    * `sys`: SYS (synchronisation, end of stream).

    Queues synchronise through dependency tokens: every instruction header
    carries a 5-bit wait mask and a 5-bit release mask with one bit per
    queue. The enum value is that bit's position (load = bit 0 ... sys =
    bit 4).

    Syntax: `#flight.queue<matrix>`.
  }];
  let assemblyFormat = "`<` $value `>`";
}


//===----------------------------------------------------------------------===//
// Access annotations of addressed instructions (read by flight-insert-tokens)
//===----------------------------------------------------------------------===//

def Flight_Rows : Flight_Attr<"Rows", "rows"> {
  let summary = "Rows of an on-chip buffer that an instruction reads or writes";
  let description = [{
    Rows `[row, row + count)` of one on-chip buffer (`act`, `weight`, `meta`
    or `acc`; a row is 128 bytes). Addressed instructions list the rows they
    read and write in the discardable attributes `flight.reads` and
    `flight.writes` (arrays of `#flight.rows`), which `flight-insert-tokens`
    turns into dependency tokens.

    ```mlir
    flight.mm ... {flight.reads = [#flight.rows<act, 0, 8>],
                   flight.writes = [#flight.rows<act, 64, 16>]}
    ```

    The space must be on chip.
  }];
  let parameters = (ins EnumParameter<Flight_MemorySpace>:$space,
                        "uint32_t":$row, "uint32_t":$count);
  let assemblyFormat = "`<` $space `,` $row `,` $count `>`";
  let genVerifyDecl = 1;
}

def Flight_OffChipData : I32Enum<"OffChipDataKind",
    "off-chip data whose accesses are ordered", [
  I32EnumCase<"KVCache", 1, "kv_cache">,
  I32EnumCase<"Scratch", 2, "scratch">,
  I32EnumCase<"Logits", 3, "logits">
]> {
  let cppNamespace = "::flightllm::flight";
}

def Flight_OffChipDataAttr
    : EnumAttr<Flight_Dialect, Flight_OffChipData, "offchip"> {
  let summary = "Off-chip data an instruction reads or writes";
  let description = [{
    The off-chip data whose accesses the dependency tokens order, in the
    discardable attributes `flight.hbm_read` and `flight.hbm_write` of
    addressed LD and ST instructions: `kv_cache` (this run's K/V rows are
    stored before the loads that read the cache back), `scratch` (the prefill
    spill area) and `logits`. Syntax: `#flight.offchip<kv_cache>`.
  }];
  let assemblyFormat = "`<` $value `>`";
}

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTATTRS_TD
