//===- ONNXDialect.td - The onnx dialect ------------------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_ONNX_ONNXDIALECT_TD
#define FLIGHTLLM_DIALECT_ONNX_ONNXDIALECT_TD

include "mlir/IR/OpBase.td"

def ONNX_Dialect : Dialect {
  let name = "onnx";
  let summary = "ONNX operators as imported from a model";
  let description = [{
    One op per ONNX operator of the default domain, generated from the ONNX
    operator schemas of libonnx at the highest accepted opset (17); models at
    opsets 13 to 17 import into the same ops. Operands and results are builtin
    tensors (`i1` for bool, signless integers, `ui8` etc. for unsigned).
    Missing optional inputs are absent operands. The importer writes every
    attribute explicitly, with the schema default where the node had none,
    so passes never re-derive defaults. Each op's location is the ONNX node
    name. Ops print in the generic form, which follows ONNX field by field.
  }];
  let cppNamespace = "::flightllm::onnxir";
  let hasConstantMaterializer = 1;
}

class ONNX_Op<string mnemonic, list<Trait> traits = []>
    : Op<ONNX_Dialect, mnemonic, traits>;

#endif // FLIGHTLLM_DIALECT_ONNX_ONNXDIALECT_TD
