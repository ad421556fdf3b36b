//===- ContribAttention.cpp - GroupQueryAttention, RotaryEmbedding --------===//
//
// onnxruntime's model builder writes attention as com.microsoft
// GroupQueryAttention (q, k, v or one packed QKV input, past/present KV
// buffers, optionally its own rotary embedding) and RotaryEmbedding. Each is
// expanded into the subgraph an unfused export writes for the same thing
// (Hugging Face's rotate_half or the interleaved rotation, the past cache
// concatenated with the new keys and values, the kv heads repeated, a causal
// mask, Softmax), so that the attention raising finds llm.rope and
// llm.attention by the same numeric checks as for any export.
//
// Semantics: onnxruntime's docs/ContribOperators.md and its CPU kernels. The
// llm program computes one unpadded sequence (docs/llm-dialect.md,
// llm.assumed_inputs: attention_mask all ones); GroupQueryAttention's
// seqlens_k and total_sequence_length are then P + S - 1 and P + S for P
// cached and S new tokens, which is what the expansion computes from the
// cache and query shapes: those inputs are not read.
//===----------------------------------------------------------------------===//

#include "ContribOps.h"

#include "NodeEmitter.h"

#include "mlir/IR/Diagnostics.h"

#include "onnx/onnx_pb.h"

#include <cstdio>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace flightllm;

namespace {

std::string input(const onnx::NodeProto &node, int i) {
  return i < node.input_size() ? node.input(i) : std::string();
}
std::string output(const onnx::NodeProto &node, int i) {
  return i < node.output_size() ? node.output(i) : std::string();
}
int64_t intAttrOr(onnx::NodeProto &node, llvm::StringRef name, int64_t dflt) {
  onnx::AttributeProto *a = findAttr(node, name);
  return a ? a->i() : dflt;
}
float floatAttrOr(onnx::NodeProto &node, llvm::StringRef name, float dflt) {
  onnx::AttributeProto *a = findAttr(node, name);
  return a ? a->f() : dflt;
}

/// The element bytes of a float tensor stored in the file, or nothing (data
/// elsewhere, or a type that is not f32/f16/bf16).
std::optional<std::string> floatBytes(const onnx::TensorProto &t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return std::nullopt;
  if (t.has_raw_data())
    return t.raw_data();
  std::string bytes;
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    bytes.resize(size_t(t.float_data_size()) * 4);
    if (!bytes.empty())
      std::memcpy(bytes.data(), t.float_data().data(), bytes.size());
    return bytes;
  }
  if (t.data_type() == onnx::TensorProto::FLOAT16 ||
      t.data_type() == onnx::TensorProto::BFLOAT16) {
    for (int32_t v : t.int32_data()) {
      bytes.push_back(char(v & 0xff));
      bytes.push_back(char((v >> 8) & 0xff));
    }
    return bytes;
  }
  return std::nullopt;
}

/// onnxruntime's cos/sin caches hold `C = rotary_dim / 2` values per
/// position; an unfused export's tables (and llm.rope's) hold one value per
/// element of the head: [c, c] (rotate_half) or each value twice
/// (interleaved). Returns the full table `[MaxPos, 2C]` as a constant,
/// emitted once per cache and style, or an error.
FailureOr<std::string> fullRotaryTable(NodeEmitter &emit,
                                       const ContribGraphInfo &graph,
                                       const std::string &cache,
                                       bool interleaved, Location loc,
                                       const std::string &what) {
  std::string key = cache + (interleaved ? "#interleaved" : "#rotate_half");
  if (graph.derivedTables)
    if (auto it = graph.derivedTables->find(key);
        it != graph.derivedTables->end())
      return it->second;
  const onnx::TensorProto *t = graph.constant ? graph.constant(cache) : nullptr;
  std::optional<std::string> bytes = t ? floatBytes(*t) : std::nullopt;
  if (!t || t->dims_size() != 2 || !bytes || t->data_type() != emit.floatType()) {
    emitError(loc) << what << " '" << cache
                   << "' must be a constant [max positions, rotary dim / 2] "
                      "table of the model's float type stored in the file";
    return failure();
  }
  int64_t rows = t->dims(0), cols = t->dims(1);
  size_t elem = t->data_type() == onnx::TensorProto::FLOAT ? 4 : 2;
  if (rows < 0 || cols <= 0 || bytes->size() != size_t(rows * cols) * elem) {
    emitError(loc) << what << " '" << cache << "' has " << bytes->size()
                   << " bytes for its " << rows << "x" << cols << " elements";
    return failure();
  }
  std::string full(bytes->size() * 2, '\0');
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const char *src = bytes->data() + (r * cols + c) * elem;
      char *row = full.data() + r * 2 * cols * elem;
      if (interleaved) {
        std::memcpy(row + (2 * c) * elem, src, elem);
        std::memcpy(row + (2 * c + 1) * elem, src, elem);
      } else {
        std::memcpy(row + c * elem, src, elem);
        std::memcpy(row + (cols + c) * elem, src, elem);
      }
    }
  onnx::TensorProto table;
  table.set_data_type(t->data_type());
  table.add_dims(rows);
  table.add_dims(2 * cols);
  table.set_raw_data(std::move(full));
  std::string name = emit.constant(table);
  if (graph.derivedTables)
    (*graph.derivedTables)[key] = name;
  return name;
}

std::string int64Scalar(NodeEmitter &emit, int64_t value) {
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_int64_data(value);
  return emit.constant(t);
}

/// Elements [from, to) of a 1-D int64 tensor (a shape).
std::string dims(NodeEmitter &emit, const std::string &shape, int64_t from,
                 int64_t to) {
  return emit.op("Slice", {shape, emit.int64s({from}), emit.int64s({to}),
                           emit.int64s({0})});
}

/// The rotation partner of every element of `x` along its last axis (of
/// size 2C): concat(-x[C:], x[:C]) (rotate_half), or
/// (-x[2i+1], x[2i]) pairs (interleaved). `rank` is x's.
std::string rotated(NodeEmitter &emit, const std::string &x, int64_t halfDim,
                    bool interleaved, int64_t rank) {
  int64_t last = rank - 1;
  auto slice = [&](const std::string &t, int64_t from, int64_t to,
                   int64_t axis) {
    return emit.op("Slice", {t, emit.int64s({from}), emit.int64s({to}),
                             emit.int64s({axis})});
  };
  if (!interleaved) {
    std::string x1 = slice(x, 0, halfDim, last);
    std::string x2 = slice(x, halfDim, 2 * halfDim, last);
    return emit.op("Concat", {emit.op("Neg", {x2}), x1}, {intAttr("axis", last)});
  }
  std::vector<int64_t> pairs(size_t(rank), 0);
  pairs.back() = -1;
  pairs.push_back(2);
  std::string p = emit.op("Reshape", {x, emit.int64s(pairs)});
  std::string even = slice(p, 0, 1, rank);
  std::string odd = slice(p, 1, 2, rank);
  std::string r =
      emit.op("Concat", {emit.op("Neg", {odd}), even}, {intAttr("axis", rank)});
  std::vector<int64_t> back(size_t(rank), 0);
  back.back() = -1;
  return emit.op("Reshape", {r, emit.int64s(back)});
}

/// x * cos + rotated(x) * sin, with cos/sin already broadcastable to x.
std::string applyRotary(NodeEmitter &emit, const std::string &x,
                        const std::string &cos, const std::string &sin,
                        int64_t halfDim, bool interleaved, int64_t rank) {
  std::string r = rotated(emit, x, halfDim, interleaved, rank);
  return emit.op("Add", {emit.op("Mul", {x, cos}), emit.op("Mul", {r, sin})});
}

/// The most negative finite value of the float type: masked scores.
float lowest(int32_t type) {
  return type == onnx::TensorProto::FLOAT16
             ? -65504.0f
             : -3.0e38f; // f32, and finite in bf16 too.
}

LogicalResult refuseAttr(onnx::NodeProto &node, Location loc,
                         llvm::StringRef name, int64_t supported,
                         llvm::StringRef what) {
  onnx::AttributeProto *a = findAttr(node, name);
  if (!a)
    return success();
  bool isFloat = a->type() == onnx::AttributeProto::FLOAT;
  if (isFloat ? a->f() == float(supported) : a->i() == supported)
    return success();
  InFlightDiagnostic diag = emitError(loc);
  diag << node.op_type() << " attribute " << name << "=";
  if (isFloat) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", double(a->f()));
    diag << std::string(text);
  } else
    diag << a->i();
  diag << " is not supported (" << what << ")";
  return failure();
}

LogicalResult expandRotaryEmbedding(onnx::NodeProto &node, int32_t floatType,
                                    Location loc, const ContribGraphInfo &graph,
                                    std::vector<onnx::NodeProto> &expansion) {
  if (failed(refuseAttr(node, loc, "is_packed_batching", 0,
                        "only unpacked batches")))
    return failure();
  bool interleaved = intAttrOr(node, "interleaved", 0) != 0;
  std::string x = input(node, 0), positions = input(node, 1);
  if (graph.shape) {
    if (auto shape = graph.shape(x); shape && shape->size() != 3) {
      emitError(loc) << "RotaryEmbedding input '" << x << "' of rank "
                     << shape->size()
                     << " is not supported (only [batch, sequence, hidden])";
      return failure();
    }
    if (auto shape = graph.shape(positions); shape && shape->size() != 2) {
      emitError(loc) << "RotaryEmbedding position_ids '" << positions
                     << "' of rank " << shape->size()
                     << " is not supported (only [batch, sequence])";
      return failure();
    }
  }
  NodeEmitter emit(node, floatType, expansion);
  FailureOr<std::string> cos = fullRotaryTable(emit, graph, input(node, 2),
                                               interleaved, loc,
                                               "RotaryEmbedding cos_cache");
  FailureOr<std::string> sin = fullRotaryTable(emit, graph, input(node, 3),
                                               interleaved, loc,
                                               "RotaryEmbedding sin_cache");
  if (failed(cos) || failed(sin))
    return failure();
  int64_t half = graph.constant(input(node, 2))->dims(1);
  // Partial rotation (rotary_embedding_dim below the head size) is not
  // what llm.rope computes: refused unless the sizes show it is the whole
  // head.
  if (int64_t rd = intAttrOr(node, "rotary_embedding_dim", 0); rd) {
    int64_t heads = intAttrOr(node, "num_heads", 0);
    std::optional<std::vector<int64_t>> shape =
        graph.shape ? graph.shape(x) : std::nullopt;
    if (rd != 2 * half || heads <= 0 || !shape || shape->back() <= 0 ||
        shape->back() != heads * rd) {
      emitError(loc) << "RotaryEmbedding attribute rotary_embedding_dim=" << rd
                     << " is not supported (only the whole head size, with "
                        "num_heads and a known hidden size)";
      return failure();
    }
  }
  std::string x4 = emit.op("Reshape", {x, emit.int64s({0, 0, -1, 2 * half})});
  // q and k of a layer rotate by the same rows: one lookup of each table.
  auto lookup = [&](const std::string &table) {
    std::string key = "lookup#" + table + "#" + positions;
    if (auto it = graph.derivedTables->find(key);
        it != graph.derivedTables->end())
      return it->second;
    std::string rows = emit.op("Unsqueeze", {emit.op("Gather", {table, positions}),
                                             emit.int64s({2})});
    (*graph.derivedTables)[key] = rows;
    return rows;
  };
  std::string y = applyRotary(emit, x4, lookup(*cos), lookup(*sin), half,
                              interleaved, /*rank=*/4);
  emit.op("Reshape", {y, emit.op("Shape", {x})}, {}, node.output(0));
  return success();
}

LogicalResult expandGroupQueryAttention(onnx::NodeProto &node,
                                        int32_t floatType, Location loc,
                                        const ContribGraphInfo &graph,
                                        std::vector<onnx::NodeProto> &expansion) {
  int64_t numHeads = intAttrOr(node, "num_heads", 0);
  int64_t kvHeads = intAttrOr(node, "kv_num_heads", 0);
  if (numHeads <= 0 || kvHeads <= 0 || numHeads % kvHeads) {
    emitError(loc) << "GroupQueryAttention num_heads=" << numHeads
                   << " must be a positive multiple of kv_num_heads="
                   << kvHeads;
    return failure();
  }
  if (failed(refuseAttr(node, loc, "local_window_size", -1,
                        "only -1, attention to every cached position")) ||
      failed(refuseAttr(node, loc, "softcap", 0, "only 0, no soft capping")) ||
      failed(refuseAttr(node, loc, "smooth_softmax", 0,
                        "only 0, the plain softmax")) ||
      failed(refuseAttr(node, loc, "qk_output", 0,
                        "only 0, no attention scores output")))
    return failure();
  static const char *const kUnsupportedInputs[] = {
      nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
      nullptr, "position_ids", "attention_bias", "head_sink"};
  for (int i = 9; i < node.input_size(); ++i)
    if (!node.input(i).empty()) {
      emitError(loc) << "GroupQueryAttention input "
                     << (i < 12 ? kUnsupportedInputs[i] : "#" + std::to_string(i))
                     << " ('" << node.input(i) << "') is not supported";
      return failure();
    }
  if (!output(node, 3).empty()) {
    emitError(loc) << "GroupQueryAttention output output_qk ('"
                   << node.output(3) << "') is not supported";
    return failure();
  }
  std::string q = input(node, 0), k = input(node, 1), v = input(node, 2);
  std::string pastKey = input(node, 3), pastValue = input(node, 4);
  if (pastKey.empty() || pastValue.empty()) {
    emitError(loc) << "GroupQueryAttention without past_key and past_value "
                      "inputs is not supported (the llm program takes the "
                      "cache as an input, empty for a prompt)";
    return failure();
  }
  if (k.empty() != v.empty()) {
    emitError(loc) << "GroupQueryAttention has only one of key and value";
    return failure();
  }
  bool rotary = intAttrOr(node, "do_rotary", 0) != 0;
  bool interleaved = intAttrOr(node, "rotary_interleaved", 0) != 0;

  NodeEmitter emit(node, floatType, expansion);
  std::string cacheShape = emit.op("Shape", {pastKey});
  std::string headSize = dims(emit, cacheShape, 3, 4);
  if (k.empty()) {
    // Packed QKV [B, S, (Hq + 2 Hkv) * Dh]: split on the last axis (the
    // sizes from the cache's head size: the split is the projection's only
    // reader, so the raising can cut it into three).
    std::string sizes =
        emit.op("Mul", {headSize, emit.int64s({numHeads, kvHeads, kvHeads})});
    onnx::NodeProto split;
    split.set_op_type("Split");
    split.set_name(node.name().empty() ? node.output(0) : node.name());
    split.add_input(q);
    split.add_input(sizes);
    for (const char *part : {"/query", "/key", "/value"})
      split.add_output(split.name() + part);
    *split.add_attribute() = intAttr("axis", 2);
    q = split.output(0);
    k = split.output(1);
    v = split.output(2);
    expansion.push_back(std::move(split));
  }
  std::string queryShape = emit.op("Shape", {q});
  // [B, S, H * Dh] -> [B, S, H, Dh] (rotated there, as RotaryEmbedding
  // does), then [B, H, S, Dh].
  auto split = [&](const std::string &x, int64_t h) {
    std::string shape = emit.op("Concat", {emit.int64s({0, 0, h}), headSize},
                                {intAttr("axis", 0)});
    return emit.op("Reshape", {x, shape});
  };
  auto heads = [&](const std::string &x) {
    return emit.op("Transpose", {x}, {intsAttr("perm", {0, 2, 1, 3})});
  };
  std::string q4 = split(q, numHeads), k4 = split(k, kvHeads),
              v4 = heads(split(v, kvHeads));
  // New token s sits at position P + s.
  std::string past = dims(emit, cacheShape, 2, 3);
  std::string total = emit.op("Add", {past, dims(emit, queryShape, 1, 2)});
  std::string positions =
      emit.op("Range", {emit.op("Squeeze", {past}), emit.op("Squeeze", {total}),
                        int64Scalar(emit, 1)});
  if (rotary) {
    FailureOr<std::string> cos = fullRotaryTable(
        emit, graph, input(node, 7), interleaved, loc,
        "GroupQueryAttention cos_cache");
    FailureOr<std::string> sin = fullRotaryTable(
        emit, graph, input(node, 8), interleaved, loc,
        "GroupQueryAttention sin_cache");
    if (failed(cos) || failed(sin))
      return failure();
    int64_t half = graph.constant(input(node, 7))->dims(1);
    // A rotary dimension below the head size rotates part of each head,
    // which llm.rope does not compute.
    std::optional<std::vector<int64_t>> cacheDims =
        graph.shape ? graph.shape(pastKey) : std::nullopt;
    if (!cacheDims || cacheDims->size() != 4 || (*cacheDims)[3] != 2 * half) {
      emitError(loc) << "GroupQueryAttention with do_rotary=1: rotary "
                        "dimension "
                     << 2 * half
                     << " (cos_cache) must equal the head size, declared by "
                        "past_key '"
                     << pastKey
                     << "' (partial rotary embeddings are not supported)";
      return failure();
    }
    // Rows [1, S, 1, Dh] against [B, S, H, Dh].
    std::string rows = emit.op("Unsqueeze", {positions, emit.int64s({0})});
    auto lookup = [&](const std::string &table) {
      return emit.op("Unsqueeze",
                     {emit.op("Gather", {table, rows}), emit.int64s({2})});
    };
    std::string c = lookup(*cos), s = lookup(*sin);
    q4 = applyRotary(emit, q4, c, s, half, interleaved, 4);
    k4 = applyRotary(emit, k4, c, s, half, interleaved, 4);
  }
  q4 = heads(q4);
  k4 = heads(k4);
  std::string presentKey = emit.op("Concat", {pastKey, k4}, {intAttr("axis", 2)},
                                   output(node, 1));
  std::string presentValue = emit.op("Concat", {pastValue, v4},
                                     {intAttr("axis", 2)}, output(node, 2));
  // Query head h reads kv head h / (Hq / Hkv): each kv head repeated.
  auto repeated = [&](const std::string &cache) {
    if (numHeads == kvHeads)
      return cache;
    std::string shape = emit.op("Shape", {cache});
    std::string expanded = emit.op(
        "Expand",
        {emit.op("Unsqueeze", {cache, emit.int64s({2})}),
         emit.op("Concat",
                 {dims(emit, shape, 0, 2), emit.int64s({numHeads / kvHeads}),
                  dims(emit, shape, 2, 4)},
                 {intAttr("axis", 0)})});
    return emit.op("Reshape",
                   {expanded, emit.op("Concat",
                                      {dims(emit, shape, 0, 1),
                                       emit.int64s({numHeads}),
                                       dims(emit, shape, 2, 4)},
                                      {intAttr("axis", 0)})});
  };
  std::string scores = emit.op(
      "MatMul", {q4, emit.op("Transpose", {repeated(presentKey)},
                             {intsAttr("perm", {0, 1, 3, 2})})});
  if (float scale = floatAttrOr(node, "scale", 0.0f); scale != 0.0f)
    scores = emit.op("Mul", {scores, emit.scalar(scale)});
  else
    scores = emit.op(
        "Div", {scores, emit.op("Sqrt", {emit.op("Cast", {emit.op("Squeeze", {headSize})},
                                                 {intAttr("to", floatType)})})});
  // Causal: key position t is visible to new token s when t <= P + s.
  std::string keys = emit.op("Range", {int64Scalar(emit, 0),
                                       emit.op("Squeeze", {total}),
                                       int64Scalar(emit, 1)});
  std::string future = emit.op(
      "Greater", {keys, emit.op("Unsqueeze", {positions, emit.int64s({1})})});
  scores = emit.op("Where", {future, emit.scalar(lowest(floatType)), scores});
  std::string probs = emit.op("Softmax", {scores}, {intAttr("axis", -1)});
  std::string context = emit.op(
      "Transpose", {emit.op("MatMul", {probs, repeated(presentValue)})},
      {intsAttr("perm", {0, 2, 1, 3})});
  emit.op("Reshape", {context, emit.int64s({0, 0, -1})}, {}, node.output(0));
  return success();
}

} // namespace

LogicalResult flightllm::expandAttentionContribOp(
    onnx::NodeProto &node, int32_t floatType, Location loc,
    const ContribGraphInfo &graph, std::vector<onnx::NodeProto> &expansion) {
  if (node.op_type() == "RotaryEmbedding")
    return expandRotaryEmbedding(node, floatType, loc, graph, expansion);
  return expandGroupQueryAttention(node, floatType, loc, graph, expansion);
}
