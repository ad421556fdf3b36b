//===- FlightOps.td - The flight dialect ------------------------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTOPS_TD
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Flight_Dialect : Dialect {
  let name = "flight";
  let summary = "The FlightLLM accelerator: buffers, instructions, queues";
  let cppNamespace = "::flightllm::flight";
}

class Flight_Op<string mnemonic, list<Trait> traits = []>
    : Op<Flight_Dialect, mnemonic, traits>;

def Flight_SyncOp : Flight_Op<"sync"> {
  let summary = "Wait until every instruction queue has drained";
  let assemblyFormat = "attr-dict";
}

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTOPS_TD
