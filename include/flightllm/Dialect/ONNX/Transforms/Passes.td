//===- Passes.td - Passes on the onnx dialect -------------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_ONNX_TRANSFORMS_PASSES_TD
#define FLIGHTLLM_DIALECT_ONNX_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ONNXFoldConstantsPass : Pass<"onnx-fold-constants"> {
  let summary = "Fold onnx ops whose operands are constants";
  let description = [{
    Evaluates, with the reference evaluator (exact ONNX semantics), every
    onnx op whose operands are all `onnx.Constant`s and replaces its results
    with `onnx.Constant`s holding dense values. Ops are visited in order, so
    chains (Shape -> Gather -> Unsqueeze -> Concat -> Reshape's shape) fold in
    one run. `onnx.Shape` also folds when the dimensions it selects are
    static, whatever its input's data, and so does `onnx.Gather` of an
    `onnx.Shape` with constant indices that pick static dimensions (how
    exporters read `x.size(i)` of a tensor with other dimensions dynamic).

    Nothing larger than `max-elements` is read or materialized: an op is left
    alone when an operand or a result has more elements, so weights stay
    untouched unless tiny. Ops the evaluator rejects (e.g. out-of-range
    constant indices) are left alone silently. When a folded result is more
    precise than the op's declared type (a dynamic dimension that turns out
    static), uses by onnx ops take the refined constant; other uses (such as
    func.return) keep the op.
  }];
  let dependentDialects = ["::flightllm::onnxir::ONNXDialect"];
  let options = [
    Option<"maxElements", "max-elements", "int64_t", /*default=*/"1 << 16",
           "Largest operand or result (in elements) the pass reads or creates">
  ];
}

#endif // FLIGHTLLM_DIALECT_ONNX_TRANSFORMS_PASSES_TD
