//===- FlightDialect.td - The flight dialect ---------------*- tablegen -*-===//
//
// The dialect definition and the base classes of its attributes, types and
// ops. FlightOps.td includes everything; add new ops there.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_TD
#define FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"

def Flight_Dialect : Dialect {
  let name = "flight";
  let summary = "The FlightLLM accelerator: buffers, instructions, queues";
  let description = [{
    The lowest level of the FlightLLM compiler: programs for the FlightLLM
    accelerator (Alveo U280). Data lives in off-chip memories (`hbm`, `ddr`)
    and on-chip buffers (`act`, `weight`, `meta`, `acc`); a
    `!flight.buffer<SHAPE x ELEM, SPACE>` value names a statically placed
    region of one of them. Instructions are issued to five queues (`load`,
    `store`, `matrix`, `misc`, `sys`) that synchronise through dependency
    tokens.
  }];
  let cppNamespace = "::flightllm::flight";
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
}

class Flight_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Flight_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class Flight_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Flight_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

class Flight_Op<string mnemonic, list<Trait> traits = []>
    : Op<Flight_Dialect, mnemonic, traits>;

#endif // FLIGHTLLM_DIALECT_FLIGHT_FLIGHTDIALECT_TD
