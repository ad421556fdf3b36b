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

#include <array>
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
  std::optional<std::string> bytes = t ? floatTensorBytes(*t) : std::nullopt;
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

/// The query, key and value parts of a packed projection [B, S, q + k + v]
/// (`sizes`, 1-D int64; empty: three equal parts), split on the last axis
/// under `node`'s name. The split is the projection's only reader, so the
/// raising cuts it in three.
std::array<std::string, 3>
splitPackedQKV(const onnx::NodeProto &node, const std::string &qkv,
               const std::string &sizes,
               std::vector<onnx::NodeProto> &expansion) {
  onnx::NodeProto split;
  split.set_op_type("Split");
  split.set_name(node.name().empty() ? node.output(0) : node.name());
  split.add_input(qkv);
  if (!sizes.empty())
    split.add_input(sizes);
  for (const char *part : {"/query", "/key", "/value"})
    split.add_output(split.name() + part);
  *split.add_attribute() = intAttr("axis", 2);
  std::array<std::string, 3> parts = {split.output(0), split.output(1),
                                      split.output(2)};
  expansion.push_back(std::move(split));
  return parts;
}

/// [B, S, H * Dh] -> [B, S, H, Dh], Dh the 1-element `headSize`.
std::string splitHeads(NodeEmitter &emit, const std::string &x, int64_t heads,
                       const std::string &headSize) {
  std::string shape = emit.op("Concat", {emit.int64s({0, 0, heads}), headSize},
                              {intAttr("axis", 0)});
  return emit.op("Reshape", {x, shape});
}

/// [B, S, H, Dh] -> [B, H, S, Dh].
std::string headsFirst(NodeEmitter &emit, const std::string &x) {
  return emit.op("Transpose", {x}, {intsAttr("perm", {0, 2, 1, 3})});
}

/// Where the new tokens sit, from the cache [B, H, P, Dh] and the query
/// [B, S, ...] shapes: new token s at position P + s (s without a cache,
/// a prefill-only graph's attention).
struct CachePositions {
  std::string total;     // [1]: P + S
  std::string positions; // [S]: P, ..., P + S - 1
};

CachePositions cachePositions(NodeEmitter &emit, const std::string &pastKey,
                              const std::string &query) {
  std::string newTokens = dims(emit, emit.op("Shape", {query}), 1, 2);
  if (pastKey.empty())
    return {newTokens,
            emit.op("Range", {int64Scalar(emit, 0),
                              emit.op("Squeeze", {newTokens}),
                              int64Scalar(emit, 1)})};
  std::string past = dims(emit, emit.op("Shape", {pastKey}), 2, 3);
  std::string total = emit.op("Add", {past, newTokens});
  std::string positions =
      emit.op("Range", {emit.op("Squeeze", {past}), emit.op("Squeeze", {total}),
                        int64Scalar(emit, 1)});
  return {total, positions};
}

/// Causal scaled dot-product attention over the KV cache, as an unfused
/// export writes it: the new keys and values appended to the past ones (the
/// present outputs), the kv heads repeated for grouped queries, scores
/// scaled (by `scale`, or 1 / sqrt(head size) when 0), future positions
/// masked, Softmax, the context back to [B, S, Hq * Dh].
struct AttentionCore {
  int64_t numHeads, kvHeads;
  float scale;
  std::string headSize; // [1]
  CachePositions at;
  /// A [B, P + S] key padding mask the operator reads (MultiHeadAttention's
  /// key_padding_mask, Attention's mask_index), applied as onnxruntime
  /// defines it (zeros masked). The importer accepts only the model's
  /// attention_mask there, which the raising replaces by ones and folds as
  /// it folds an unfused export's mask.
  std::string keyPaddingMask;

  /// q [B, Hq, S, Dh], k and v [B, Hkv, S, Dh] into `output`; the present
  /// caches are named `presentKey` / `presentValue` when given. Without a
  /// past cache (empty names) the keys and values are the new ones.
  void emit(NodeEmitter &emit, const std::string &q, const std::string &k,
            const std::string &v, const std::string &pastKey,
            const std::string &pastValue, const std::string &presentKey,
            const std::string &presentValue, const std::string &output) const {
    auto appended = [&](const std::string &past, const std::string &next,
                        const std::string &present) {
      if (!past.empty())
        return emit.op("Concat", {past, next}, {intAttr("axis", 2)}, present);
      return present.empty() ? next : emit.op("Identity", {next}, {}, present);
    };
    std::string keys = appended(pastKey, k, presentKey);
    std::string values = appended(pastValue, v, presentValue);
    std::string scores = emit.op(
        "MatMul", {q, emit.op("Transpose", {repeated(emit, keys)},
                              {intsAttr("perm", {0, 1, 3, 2})})});
    if (scale != 0.0f)
      scores = emit.op("Mul", {scores, emit.scalar(scale)});
    else
      scores = emit.op(
          "Div", {scores,
                  emit.op("Sqrt", {emit.op("Cast", {emit.op("Squeeze", {headSize})},
                                           {intAttr("to", emit.floatType())})})});
    // Key position t is visible to new token s when t <= P + s.
    std::string keyPositions =
        emit.op("Range", {int64Scalar(emit, 0), emit.op("Squeeze", {at.total}),
                          int64Scalar(emit, 1)});
    std::string future = emit.op(
        "Greater",
        {keyPositions, emit.op("Unsqueeze", {at.positions, emit.int64s({1})})});
    scores = emit.op("Where",
                     {future, emit.scalar(lowest(emit.floatType())), scores});
    if (!keyPaddingMask.empty()) {
      std::string padding = emit.op(
          "Equal", {emit.op("Cast", {keyPaddingMask},
                            {intAttr("to", onnx::TensorProto::INT64)}),
                    emit.int64s({0})});
      scores = emit.op("Where", {emit.op("Unsqueeze", {padding, emit.int64s({1, 2})}),
                                 emit.scalar(lowest(emit.floatType())), scores});
    }
    std::string probs = emit.op("Softmax", {scores}, {intAttr("axis", -1)});
    std::string context =
        emit.op("Transpose", {emit.op("MatMul", {probs, repeated(emit, values)})},
                {intsAttr("perm", {0, 2, 1, 3})});
    emit.op("Reshape", {context, emit.int64s({0, 0, -1})}, {}, output);
  }

private:
  /// Query head h reads kv head h / (Hq / Hkv): each kv head repeated.
  std::string repeated(NodeEmitter &emit, const std::string &cache) const {
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
  }
};

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
  std::string headSize = dims(emit, emit.op("Shape", {pastKey}), 3, 4);
  if (k.empty()) {
    // Packed QKV [B, S, (Hq + 2 Hkv) * Dh], the sizes from the cache's
    // head size.
    std::string sizes =
        emit.op("Mul", {headSize, emit.int64s({numHeads, kvHeads, kvHeads})});
    std::array<std::string, 3> parts =
        splitPackedQKV(node, q, sizes, expansion);
    q = parts[0];
    k = parts[1];
    v = parts[2];
  }
  // [B, S, H * Dh] -> [B, S, H, Dh] (rotated there, as RotaryEmbedding
  // does), then [B, H, S, Dh].
  std::string q4 = splitHeads(emit, q, numHeads, headSize),
              k4 = splitHeads(emit, k, kvHeads, headSize),
              v4 = headsFirst(emit, splitHeads(emit, v, kvHeads, headSize));
  CachePositions at = cachePositions(emit, pastKey, q);
  const std::string &positions = at.positions;
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
  // seqlens_k and total_sequence_length describe the padding: like a mask,
  // they must come from the model's attention_mask. For the ones the
  // program assumes they are P + S - 1 and P + S, which the expansion
  // computes from the shapes (the mask arithmetic, a ReduceSum, is not
  // imported).
  static const char *const kLengthInputs[] = {"seqlens_k",
                                              "total_sequence_length"};
  for (int i : {5, 6})
    if (std::string length = input(node, i);
        !length.empty() && graph.otherInputRead)
      if (std::string other = graph.otherInputRead(length); !other.empty()) {
        emitError(loc) << "GroupQueryAttention input " << kLengthInputs[i - 5]
                       << " ('" << length
                       << "') is not supported: it must be computed from the "
                          "model's attention_mask input alone (assumed all "
                          "ones: one unpadded sequence), but it reads '"
                       << other << "'";
        return failure();
      }
  AttentionCore core{numHeads, kvHeads, floatAttrOr(node, "scale", 0.0f),
                     headSize, at, /*keyPaddingMask=*/""};
  core.emit(emit, headsFirst(emit, q4), headsFirst(emit, k4), v4, pastKey,
            pastValue, output(node, 1), output(node, 2), node.output(0));
  return success();
}

/// Elements [from, from + count) of the 1-D float constant `name` as a
/// constant of its own (a bias part added after its projection, as an
/// unfused export adds it), or failure.
FailureOr<std::string> constantPart(NodeEmitter &emit,
                                    const ContribGraphInfo &graph,
                                    const std::string &name, int64_t from,
                                    int64_t count) {
  const onnx::TensorProto *t = graph.constant ? graph.constant(name) : nullptr;
  std::optional<std::string> bytes = t ? floatTensorBytes(*t) : std::nullopt;
  if (!t || !bytes || t->dims_size() != 1 ||
      t->data_type() != emit.floatType())
    return failure();
  size_t elem = t->data_type() == onnx::TensorProto::FLOAT ? 4 : 2;
  if (bytes->size() != size_t(t->dims(0)) * elem || from + count > t->dims(0))
    return failure();
  onnx::TensorProto part;
  part.set_data_type(t->data_type());
  part.add_dims(count);
  part.set_raw_data(bytes->substr(size_t(from) * elem, size_t(count) * elem));
  return emit.constant(part);
}

/// The checks MultiHeadAttention and Attention share: causal, no
/// attention_bias, shared past/present buffers or rotary embedding, and a
/// mask only where it is the model's attention_mask (the llm program
/// computes one unpadded sequence, for which that mask is all ones).
LogicalResult checkFusedAttention(onnx::NodeProto &node, Location loc,
                                  const ContribGraphInfo &graph, int maskInput,
                                  llvm::StringRef maskName,
                                  int attentionBiasInput) {
  const std::string &op = node.op_type();
  if (intAttrOr(node, "num_heads", 0) <= 0) {
    emitError(loc) << op << " needs a positive num_heads";
    return failure();
  }
  if (intAttrOr(node, "unidirectional", 0) != 1) {
    emitError(loc) << op << " attribute unidirectional="
                   << intAttrOr(node, "unidirectional", 0)
                   << " is not supported (only 1: llm.attention is causal; "
                      "a causal mask passed as attention_bias is not "
                      "recognised)";
    return failure();
  }
  if (failed(refuseAttr(node, loc, "past_present_share_buffer", 0,
                        "only 0, separate past and present tensors")) ||
      failed(refuseAttr(node, loc, "do_rotary", 0,
                        "only 0, no rotary embedding inside the operator")))
    return failure();
  if (float filter = floatAttrOr(node, "mask_filter_value", -10000.0f);
      filter > -1000.0f) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g", double(filter));
    emitError(loc) << op << " attribute mask_filter_value=" << text
                   << " is not supported (masked scores must vanish in the "
                      "softmax: -1000 or below)";
    return failure();
  }
  if (std::string bias = input(node, attentionBiasInput); !bias.empty()) {
    emitError(loc) << op << " input attention_bias ('" << bias
                   << "') is not supported";
    return failure();
  }
  if (std::string mask = input(node, maskInput);
      !mask.empty() && !(graph.isAttentionMask && graph.isAttentionMask(mask))) {
    emitError(loc) << op << " input " << maskName << " ('" << mask
                   << "') is not supported: only the model's attention_mask "
                      "input (or a Cast of it), which the program assumes all "
                      "ones (one unpadded sequence)";
    return failure();
  }
  return success();
}

/// q, k, v [B, S, Hq * Dh] (biases added) with separate past caches
/// [B, H, P, Dh]: the attention MultiHeadAttention and Attention compute.
LogicalResult emitMultiHeadAttention(onnx::NodeProto &node, NodeEmitter &emit,
                                     Location loc, const ContribGraphInfo &graph,
                                     std::string q, std::string k, std::string v,
                                     const std::string &bias, int64_t hidden,
                                     const std::string &pastKey,
                                     const std::string &pastValue,
                                     const std::string &presentKey,
                                     const std::string &presentValue,
                                     const std::string &mask) {
  if (!bias.empty()) {
    std::string *parts[] = {&q, &k, &v};
    for (int i = 0; i < 3; ++i) {
      FailureOr<std::string> part =
          constantPart(emit, graph, bias, i * hidden, hidden);
      if (failed(part)) {
        emitError(loc) << node.op_type() << " bias '" << bias
                       << "' must be a constant [3 * " << hidden
                       << "] of the model's float type stored in the file";
        return failure();
      }
      *parts[i] = emit.op("Add", {*parts[i], *part});
    }
  }
  int64_t numHeads = intAttrOr(node, "num_heads", 0);
  // [B, H, P, Dh] caches give the head size; else q's width / num_heads.
  std::string headSize =
      pastKey.empty()
          ? emit.op("Div", {dims(emit, emit.op("Shape", {q}), 2, 3),
                            emit.int64s({numHeads})})
          : dims(emit, emit.op("Shape", {pastKey}), 3, 4);
  AttentionCore core{numHeads, numHeads, floatAttrOr(node, "scale", 0.0f),
                     headSize, cachePositions(emit, pastKey, q),
                     /*keyPaddingMask=*/mask};
  auto heads = [&](const std::string &x) {
    return headsFirst(emit, splitHeads(emit, x, numHeads, headSize));
  };
  core.emit(emit, heads(q), heads(k), heads(v), pastKey, pastValue, presentKey,
            presentValue, node.output(0));
  return success();
}

LogicalResult expandMultiHeadAttention(onnx::NodeProto &node, int32_t floatType,
                                       Location loc,
                                       const ContribGraphInfo &graph,
                                       std::vector<onnx::NodeProto> &expansion) {
  if (failed(checkFusedAttention(node, loc, graph, /*maskInput=*/4,
                                 "key_padding_mask", /*attentionBiasInput=*/5)))
    return failure();
  std::string q = input(node, 0), k = input(node, 1), v = input(node, 2);
  int64_t numHeads = intAttrOr(node, "num_heads", 0);
  std::optional<std::vector<int64_t>> queryDims =
      graph.shape ? graph.shape(q) : std::nullopt;
  bool packedQKV = k.empty() && v.empty();
  if (packedQKV && queryDims &&
      (queryDims->size() != 5 || (*queryDims)[2] != numHeads ||
       (*queryDims)[3] != 3)) {
    emitError(loc) << "MultiHeadAttention with packed QKV needs query '" << q
                   << "' of shape [batch, sequence, num_heads=" << numHeads
                   << ", 3, head size]";
    return failure();
  }
  if (!packedQKV && (k.empty() || v.empty())) {
    emitError(loc) << "MultiHeadAttention with packed KV (key '" << k
                   << "' without value) is not supported (cross attention)";
    return failure();
  }
  for (const std::string &x : packedQKV ? std::vector<std::string>{}
                                        : std::vector<std::string>{q, k, v})
    if (graph.shape)
      if (auto shape = graph.shape(x); shape && shape->size() != 3) {
        emitError(loc) << "MultiHeadAttention input '" << x << "' of rank "
                       << shape->size()
                       << " is not supported (only [batch, sequence, hidden]: "
                          "no packed QKV, cross attention or past key as key)";
        return failure();
      }
  static const char *const kUnsupportedInputs[] = {"past_sequence_length",
                                                   "cache_indirection"};
  for (int i = 8; i < node.input_size() && i < 10; ++i)
    if (!node.input(i).empty()) {
      emitError(loc) << "MultiHeadAttention input " << kUnsupportedInputs[i - 8]
                     << " ('" << node.input(i) << "') is not supported";
      return failure();
    }
  if (!output(node, 3).empty()) {
    emitError(loc) << "MultiHeadAttention output qk ('" << node.output(3)
                   << "') is not supported";
    return failure();
  }
  // With a cache: past and present both. Without (a prefill-only graph):
  // the presents, if returned, are the new keys and values.
  std::string pastKey = input(node, 6), pastValue = input(node, 7);
  bool past = !pastKey.empty() || !pastValue.empty();
  bool present = !output(node, 1).empty() || !output(node, 2).empty();
  if (pastKey.empty() != pastValue.empty() ||
      output(node, 1).empty() != output(node, 2).empty() ||
      (past && !present)) {
    emitError(loc) << "MultiHeadAttention needs past_key and past_value with "
                      "present_key and present_value, or no past (a "
                      "prefill-only graph: present_key and present_value "
                      "both or neither)";
    return failure();
  }
  // The bias is [3 * hidden] (q, k and v of equal sizes with a past cache).
  std::string bias = input(node, 3);
  std::optional<std::vector<int64_t>> biasDims =
      bias.empty() || !graph.shape ? std::nullopt : graph.shape(bias);
  int64_t hidden =
      biasDims && biasDims->size() == 1 ? (*biasDims)[0] / 3 : -1;
  if (!bias.empty() && (hidden <= 0 || (*biasDims)[0] % 3)) {
    emitError(loc) << "MultiHeadAttention bias '" << bias
                   << "' must be a constant [3 * hidden] of the model's "
                      "float type stored in the file";
    return failure();
  }
  NodeEmitter emit(node, floatType, expansion);
  if (packedQKV) {
    // query [B, S, N, 3, H] holds head n's q, k and v side by side (the
    // BSN3H layout of onnxruntime's docs). As [B, S, 3, N, H] flattened, it
    // is the [q | k | v] projection an unpacked export splits, which the
    // raising cuts in three (permuting the projection's columns).
    std::string grouped = emit.op(
        "Reshape", {emit.op("Transpose", {q}, {intsAttr("perm", {0, 1, 3, 2, 4})}),
                    emit.int64s({0, 0, -1})});
    int64_t headDim = queryDims ? (*queryDims)[4] : -1;
    if (hidden > 0 && headDim > 0 && hidden != numHeads * headDim) {
      emitError(loc) << "MultiHeadAttention bias '" << bias << "' must be [3 * "
                     << numHeads * headDim << "] for the packed query '" << q
                     << "'";
      return failure();
    }
    // Three equal parts (no sizes: the query's only reader is the
    // Transpose, which the raising folds into the projection).
    std::array<std::string, 3> parts =
        splitPackedQKV(node, grouped, /*sizes=*/"", expansion);
    q = parts[0];
    k = parts[1];
    v = parts[2];
  }
  return emitMultiHeadAttention(node, emit, loc, graph, q, k, v, bias, hidden,
                                pastKey, pastValue, output(node, 1),
                                output(node, 2), /*mask=*/input(node, 4));
}

LogicalResult expandAttention(onnx::NodeProto &node, int32_t floatType,
                              Location loc, const ContribGraphInfo &graph,
                              std::vector<onnx::NodeProto> &expansion) {
  if (failed(checkFusedAttention(node, loc, graph, /*maskInput=*/3,
                                 "mask_index", /*attentionBiasInput=*/5)))
    return failure();
  if (std::string n = input(node, 6); !n.empty()) {
    emitError(loc) << "Attention input past_sequence_length ('" << n
                   << "') is not supported";
    return failure();
  }
  // Q, K and V widths: the weights' (or, for dequantized weights, the
  // bias') last dimension over 3.
  std::string weights = input(node, 1);
  int64_t packedWidth = -1;
  for (const std::string &name : {weights, input(node, 2)}) {
    std::optional<std::vector<int64_t>> shape =
        graph.shape && !name.empty() ? graph.shape(name) : std::nullopt;
    if (packedWidth < 0 && shape && !shape->empty() && shape->back() > 0)
      packedWidth = shape->back();
  }
  if (packedWidth <= 0 || packedWidth % 3) {
    emitError(loc) << "Attention weights '" << weights
                   << "' must have a known [input hidden, 3 * hidden] shape";
    return failure();
  }
  int64_t hidden = packedWidth / 3;
  if (int64_t heads = intAttrOr(node, "num_heads", 0); hidden % heads) {
    emitError(loc) << "Attention num_heads=" << heads
                   << " does not divide the hidden size " << hidden;
    return failure();
  }
  if (onnx::AttributeProto *sizes = findAttr(node, "qkv_hidden_sizes"))
    for (int64_t size : sizes->ints())
      if (sizes->ints_size() != 3 || size != hidden) {
        emitError(loc) << "Attention attribute qkv_hidden_sizes is not "
                          "supported unless it is three equal sizes of the "
                          "weights' third ("
                       << hidden << ")";
        return failure();
      }
  // The separate caches splitPackedCaches made of the packed ones.
  auto separateCaches = [&](const std::string &name)
      -> std::optional<std::pair<std::string, std::string>> {
    if (name.empty() || !graph.packedCaches)
      return std::nullopt;
    auto it = graph.packedCaches->find(name);
    if (it == graph.packedCaches->end())
      return std::nullopt;
    return it->second;
  };
  // With a cache: past and present. Without (a prefill-only graph): the
  // present, if returned, holds the new keys and values.
  std::optional<std::pair<std::string, std::string>>
      past = separateCaches(input(node, 4)),
      present = separateCaches(output(node, 1));
  bool hasPast = !input(node, 4).empty(), hasPresent = !output(node, 1).empty();
  if ((hasPast && (!past || !present)) || (hasPresent && !present)) {
    emitError(loc) << "Attention needs its past and present to be a graph "
                      "input and output of shape [2, batch, num_heads, "
                      "length, head size], read and written by it alone (the "
                      "llm program takes and returns the cache, empty for a "
                      "prompt; a prefill-only graph has no past and may "
                      "return the present)";
    return failure();
  }
  std::pair<std::string, std::string> none;
  NodeEmitter emit(node, floatType, expansion);
  // The projection and its bias as an unfused export writes them.
  std::string qkv = emit.op("MatMul", {input(node, 0), weights});
  if (std::string bias = input(node, 2); !bias.empty())
    qkv = emit.op("Add", {qkv, bias});
  auto [q, k, v] = splitPackedQKV(node, qkv, emit.int64s({hidden, hidden, hidden}),
                                 expansion);
  return emitMultiHeadAttention(node, emit, loc, graph, q, k, v,
                                /*bias=*/"", hidden, past.value_or(none).first,
                                past.value_or(none).second,
                                present.value_or(none).first,
                                present.value_or(none).second,
                                /*mask=*/input(node, 3));
}

} // namespace

std::optional<std::string>
flightllm::floatTensorBytes(const onnx::TensorProto &t) {
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

LogicalResult flightllm::expandAttentionContribOp(
    onnx::NodeProto &node, int32_t floatType, Location loc,
    const ContribGraphInfo &graph, std::vector<onnx::NodeProto> &expansion) {
  if (node.op_type() == "RotaryEmbedding")
    return expandRotaryEmbedding(node, floatType, loc, graph, expansion);
  if (node.op_type() == "MultiHeadAttention")
    return expandMultiHeadAttention(node, floatType, loc, graph, expansion);
  if (node.op_type() == "Attention")
    return expandAttention(node, floatType, loc, graph, expansion);
  return expandGroupQueryAttention(node, floatType, loc, graph, expansion);
}
