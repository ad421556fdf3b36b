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
    program; until attention is raised they are unused. Inputs other than
    these (attention_mask, position_ids) are rejected at their location.
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
    for every probed (B, S, P) becomes `llm.embedding` of `llm.position_ids`.
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
    several (batch, new tokens, past length) sizes.
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

#endif // FLIGHTLLM_CONVERSION_ONNXTOLLM_PASSES_TD
