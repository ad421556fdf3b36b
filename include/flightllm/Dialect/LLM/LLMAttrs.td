//===- LLMAttrs.td - Attributes of the llm dialect --------*- tablegen -*-===//

#ifndef FLIGHTLLM_DIALECT_LLM_LLMATTRS_TD
#define FLIGHTLLM_DIALECT_LLM_LLMATTRS_TD

include "flightllm/Dialect/LLM/LLMDialect.td"
include "mlir/IR/EnumAttr.td"

def LLM_RopeStyle : I32Enum<"RopeStyle", "how rotary embeddings pair elements", [
    // Element i rotates with element i + Dh/2 (GPT-NeoX, Llama in HF).
    I32EnumCase<"RotateHalf", 0, "rotate_half">,
    // Element 2i rotates with element 2i+1 (GPT-J, Llama's original code).
    I32EnumCase<"Interleaved", 1, "interleaved">
  ]> {
  let cppNamespace = "::flightllm::llm";
}

// Prints as the bare keyword inside op formats: `llm.rope rotate_half ...`.
def LLM_RopeStyleAttr : EnumAttr<LLM_Dialect, LLM_RopeStyle, "rope_style">;

#endif // FLIGHTLLM_DIALECT_LLM_LLMATTRS_TD
