//===- Passes.td - Raising the onnx dialect to the llm dialect -*- tablegen -*-===//

#ifndef FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_TD
#define FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_TD

include "mlir/Pass/PassBase.td"

def RaiseSignaturePass : Pass<"llm-raise-signature", "mlir::ModuleOp"> {
  let summary = "Give the imported graph the llm program signature";
  let description = [{
    Renames the graph function to `@forward` and names its arguments and
    results (`input_ids`, `past_key_values.N.key|value`, `logits`,
    `present.N.key|value`, from the ONNX names or, failing that, from their
    shapes). A prefill graph gets the past arguments it lacks, so that the
    prefill and the decoder-with-past exports of a model raise to the same
    program; until attention is raised they are unused. HF's
    `attention_mask`, `position_ids` and `cache_position` inputs are replaced
    by the values they have for one unpadded sequence (ones `[B, P + S]`;
    `P + s`), computed from the sizes, and recorded in the module's
    `llm.assumed_inputs`; other inputs are rejected at their location.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def NormalizeGraphPass : Pass<"llm-normalize-graph", "mlir::func::FuncOp"> {
  let summary = "Remove the exporter's data-preserving plumbing";
  let description = [{
    Before the raising looks for model structure, removes what exporters add
    around it without changing any value: `Identity` (e.g. an initializer
    shared by deduplication), `Cast` to the type the value already has
    (RMSNorm's `.to(float32)`, `logits.float()`), and `Reshape` whose result
    has its input's shape at every probed (B, S, P) (`input_ids.view(-1, S)`,
    GPT-2's final `view(output_shape)`). Token rows flattened to `[B*S, D]`
    around row-wise computation (OPT's MLP) and restored to `[B, S, D']`
    afterwards are kept unflattened instead: every op in between works on the
    last axis (MatMul/Gemm with constant weights, element-wise ops with
    per-feature constants, last-axis ReduceMean/LayerNormalization). An `If`
    whose condition is computed from shapes and is the same at every probe
    (and at a larger size) is replaced by the branch it takes; one whose
    branch depends on the sizes is an error at its node.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def CheckShapeArithmeticPass
    : Pass<"llm-check-shape-arithmetic", "mlir::func::FuncOp"> {
  let summary = "Report ONNX errors in the graph's shape arithmetic";
  let description = [{
    Evaluates every value computed from the input shapes (through `Shape`)
    and constants only, under each probed (batch, new tokens, past) size, and
    reports at its node an op that fails under all of them (a `Range` with
    delta 0, a `Gather` index out of range, an impossible `Reshape`): such a
    graph cannot run at any size. Errors under some sizes only are left to
    the raising (they may be the model's own limits).
  }];
}

def RaiseEmbeddingsPass : Pass<"llm-raise-embeddings", "mlir::func::FuncOp"> {
  let summary = "Raise token and learned-position embeddings";
  let description = [{
    `Gather(table, input_ids)` becomes `llm.embedding`. A `Gather` of a
    constant table by a shape-determined index that equals `P + s + offset`
    for every probed (B, S, P) becomes `llm.embedding` of `llm.position_ids`;
    the table may be sliced to the sequence length first (and squeezed or
    cast), when the slice is a prefix of its rows at every probe. A rotary
    embedding computed from the positions (`Cos`/`Sin`, Llama 4.38+) whose
    row s is row `P + s` of one table at every probe becomes a lookup of
    that table (4096 rows).
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def RaiseLinearPass : Pass<"llm-raise-linear", "mlir::func::FuncOp"> {
  let summary = "Raise MatMul/Gemm with constant weights to llm.linear";
  let description = [{
    `MatMul(x, W)` with a constant 2-D `W` (or a transposed constant), an
    optional constant bias `Add`, and GPT-2's `Reshape -> Gemm -> Reshape`
    around 2-D Gemm become `llm.linear`. A linear whose output is split
    (`Split` or `Slice` on the last axis, e.g. fused QKV) becomes one linear
    per part.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def RaiseNormsPass : Pass<"llm-raise-norms", "mlir::func::FuncOp"> {
  let summary = "Raise LayerNorm and RMSNorm subgraphs";
  let description = [{
    `LayerNormalization` over the last axis, and every subgraph around a
    `ReduceMean` over the last axis whose result is checked numerically to
    equal `llm.layer_norm` or `llm.rms_norm` of its input with the constant
    scale/bias and epsilon found in it.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def RaiseActivationsPass : Pass<"llm-raise-activations", "mlir::func::FuncOp"> {
  let summary = "Raise activation subgraphs (GELU, tanh GELU, SiLU, ReLU, SwiGLU)";
  let description = [{
    Each element-wise subgraph between raised values that contains an
    `Erf`, `Tanh`, `Sigmoid` or `Relu` is compared numerically with the llm
    activations (one input) or SwiGLU (two inputs) and replaced by the one
    it equals.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def RaiseAttentionPass : Pass<"llm-raise-attention", "mlir::func::FuncOp"> {
  let summary = "Raise scaled dot-product attention with its KV cache";
  let description = [{
    Around each `Softmax`, finds the query, key and value projections, the
    past cache arguments and the present outputs; recognises head
    reshapes/transposes, grouped-query expansion, rotary embeddings, scaling
    and the causal mask (any of its export styles) by checking the subgraph
    numerically against candidate `llm.rope` + `llm.attention` ops for
    several (batch, new tokens, past length) sizes. A decoder-with-past graph
    without a causal mask (traced with one new token) is raised as causal
    with a remark. The choice is checked again at lengths beyond the integer
    constants of the scores' computation; where it differs there, a sliding
    `window` near one of them is looked for.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def RaiseElementwisePass : Pass<"llm-raise-elementwise", "mlir::func::FuncOp"> {
  let summary = "Raise residual adds and products of raised values";
  let description = [{
    `Add`/`Mul` of two raised values of one shape become `llm.add`/`llm.mul`;
    `llm.mul(llm.silu(g), u)` becomes `llm.swiglu(g, u)`.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def RaiseLayersPass : Pass<"llm-raise-layers", "mlir::func::FuncOp"> {
  let summary = "Alternate the raising steps until nothing changes";
  let description = [{
    Each step raises only what its inputs allow (a norm after the residual add
    that feeds it, an attention after its projections), so the element-wise,
    norm, activation and attention steps are repeated, in data-flow order,
    until a sweep changes nothing. Attention that is still not raised then is
    reported at its Softmax.
  }];
  let options = [
    Option<"maxSweeps", "max-sweeps", "unsigned", /*default=*/"1000",
           "Give up after this many sweeps">
  ];
  let dependentDialects = ["flightllm::llm::LLMDialect",
                           "mlir::tensor::TensorDialect"];
}

def FinalizeRaisingPass : Pass<"llm-finalize-raising", "mlir::ModuleOp"> {
  let summary = "Check that nothing but llm ops is left and record the model";
  let description = [{
    Turns the linear that produces `logits` into `llm.logits`, removes the
    dead ONNX shape arithmetic, and reports every ONNX node that is still
    needed (it could not be absorbed into llm ops) by name and op type.
    Records `llm.family`, `llm.num_layers`, `llm.vocab_size` and
    `llm.max_positions` on the module.
  }];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def SnapshotONNXGraphPass
    : Pass<"llm-snapshot-onnx-graph", "mlir::ModuleOp"> {
  let summary = "Keep a copy of the ONNX graph for -llm-verify-raising";
  let description = [{
    Clones the graph function (run it after -llm-raise-signature, so that the
    copy takes the arguments the raised program takes) into a nested module
    `@llm_onnx_graph`. The function passes of the raising do not see it;
    -llm-verify-raising compares against it and removes it.
  }];
}

def VerifyRaisingPass : Pass<"llm-verify-raising", "mlir::ModuleOp"> {
  let summary = "Check the raised program against the ONNX graph numerically";
  let description = [{
    Runs `@forward` with the reference interpreter and the graph kept by
    -llm-snapshot-onnx-graph with the ONNX reference evaluator on the same
    random inputs (token ids below the embedding table's size, random past
    caches) at (batch, new tokens, past) = (1, 3, 2) and (2, 1, 5) (prefill
    graphs: (1, 3, 0) and (2, 5, 0)) and at one long size: as many positions
    as the model has (`llm.max_positions`, else 4096) but no more than one
    past the largest small integer constant of the graph (a window or table
    length could hide a difference below it; prefill graphs stop at 128 new
    tokens). Every output must agree within `tolerance` (|raised - onnx| / (1 +
    |onnx|)), or for a graph computing in f16/bf16 within 32 epsilons of that
    type (the graph rounds every op's result, the program far fewer); the first that does not, in layer order (each layer's present
    key and value, then the logits), is reported with the size and the error.
    An ONNX error while evaluating the graph is reported at its node. The
    copy of the graph is removed either way.

    The comparisons cost host arithmetic in proportion to the model's
    weights times the tokens of each size (plus attention), estimated before
    running: for a 7B model the long prefill size alone is about 3.4 TFLOP.
    Sizes over `budget` (GFLOP, both evaluations together) are skipped, the
    long size first, then the costlier small one; the cheapest is always
    compared. A remark names the sizes compared and skipped, their costs,
    and the budget that would compare them all.
  }];
  let options = [
    Option<"tolerance", "tolerance", "double", /*default=*/"1e-4",
           "Largest |raised - onnx| / (1 + |onnx|) accepted (fp32 round-off "
           "through a whole model in two evaluation orders)">,
    Option<"budget", "budget", "double",
           /*default=*/"::flightllm::kDefaultVerifyRaisingBudget",
           "Estimated GFLOP the comparisons may cost; sizes beyond it are "
           "skipped (the long one first) with a remark, the cheapest never">
  ];
  let dependentDialects = ["flightllm::llm::LLMDialect"];
}

def TestPerturbWeightPass : Pass<"llm-test-perturb-weight", "mlir::ModuleOp"> {
  let summary = "Test only: scale one llm.weight (a deliberately wrong raising)";
  let description = [{
    Multiplies the first element of the `llm.weight` named `name` by
    `factor`, so that tests can check that -llm-verify-raising catches a
    raising that changed the model.
  }];
  let options = [
    Option<"weightName", "name", "std::string", /*default=*/"\"\"",
           "The llm.weight to change">,
    Option<"factor", "factor", "double", /*default=*/"2.0",
           "What its first element is multiplied by">
  ];
}

#endif // FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_TD
