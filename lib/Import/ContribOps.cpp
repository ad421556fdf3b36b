//===- ContribOps.cpp - onnxruntime's fused operators -> opset 17 ---------===//
//
// Formulas: onnxruntime docs/ContribOperators.md and its CPU kernels (the
// reference the tests compare with).
// All compute in f32 (see F32Compute).
//===----------------------------------------------------------------------===//

#include "ContribOps.h"

#include "NodeEmitter.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"

#include "onnx/onnx_pb.h"

using namespace mlir;
using namespace flightllm;

namespace {

const ContribOpInfo kContribOps[] = {
    {"com.microsoft", "BiasGelu", "1", "Add, then GELU (Erf)", "-"},
    {"com.microsoft", "FastGelu", "1",
     "Add of the optional bias, then GELU (Tanh)", "-"},
    {"com.microsoft", "Gelu", "1", "GELU (Erf)", "-"},
    {"com.microsoft", "SkipLayerNormalization", "1",
     "Add of input, skip and the optional bias, then LayerNormalization "
     "(epsilon); the sum is its 4th output",
     "the mean and inv_std_var outputs"},
    {"com.microsoft", "SkipSimplifiedLayerNormalization", "1",
     "Add of input, skip and the optional bias, then RMS normalization "
     "(epsilon); the sum is its 4th output, inv_std_var its 3rd",
     "the mean output"},
    {"ai.onnx, com.microsoft", "SimplifiedLayerNormalization", "1",
     "RMS normalization over the last axis (epsilon, stash_type 1); the "
     "optional inv_std_var output",
     "an axis other than -1; stash_type other than 1"},
    {"com.microsoft", "RotaryEmbedding", "1",
     "rotate_half (interleaved=0) or interleaved rotation of each head by "
     "the constant cos/sin caches [max positions, head size / 2] at "
     "position_ids; input [batch, sequence, hidden]; rotary_embedding_dim "
     "equal to the head size",
     "a 4-D input; partial rotation (rotary_embedding_dim below the head "
     "size); is_packed_batching=1"},
    {"com.microsoft", "GroupQueryAttention", "1",
     "q, k, v [batch, sequence, hidden] or packed QKV (key and value absent, "
     "split by num_heads and kv_num_heads); do_rotary with "
     "rotary_interleaved 0 or 1 (constant caches, whole head); past_key and "
     "past_value [batch, kv_num_heads, past, head size] concatenated with "
     "the new keys and values (present_key, present_value); kv heads "
     "repeated; causal; scale; seqlens_k and total_sequence_length computed "
     "from the model's attention_mask alone, hence P + S - 1 and P + S for "
     "the one unpadded sequence the program assumes, which the expansion "
     "takes from the shapes (see Masks)",
     "no past_key/past_value; local_window_size other than -1; softcap; "
     "smooth_softmax; qk_output or the output_qk output; position_ids, "
     "attention_bias and head_sink inputs; partial rotary; seqlens_k or "
     "total_sequence_length computed from another graph input"},
    {"com.microsoft", "MultiHeadAttention", "1",
     "q, k, v [batch, sequence, hidden], or packed QKV in query [batch, "
     "sequence, num_heads, 3, head size] (key and value absent: head n's "
     "q, k, v side by side); bias [3 * hidden] (a constant); past_key and "
     "past_value [batch, num_heads, past, head size] with present_key and "
     "present_value, or no past (a prefill-only graph; the presents, if "
     "returned, are the new keys and values; in a graph exported without "
     "any cache, logits its only output, they become the outputs "
     "present.N.key/value); unidirectional=1 (causal); "
     "scale; key_padding_mask [batch, past + sequence] applied (zeros "
     "masked) when it is the model's attention_mask (or a Cast of it)",
     "unidirectional=0; packed KV or cross attention (key of another shape); "
     "a past without presents; attention_bias; past_present_share_buffer; "
     "do_rotary; mask_filter_value above -1000; past_sequence_length and "
     "cache_indirection inputs; the qk output; any other key_padding_mask"},
    {"com.microsoft", "Attention", "1",
     "MatMul by the packed QKV weights [hidden, 3 * hidden] (+ bias), split "
     "in three, then as MultiHeadAttention (unidirectional=1, "
     "qkv_hidden_sizes absent or three equal sizes); the packed past graph "
     "input [2, batch, num_heads, past, head size] and present output become "
     "past_key_values.N.key/value and present.N.key/value; no past (a "
     "prefill-only graph) with or without the present (without any cache, "
     "logits the graph's only output, the presents become outputs as for "
     "MultiHeadAttention); mask_index applied "
     "(zeros masked) when it is the model's attention_mask (or a Cast of it)",
     "unidirectional=0; unequal qkv_hidden_sizes; a past or present that is "
     "not a [2, ...] graph input/output of this node alone; attention_bias; "
     "past_present_share_buffer; do_rotary; mask_filter_value above -1000; "
     "past_sequence_length; any other mask_index (1-D key lengths, 3-D, 4-D)"},
    {"com.microsoft", "MatMulNBits", "1",
     "the codes unpacked and dequantized per block by DequantizeLinear, then "
     "MatMul (+ bias); raised to llm.linear with those codes, scales and "
     "zero points (bits 4 and 8; block_size a multiple of 16 dividing K; "
     "constant B, scales and optional uint8 zero_points)",
     "bits other than 4 and 8; a block_size that is not a multiple of 16 or "
     "does not divide K (padded last block); float zero_points; g_idx; "
     "computed (non-constant) B, scales or zero_points"},
};

bool isMicrosoft(const onnx::NodeProto &node) {
  return node.domain() == "com.microsoft";
}

/// Output `i` of `node` when it is there and named.
std::string output(const onnx::NodeProto &node, int i) {
  return i < node.output_size() ? node.output(i) : std::string();
}
/// Input `i` of `node` when it is there and named.
std::string input(const onnx::NodeProto &node, int i) {
  return i < node.input_size() ? node.input(i) : std::string();
}

float floatAttrOr(onnx::NodeProto &node, llvm::StringRef name, float dflt) {
  onnx::AttributeProto *a = findAttr(node, name);
  return a ? a->f() : dflt;
}

constexpr int32_t kF32 = onnx::TensorProto::FLOAT;

/// onnxruntime's CPU kernels of these operators read f16/bf16 tensors into
/// f32, compute in f32 and round once at the end; the expansions do the same
/// (an expansion in f16 rounds after every step and drifts by a few ulps).
struct F32Compute {
  NodeEmitter &emit;
  /// The ONNX type of the operator's inputs and outputs.
  int32_t ioType;
  const ContribGraphInfo *graph = nullptr;

  /// `x` in f32: a constant (a norm's gamma or beta, a bias) widened into an
  /// f32 constant, which the raising takes as the llm op's weight as it is
  /// (a Cast of it would be left over); anything else Cast.
  std::string in(const std::string &x) {
    if (ioType == kF32 || x.empty())
      return x;
    if (std::optional<std::string> widened = widenedConstant(x))
      return *widened;
    return emit.op("Cast", {x}, {intAttr("to", kF32)});
  }

  std::optional<std::string> widenedConstant(const std::string &x) {
    const onnx::TensorProto *t =
        graph && graph->constant ? graph->constant(x) : nullptr;
    std::optional<std::string> bytes =
        t && t->data_type() == ioType ? floatTensorBytes(*t) : std::nullopt;
    if (!bytes || !graph->derivedTables)
      return std::nullopt;
    std::string key = x + "#f32";
    if (auto it = graph->derivedTables->find(key);
        it != graph->derivedTables->end())
      return it->second;
    const llvm::fltSemantics &semantics = ioType == onnx::TensorProto::FLOAT16
                                              ? llvm::APFloat::IEEEhalf()
                                              : llvm::APFloat::BFloat();
    onnx::TensorProto wide;
    wide.set_data_type(kF32);
    *wide.mutable_dims() = t->dims();
    for (size_t i = 0; i + 1 < bytes->size(); i += 2) {
      uint16_t bits = uint16_t(uint8_t((*bytes)[i])) |
                      uint16_t(uint8_t((*bytes)[i + 1])) << 8;
      llvm::APFloat v(semantics, llvm::APInt(16, bits));
      bool lost = false;
      v.convert(llvm::APFloat::IEEEsingle(), llvm::RoundingMode::NearestTiesToEven,
                &lost); // exact: f32 holds every f16 and bf16 value
      wide.add_float_data(v.convertToFloat());
    }
    std::string name = emit.constant(wide);
    (*graph->derivedTables)[key] = name;
    return name;
  }
  /// `output` as the last node, from `y` (f32) or by `compute(name)` that
  /// defines the given name (empty: a fresh one) in f32.
  template <typename Fn>
  void out(const std::string &output, Fn compute) {
    if (ioType == kF32) {
      compute(output);
      return;
    }
    emit.op("Cast", {compute(std::string())}, {intAttr("to", ioType)}, output);
  }
};

/// RMS normalization of `x` (f32) over its last axis, like onnxruntime's
/// kernel: y = x / sqrt(mean(x^2) + epsilon) * scale. Defines `y` and, when
/// named, `invStd` (1 / sqrt(mean(x^2) + epsilon), f32).
void emitRMSNorm(F32Compute &f32, const std::string &x,
                 const std::string &scale, float epsilon, const std::string &y,
                 const std::string &invStd) {
  NodeEmitter &emit = f32.emit;
  // Pow, as exporters write it: a Mul of x by itself would be raised to an
  // llm.mul of its own before the norm around it is recognised.
  std::string meanSquare =
      emit.op("ReduceMean", {emit.op("Pow", {x, emit.scalar(2.0f)})},
              {intsAttr("axes", {-1}), intAttr("keepdims", 1)});
  std::string inv = emit.op(
      "Reciprocal",
      {emit.op("Sqrt", {emit.op("Add", {meanSquare, emit.scalar(epsilon)})})});
  if (!invStd.empty())
    emit.op("Identity", {inv}, {}, invStd);
  std::string normed = emit.op("Mul", {x, inv});
  std::string gamma = f32.in(scale);
  f32.out(y, [&](const std::string &name) {
    return emit.op("Mul", {normed, gamma}, {}, name);
  });
}

/// (input + bias) + skip, the residual sum the normalization reads (f32, or
/// the f16/bf16 input type, see below); the node's 4th output, when it has
/// one, is that sum in the input type. The bias is the one onnxruntime's optimizer moved here from the
/// projection computing `input`: added to it first, it is that projection's
/// bias again for the raising (onnxruntime adds it last; the orders differ
/// by float rounding only). In f16/bf16 the sum is computed in that type,
/// as an unfused export's residual add is, and normalized from there:
/// onnxruntime normalizes the unrounded f32 sum, which differs by one
/// rounding of the sum (within the type's tolerance); summed in f32, the
/// residual stream would be a value the raising cannot take as llm.add.
std::string emitSkipSum(F32Compute &f32, const onnx::NodeProto &node,
                        int biasIndex, int sumOutput) {
  NodeEmitter &emit = f32.emit;
  bool wide = f32.ioType == kF32;
  auto term = [&](const std::string &x) { return wide ? f32.in(x) : x; };
  std::string x = term(input(node, 0));
  if (!input(node, biasIndex).empty())
    x = emit.op("Add", {x, term(input(node, biasIndex))});
  std::string sumName = output(node, sumOutput);
  if (!wide)
    return emit.op("Add", {x, input(node, 1)}, {}, sumName);
  std::string sum = emit.op("Add", {x, f32.in(input(node, 1))});
  if (!sumName.empty())
    emit.op("Identity", {sum}, {}, sumName);
  return sum;
}

/// The mean output of the skip normalizations (2nd) is not computed.
LogicalResult refuseMeanOutput(const onnx::NodeProto &node, Location loc) {
  if (output(node, 1).empty())
    return success();
  emitError(loc) << node.op_type() << " output 'mean' ('" << node.output(1)
                 << "') is not supported";
  return failure();
}

} // namespace

bool flightllm::isExpandedContribOp(const onnx::NodeProto &node) {
  if (node.op_type() == "SimplifiedLayerNormalization")
    return isMicrosoft(node) || node.domain().empty() ||
           node.domain() == "ai.onnx";
  return isMicrosoft(node) &&
         llvm::any_of(kContribOps, [&](const ContribOpInfo &info) {
           return node.op_type() == info.op;
         });
}

LogicalResult flightllm::expandContribOp(onnx::NodeProto &node,
                                         int32_t floatType, Location loc,
                                         const ContribGraphInfo &graph,
                                         std::vector<onnx::NodeProto> &expansion) {
  const std::string &op = node.op_type();
  if (op == "GroupQueryAttention" || op == "RotaryEmbedding" ||
      op == "MultiHeadAttention" || op == "Attention")
    return expandAttentionContribOp(node, floatType, loc, graph, expansion);
  if (op == "MatMulNBits")
    return expandMatMulNBits(node, floatType, loc, graph, expansion);
  if (op == "Gelu") {
    expandGelu(node, floatType, /*tanh=*/false, expansion);
    return success();
  }
  NodeEmitter emit(node, kF32, expansion);
  F32Compute f32{emit, floatType, &graph};
  auto gelu = [&](std::string x, bool tanh) {
    f32.out(node.output(0), [&](const std::string &name) {
      return emitGelu(emit, x, tanh, name);
    });
  };
  if (op == "BiasGelu" || op == "FastGelu") {
    // The bias is the preceding projection's (moved here by onnxruntime's
    // optimizer). In f16/bf16 it is added in that type, as an unfused
    // export adds a projection's bias, so that the raising takes it as the
    // projection's again; then the GELU in f32 (onnxruntime adds it in f32:
    // one rounding apart).
    bool wide = floatType == kF32;
    std::string x = wide ? f32.in(input(node, 0)) : input(node, 0);
    if (!input(node, 1).empty())
      x = emit.op("Add", {x, wide ? f32.in(input(node, 1)) : input(node, 1)});
    gelu(f32.in(x), /*tanh=*/op == "FastGelu");
    return success();
  }
  float epsilon = floatAttrOr(node, "epsilon", 1e-5f);
  if (op == "SimplifiedLayerNormalization") {
    onnx::AttributeProto *axis = findAttr(node, "axis");
    if (axis && axis->i() != -1) {
      emitError(loc) << "SimplifiedLayerNormalization over axis " << axis->i()
                     << " is not supported (only the last axis, -1)";
      return failure();
    }
    onnx::AttributeProto *stash = findAttr(node, "stash_type");
    if (stash && stash->i() != kF32) {
      emitError(loc) << "SimplifiedLayerNormalization stash_type "
                     << stash->i() << " is not supported (only 1, float)";
      return failure();
    }
    emitRMSNorm(f32, f32.in(input(node, 0)), input(node, 1), epsilon,
                node.output(0), output(node, 1));
    return success();
  }
  if (op == "SkipSimplifiedLayerNormalization") {
    if (failed(refuseMeanOutput(node, loc)))
      return failure();
    std::string sum = emitSkipSum(f32, node, /*biasIndex=*/3, /*sumOutput=*/3);
    emitRMSNorm(f32, f32.in(sum), input(node, 2), epsilon, node.output(0),
                output(node, 2));
    return success();
  }
  if (op == "SkipLayerNormalization") {
    if (failed(refuseMeanOutput(node, loc)))
      return failure();
    if (!output(node, 2).empty()) {
      emitError(loc) << "SkipLayerNormalization output 'inv_std_var' ('"
                     << node.output(2) << "') is not supported";
      return failure();
    }
    std::string sum = emitSkipSum(f32, node, /*biasIndex=*/4, /*sumOutput=*/3);
    std::vector<std::string> lnInputs = {sum, input(node, 2)};
    if (!input(node, 3).empty())
      lnInputs.push_back(input(node, 3));
    if (floatType != kF32) {
      // LayerNormalization-17 of the f16/bf16 sum computes in f32 itself
      // (stash_type 1) and rounds once, as onnxruntime's kernel does; the
      // raising takes it as llm.layer_norm of the residual sum.
      emit.op("LayerNormalization", lnInputs,
              {intAttr("axis", -1), floatAttr("epsilon", epsilon)},
              node.output(0));
      return success();
    }
    f32.out(node.output(0), [&](const std::string &name) {
      return emit.op("LayerNormalization", lnInputs,
                     {intAttr("axis", -1), floatAttr("epsilon", epsilon)},
                     name);
    });
    return success();
  }
  emitError(loc) << node.domain() << "::" << op << " is not supported";
  return failure();
}

void flightllm::expandGelu(const onnx::NodeProto &node, int32_t ioType,
                           bool tanh, std::vector<onnx::NodeProto> &expansion) {
  NodeEmitter emit(node, kF32, expansion);
  F32Compute f32{emit, ioType};
  std::string x = f32.in(node.input(0));
  f32.out(node.output(0), [&](const std::string &name) {
    return emitGelu(emit, x, tanh, name);
  });
}

llvm::ArrayRef<ContribOpInfo> flightllm::getExpandedContribOps() {
  return kContribOps;
}
