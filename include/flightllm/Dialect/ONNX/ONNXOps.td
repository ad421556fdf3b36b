//===- ONNXOps.td - The onnx dialect's operations ---------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_ONNX_ONNXOPS_TD
#define FLIGHTLLM_DIALECT_ONNX_ONNXOPS_TD

include "flightllm/Dialect/ONNX/ONNXDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Written at build time by flightllm-onnx-odsgen from the ONNX schemas.
include "flightllm/Dialect/ONNX/ONNXOps.gen.td"

// If has graph-valued attributes, which the generated ops cannot hold: its
// branches are regions that read the enclosing graph's values directly.
def ONNX_IfOp : ONNX_Op<"If", [RecursiveMemoryEffects, NoRegionArguments]> {
  let summary = "ONNX If: the outputs of one of two subgraphs";
  let description = [{
    Runs `then_branch` when the one-element boolean `cond` is true, else
    `else_branch`; each branch ends in `onnx.Yield` with the outputs. The
    raising inlines the branch an exporter's shape test selects.
  }];
  let arguments = (ins TensorOf<[I1]>:$cond);
  let results = (outs Variadic<AnyTensor>:$outputs);
  let regions = (region SizedRegion<1>:$then_branch,
                        SizedRegion<1>:$else_branch);
}

def ONNX_YieldOp : ONNX_Op<"Yield", [Pure, Terminator, HasParent<"IfOp">]> {
  let summary = "The outputs of an If branch";
  let arguments = (ins Variadic<AnyTensor>:$outputs);
}

#endif // FLIGHTLLM_DIALECT_ONNX_ONNXOPS_TD
