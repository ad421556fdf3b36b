//===- LLMOps.td - The llm dialect ------------------------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_LLM_LLMOPS_TD
#define FLIGHTLLM_DIALECT_LLM_LLMOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let summary = "Model-level operations of decoder-only language models";
  let cppNamespace = "::flightllm::llm";
}

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

def LLM_AddOp : LLM_Op<"add", [Pure, SameOperandsAndResultType]> {
  let summary = "Element-wise addition";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

#endif // FLIGHTLLM_DIALECT_LLM_LLMOPS_TD
