//===- OpsetAdapter.cpp - Newer default-domain opsets -> opset 17 ---------===//

#include "OpsetAdapter.h"

#include "ContribOps.h"
#include "NodeEmitter.h"

#include "flightllm/ISA/ISA.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringRef.h"

#include "onnx/defs/tensor_proto_util.h"
#include <cstring>
#include "onnx/onnx_pb.h"

#include <map>
#include <set>
#include <optional>
#include <vector>

using namespace mlir;
using namespace flightllm;

namespace {

/// The importer's knowledge of opsets 18-21 for the operators it accepts
/// (ONNX Changelog.md). Operators not listed did not change in those opsets.
const OpsetRevision kRevisions[] = {
    {"Cast", 19, "`saturate` attribute (float8 targets only), float8 types",
     "`saturate` dropped (no float8 type is accepted)"},
    {"Cast", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"Constant", 19, "float8 types", "same form"},
    {"Constant", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"ConstantOfShape", 20, "bfloat16 and float8 types",
     "a bfloat16 fill becomes an f32 one and a Cast"},
    {"ConstantOfShape", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"DequantizeLinear", 19,
     "float8 types; x_scale may be float16/bfloat16",
     "same form (a float16/bfloat16 scale is refused by the opset-13 type)"},
    {"DequantizeLinear", 21, "`block_size` attribute, int4/uint4 types",
     "block_size along axis 0 of a constant [K, N] weight, a multiple of 16 "
     "dividing K: the group-wise weight format (as MatMulNBits is "
     "expanded); other blocks are refused"},
    {"Equal", 19, "string type", "same form"},
    {"Gelu", 20, "new operator",
     "expanded to its definition (Erf, or Tanh when approximate=\"tanh\")"},
    {"Identity", 19, "float8 types", "same form"},
    {"Identity", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"If", 19, "float8 types", "same form"},
    {"If", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"ReduceMean", 18, "`axes` is an input; `noop_with_empty_axes` attribute",
     "constant `axes` become the attribute; none reduce all axes (or, with "
     "noop_with_empty_axes=1, nothing); computed axes are refused"},
    {"Reshape", 19, "float8 types", "same form"},
    {"Reshape", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"ScatterND", 18, "reduction max/min",
     "same form; max/min are refused"},
    {"Shape", 19, "float8 types", "same form"},
    {"Shape", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"Split", 18, "`num_outputs` attribute (last chunk may be smaller)",
     "dropped when it equals the outputs (equal chunks: the axis must divide, "
     "checked by shape inference and at run time)"},
    {"Squeeze", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"Transpose", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
    {"Unsqueeze", 21, "int4/uint4 types",
     "same form (an int4/uint4 tensor is refused: Element types)"},
};

/// The accelerator's K block (include/flightllm/ISA): group sizes the DSP
/// chain scales whole.
constexpr int64_t isaKBlock = flightllm::isa::kKBlock;

bool isDefaultDomain(const std::string &domain) {
  return domain.empty() || domain == "ai.onnx";
}

/// Constant tensors by name: initializers of the graph and the graphs around
/// it, and Constant nodes seen so far.
class Constants {
public:
  void addGraph(const onnx::GraphProto &graph) {
    for (const auto &init : graph.initializer())
      tensors[init.name()] = &init;
  }
  void addNode(const onnx::NodeProto &node) {
    if (node.op_type() != "Constant" || node.output_size() != 1)
      return;
    for (const auto &attr : node.attribute())
      if (attr.name() == "value" && attr.has_t())
        tensors[node.output(0)] = &attr.t();
      else if (attr.name() == "value_ints")
        ints[node.output(0)] = {attr.ints().begin(), attr.ints().end()};
  }
  /// The float element type of `name` from the model's declared types, else
  /// the model's: that of its float initializers (a decoder computes in one
  /// float type; a wrong guess fails ONNX's type check, never silently).
  std::optional<int32_t> floatTypeOf(const std::string &name) const {
    if (auto it = declared.find(name); it != declared.end())
      return it->second;
    if (modelFloatType)
      return modelFloatType;
    return std::nullopt;
  }
  /// The constant tensor named `name`, or null.
  const onnx::TensorProto *tensor(const std::string &name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : it->second;
  }
  /// The declared dimensions of `name` (-1 where symbolic), if declared.
  std::optional<std::vector<int64_t>> shape(const std::string &name) const {
    if (auto it = shapes.find(name); it != shapes.end())
      return it->second;
    if (const onnx::TensorProto *t = tensor(name))
      return std::vector<int64_t>(t->dims().begin(), t->dims().end());
    return std::nullopt;
  }
  void addDeclaredTypes(const onnx::GraphProto &graph) {
    auto add = [&](const onnx::ValueInfoProto &vi) {
      if (vi.type().has_tensor_type() && isFloat(vi.type().tensor_type().elem_type()))
        declared[vi.name()] = vi.type().tensor_type().elem_type();
      if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape()) {
        std::vector<int64_t> dims;
        for (const auto &d : vi.type().tensor_type().shape().dim())
          dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
        shapes[vi.name()] = std::move(dims);
      }
    };
    for (const auto &vi : graph.input())
      add(vi);
    for (const auto &vi : graph.value_info())
      add(vi);
    for (const auto &vi : graph.output())
      add(vi);
    for (const auto &init : graph.initializer())
      if (!modelFloatType && isFloat(init.data_type()))
        modelFloatType = init.data_type();
  }
  static bool isFloat(int32_t type) {
    return type == onnx::TensorProto::FLOAT ||
           type == onnx::TensorProto::FLOAT16 ||
           type == onnx::TensorProto::BFLOAT16;
  }

  /// The int64 values of `name`, if it is a constant.
  std::optional<std::vector<int64_t>> int64s(const std::string &name) const {
    if (auto it = ints.find(name); it != ints.end())
      return it->second;
    auto it = tensors.find(name);
    if (it == tensors.end() ||
        it->second->data_type() != onnx::TensorProto::INT64 ||
        it->second->data_location() == onnx::TensorProto::EXTERNAL)
      return std::nullopt;
    return onnx::ParseData<int64_t>(it->second);
  }

private:
  llvm::StringMap<const onnx::TensorProto *> tensors;
  llvm::StringMap<std::vector<int64_t>> ints;
  llvm::StringMap<int32_t> declared;
  llvm::StringMap<std::vector<int64_t>> shapes;
  std::optional<int32_t> modelFloatType;
};

void removeAttr(onnx::NodeProto &node, llvm::StringRef name) {
  auto *attrs = node.mutable_attribute();
  for (int i = attrs->size() - 1; i >= 0; --i)
    if (attrs->Get(i).name() == name)
      attrs->DeleteSubrange(i, 1);
}

class Adapter {
public:
  Adapter(int opset,
          const std::function<Location(const onnx::NodeProto &, size_t)> &loc)
      : opset(opset), nodeLoc(loc) {}

  LogicalResult adaptGraph(onnx::GraphProto &graph, Constants constants);

private:
  /// Rewrites `node` in place, or fills `expansion` with the nodes that
  /// replace it (Gelu's definition).
  LogicalResult adaptNode(onnx::NodeProto &node, size_t index,
                          const Constants &constants,
                          std::map<std::string, std::string> &derivedTables,
                          std::vector<onnx::NodeProto> &expansion);
  LogicalResult checkQuantization(onnx::NodeProto &node, Location loc,
                                  const Constants &constants,
                                  std::vector<onnx::NodeProto> &expansion);
  LogicalResult expandBlockedDequantize(onnx::NodeProto &node, Location loc,
                                        const Constants &constants,
                                        int64_t block,
                                        std::vector<onnx::NodeProto> &expansion);
  LogicalResult adaptReduce(onnx::NodeProto &node, Location loc,
                            const Constants &constants);
  LogicalResult adaptSplit(onnx::NodeProto &node, Location loc);
  LogicalResult adaptConstantOfShape(onnx::NodeProto &node,
                                     std::vector<onnx::NodeProto> &expansion);

public:
  /// Returns the keys and values of a graph exported without its cache
  /// (see addPresentOutputs below).
  void addPresentOutputs(onnx::GraphProto &graph);
  /// Replaces Attention's packed caches by separate key and value graph
  /// inputs and outputs (see splitPackedCaches below).
  void splitPackedCaches(onnx::GraphProto &graph);

  /// Adds the names `graph` (and the graphs in it) reads to `used`.
  void collectUses(const onnx::GraphProto &graph) {
    for (const auto &node : graph.node()) {
      for (const std::string &in : node.input())
        used.insert(in);
      for (const auto &attr : node.attribute())
        if (attr.has_g())
          collectUses(attr.g());
    }
    for (const auto &out : graph.output())
      used.insert(out.name());
  }

private:
  int opset;
  const std::function<Location(const onnx::NodeProto &, size_t)> &nodeLoc;
  /// The names the graph being adapted (or a graph in it) reads.
  llvm::StringSet<> used;
  /// Packed cache name -> its key and value replacements.
  std::map<std::string, std::pair<std::string, std::string>> packedCaches;
  /// The top-level graph's inputs, and its nodes' (op type, first input)
  /// by output name, as they were before the adaptation.
  std::set<std::string> graphInputs;
  std::map<std::string, std::pair<std::string, std::string>> producers;
  std::map<std::string, std::vector<std::string>> producerInputs;

  /// The first graph input other than attention_mask whose values `name`
  /// depends on (inputs read only through Shape do not count; initializers
  /// are constants), or "" when there is none.
  std::string otherInputRead(const std::string &name,
                             const Constants &constants) const {
    std::set<std::string> seen;
    std::vector<std::string> work = {name};
    while (!work.empty()) {
      std::string v = work.back();
      work.pop_back();
      if (v.empty() || !seen.insert(v).second || constants.tensor(v))
        continue;
      auto it = producers.find(v);
      if (it == producers.end()) {
        if (v != "attention_mask")
          return v; // a graph input, or a value of an enclosing graph
        continue;
      }
      if (it->second.first == "Shape")
        continue;
      for (const std::string &in : producerInputs.at(v))
        work.push_back(in);
    }
    return "";
  }

  bool isAttentionMask(std::string name) const {
    for (int depth = 0; depth < 8; ++depth) {
      if (name == "attention_mask")
        return graphInputs.count(name) != 0;
      auto it = producers.find(name);
      if (it == producers.end() ||
          (it->second.first != "Cast" && it->second.first != "Identity"))
        return false;
      name = it->second.second;
    }
    return false;
  }
};

/// A graph exported without its cache (no past inputs, logits its only
/// output) whose attention is onnxruntime's MultiHeadAttention or Attention
/// without past and present: the llm program returns each layer's keys and
/// values (the cache a prompt leaves), so the fused operators' own present
/// outputs become graph outputs present.L.key/value (Attention: present_L,
/// split by splitPackedCaches), L counting the attention nodes, as an
/// export with its cache returns them. An unfused export without a cache
/// has no such outputs to name and is refused by the raising.
void Adapter::addPresentOutputs(onnx::GraphProto &graph) {
  if (graph.output_size() != 1 || graph.input_size() == 0)
    return;
  std::vector<onnx::NodeProto *> attention;
  std::set<std::string> names;
  for (auto &node : *graph.mutable_node()) {
    for (const std::string &out : node.output())
      names.insert(out);
    if (node.domain() != "com.microsoft")
      continue;
    bool mha = node.op_type() == "MultiHeadAttention";
    if (!mha && node.op_type() != "Attention")
      continue;
    for (int i = 1; i < node.output_size(); ++i)
      if (!node.output(i).empty())
        return;
    for (int i : mha ? std::vector<int>{6, 7} : std::vector<int>{4})
      if (i < node.input_size() && !node.input(i).empty())
        return;
    attention.push_back(&node);
  }
  const auto &logits = graph.output(0).type();
  if (attention.empty() || !logits.has_tensor_type())
    return;
  auto addOutput = [&](const std::string &name, int rank, bool packed) {
    onnx::ValueInfoProto *vi = graph.add_output();
    vi->set_name(name);
    auto *t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(logits.tensor_type().elem_type());
    for (int d = 0; d < rank; ++d) {
      auto *dim = t->mutable_shape()->add_dim();
      if (packed && d == 0)
        dim->set_dim_value(2);
    }
  };
  for (auto [layer, node] : llvm::enumerate(attention)) {
    std::string l = std::to_string(layer);
    bool mha = node->op_type() == "MultiHeadAttention";
    std::vector<std::string> outs =
        mha ? std::vector<std::string>{"present." + l + ".key",
                                       "present." + l + ".value"}
            : std::vector<std::string>{"present_" + l};
    for (const std::string &out : outs)
      if (names.count(out))
        return; // the graph's own value: left as it is
    while (node->output_size() < 1 + int(outs.size()))
      node->add_output("");
    for (auto [i, out] : llvm::enumerate(outs)) {
      node->set_output(int(i) + 1, out);
      addOutput(out, mha ? 4 : 5, !mha);
    }
  }
}

/// onnxruntime's GPT-2 models pass each layer's cache to Attention as one
/// graph input past_N [2, B, H, P, Dh] (keys then values) and return
/// present_N [2, B, H, P + S, Dh]. The llm program's signature has a key and
/// a value cache per layer (docs/llm-dialect.md), so such an input/output
/// pair, read and written by one Attention alone, becomes
/// past_key_values.L.key/value and present.L.key/value (L counting the
/// Attention nodes), which the expansion reads and writes directly: the
/// same tensors, split along their first axis. A prefill-only graph's
/// Attention has no past and returns present_N alone, which is split the
/// same way.
void Adapter::splitPackedCaches(onnx::GraphProto &graph) {
  std::map<std::string, int> reads;
  for (const auto &node : graph.node())
    for (const std::string &in : node.input())
      ++reads[in];
  auto packedInfo = [](const onnx::ValueInfoProto &vi) {
    const auto &t = vi.type().tensor_type();
    return vi.type().has_tensor_type() && t.has_shape() &&
           t.shape().dim_size() == 5 && t.shape().dim(0).has_dim_value() &&
           t.shape().dim(0).dim_value() == 2;
  };
  auto halves = [](const onnx::ValueInfoProto &vi, const std::string &key,
                   const std::string &value) {
    std::vector<onnx::ValueInfoProto> out(2, vi);
    out[0].set_name(key);
    out[1].set_name(value);
    for (auto &half : out)
      half.mutable_type()->mutable_tensor_type()->mutable_shape()
          ->mutable_dim()->DeleteSubrange(0, 1);
    return out;
  };
  auto replaceInList = [&](google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> &list,
                           const std::string &name, const std::string &key,
                           const std::string &value) {
    google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> rebuilt;
    for (const auto &vi : list) {
      if (vi.name() != name) {
        *rebuilt.Add() = vi;
        continue;
      }
      for (auto &half : halves(vi, key, value))
        *rebuilt.Add() = std::move(half);
    }
    list.Swap(&rebuilt);
  };
  auto find = [](const google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> &list,
                 const std::string &name) -> const onnx::ValueInfoProto * {
    for (const auto &vi : list)
      if (vi.name() == name)
        return &vi;
    return nullptr;
  };
  int layer = 0;
  for (const auto &node : graph.node()) {
    if (node.domain() != "com.microsoft" || node.op_type() != "Attention" ||
        node.output_size() < 2 || node.output(1).empty())
      continue;
    std::string past = node.input_size() > 4 ? node.input(4) : std::string();
    const std::string &present = node.output(1);
    const onnx::ValueInfoProto *in =
        past.empty() ? nullptr : find(graph.input(), past);
    const onnx::ValueInfoProto *out = find(graph.output(), present);
    if ((!past.empty() && (!in || !packedInfo(*in) || reads[past] != 1)) ||
        !out || !packedInfo(*out) || reads.count(present))
      continue;
    std::string l = std::to_string(layer++);
    std::pair<std::string, std::string> pastNames{
        "past_key_values." + l + ".key", "past_key_values." + l + ".value"};
    std::pair<std::string, std::string> presentNames{"present." + l + ".key",
                                                     "present." + l + ".value"};
    // Names the graph already uses stay its own (the expansion then refuses
    // the packed caches).
    if (find(graph.input(), pastNames.first) ||
        find(graph.input(), pastNames.second) ||
        find(graph.output(), presentNames.first) ||
        find(graph.output(), presentNames.second))
      continue;
    if (!past.empty()) {
      replaceInList(*graph.mutable_input(), past, pastNames.first,
                    pastNames.second);
      packedCaches[past] = pastNames;
    }
    replaceInList(*graph.mutable_output(), present, presentNames.first,
                  presentNames.second);
    packedCaches[present] = presentNames;
  }
}

LogicalResult Adapter::adaptGraph(onnx::GraphProto &graph,
                                  Constants constants) {
  constants.addGraph(graph);
  constants.addDeclaredTypes(graph);
  google::protobuf::RepeatedPtrField<onnx::NodeProto> adapted;
  std::map<std::string, std::string> derivedTables;
  if (producers.empty() && graphInputs.empty()) { // the top-level graph
    for (const auto &vi : graph.input())
      graphInputs.insert(vi.name());
    for (const auto &node : graph.node())
      for (const std::string &out : node.output()) {
        producers[out] = {node.op_type(),
                          node.input_size() ? node.input(0) : std::string()};
        producerInputs[out] = {node.input().begin(), node.input().end()};
      }
  }
  for (auto [index, node] : llvm::enumerate(*graph.mutable_node())) {
    for (auto &attr : *node.mutable_attribute())
      if (attr.has_g() && failed(adaptGraph(*attr.mutable_g(), constants)))
        return failure();
    std::vector<onnx::NodeProto> expansion;
    if (failed(adaptNode(node, index, constants, derivedTables, expansion)))
      return failure();
    constants.addNode(node);
    for (const onnx::NodeProto &n : expansion)
      constants.addNode(n);
    if (expansion.empty()) {
      *adapted.Add() = std::move(node);
      continue;
    }
    for (auto &n : expansion)
      *adapted.Add() = std::move(n);
  }
  graph.mutable_node()->Swap(&adapted);
  return success();
}

LogicalResult Adapter::adaptNode(onnx::NodeProto &node, size_t index,
                                 const Constants &constants,
                                 std::map<std::string, std::string> &derivedTables,
                                 std::vector<onnx::NodeProto> &expansion) {
  Location loc = nodeLoc(node, index);
  if (failed(checkQuantization(node, loc, constants, expansion)))
    return failure();
  if (!expansion.empty())
    return success();
  if (isExpandedContribOp(node)) {
    // Optional outputs nothing reads are as good as absent.
    for (int i = 1; i < node.output_size(); ++i)
      if (!used.contains(node.output(i)) && !packedCaches.count(node.output(i)))
        node.set_output(i, "");
    auto type = constants.floatTypeOf(node.input_size() ? node.input(0) : "");
    if (!type) {
      emitError(loc) << node.op_type() << ": the element type of its input is "
                     << "not known";
      return failure();
    }
    ContribGraphInfo graph;
    graph.constant = [&](const std::string &name) {
      return constants.tensor(name);
    };
    graph.shape = [&](const std::string &name) { return constants.shape(name); };
    graph.derivedTables = &derivedTables;
    graph.isAttentionMask = [&](const std::string &name) {
      return isAttentionMask(name);
    };
    graph.packedCaches = &packedCaches;
    graph.otherInputRead = [&](const std::string &name) {
      return otherInputRead(name, constants);
    };
    return expandContribOp(node, *type, loc, graph, expansion);
  }
  if (!isDefaultDomain(node.domain()) || opset <= kSchemaOpset)
    return success();
  const std::string &op = node.op_type();
  if (op == "ReduceMean")
    return adaptReduce(node, loc, constants);
  if (op == "Split")
    return adaptSplit(node, loc);
  if (op == "Cast")
    removeAttr(node, "saturate");
  if (op == "ConstantOfShape")
    return adaptConstantOfShape(node, expansion);
  if (op == "ScatterND")
    if (auto *reduction = findAttr(node, "reduction");
        reduction && (reduction->s() == "max" || reduction->s() == "min")) {
      emitError(loc) << "ScatterND reduction '" << reduction->s()
                     << "' (opset " << opset << ") is not supported";
      return failure();
    }
  if (op == "Gelu" && opset >= 20) {
    auto type = constants.floatTypeOf(node.input(0));
    if (!type) {
      emitError(loc) << "Gelu (opset " << opset << "): the element type of its "
                     << "input '" << node.input(0) << "' is not known";
      return failure();
    }
    bool tanh = false;
    if (auto *attr = findAttr(node, "approximate"))
      tanh = attr->s() == "tanh";
    expandGelu(node, *type, tanh, expansion);
  }
  return success();
}

/// Pre-quantized weights are DequantizeLinear of constant codes, which the
/// linear raising turns into llm.linear's integer weights. Quantized
/// activations (QuantizeLinear/DequantizeLinear pairs of static QDQ models,
/// DynamicQuantizeLinear with MatMulInteger) are refused: the accelerator
/// quantizes activations itself, per token and dynamically, which is not
/// what such a graph computes.
LogicalResult Adapter::checkQuantization(onnx::NodeProto &node, Location loc,
                                         const Constants &constants,
                                         std::vector<onnx::NodeProto> &expansion) {
  if (!isDefaultDomain(node.domain()))
    return success();
  const std::string &op = node.op_type();
  if (op == "QuantizeLinear" || op == "DynamicQuantizeLinear" ||
      op == "MatMulInteger" || op == "QLinearMatMul") {
    emitError(loc) << op
                   << " (quantized activations) is not supported: the "
                      "accelerator quantizes activations per token itself; "
                      "use a model with weight-only quantization "
                      "(DequantizeLinear of constant weights, MatMulNBits)";
    return failure();
  }
  if (op != "DequantizeLinear")
    return success();
  if (!node.input_size() || !constants.tensor(node.input(0))) {
    emitError(loc) << "DequantizeLinear of '"
                   << (node.input_size() ? node.input(0) : std::string())
                   << "', which is not a constant (quantized activations), "
                      "is not supported: only weights may be pre-quantized";
    return failure();
  }
  if (findAttr(node, "output_dtype")) {
    emitError(loc) << "DequantizeLinear attribute output_dtype is not "
                      "supported";
    return failure();
  }
  if (onnx::AttributeProto *block = findAttr(node, "block_size");
      block && block->i() != 0)
    return expandBlockedDequantize(node, loc, constants, block->i(), expansion);
  removeAttr(node, "block_size");
  return success();
}

/// DequantizeLinear-21 with `block_size` B along axis 0 of a [K, N] weight:
/// W[k, n] = (x[k, n] - zp[k / B, n]) * scale[k / B, n], which is the
/// group-wise weight format (docs/compression.md) with groups of B. The
/// expansion writes it in MatMulNBits' form (ContribQuantization.cpp): the
/// codes as [N * K/B, B] rows dequantized per row along axis 0 by an
/// opset-13 DequantizeLinear, then [N, K] transposed; the linear raising
/// reads those codes, scales and zero points back.
LogicalResult Adapter::expandBlockedDequantize(
    onnx::NodeProto &node, Location loc, const Constants &constants,
    int64_t block, std::vector<onnx::NodeProto> &expansion) {
  const onnx::TensorProto *x = constants.tensor(node.input(0));
  int64_t axis = 1;
  if (onnx::AttributeProto *a = findAttr(node, "axis"))
    axis = a->i();
  if (x->dims_size() != 2) {
    emitError(loc) << "DequantizeLinear block_size=" << block << " of '"
                   << node.input(0) << "' of rank " << x->dims_size()
                   << " is not supported (only a [K, N] MatMul weight)";
    return failure();
  }
  if (axis < 0)
    axis += 2;
  int64_t k = x->dims(0), n = x->dims(1);
  if (axis != 0) {
    emitError(loc) << "DequantizeLinear block_size=" << block << " along axis "
                   << axis << " is not supported (only along axis 0, the K of "
                   << "a [K, N] MatMul weight: the accelerator's group-wise "
                      "format shares scales along K)";
    return failure();
  }
  if (block < 0 || block % isaKBlock || k % block) {
    emitError(loc) << "DequantizeLinear block_size=" << block
                   << " is not supported (a multiple of " << isaKBlock
                   << ", the accelerator's K block, dividing K=" << k << ")";
    return failure();
  }
  if (x->data_type() != onnx::TensorProto::INT8 &&
      x->data_type() != onnx::TensorProto::UINT8) {
    emitError(loc) << "DequantizeLinear block_size=" << block
                   << " with codes of ONNX type " << x->data_type()
                   << " is not supported (int8 or uint8)";
    return failure();
  }
  std::vector<int64_t> blockDims = {k / block, n};
  for (int i = 1; i < 3 && i < node.input_size(); ++i) {
    if (node.input(i).empty())
      continue;
    const onnx::TensorProto *t = constants.tensor(node.input(i));
    if (!t || std::vector<int64_t>(t->dims().begin(), t->dims().end()) !=
                  blockDims) {
      emitError(loc) << "DequantizeLinear block_size=" << block << " "
                     << (i == 1 ? "scale" : "zero point") << " '"
                     << node.input(i) << "' must be a constant [" << k / block
                     << ", " << n << "]";
      return failure();
    }
  }
  int32_t scaleType = constants.tensor(node.input(1))->data_type();
  NodeEmitter emit(node, onnx::TensorProto::FLOAT, expansion);
  int64_t rows = n * (k / block);
  auto rowsOf = [&](const std::string &t, std::vector<int64_t> shape) {
    return emit.op("Reshape",
                   {emit.op("Transpose", {t}, {intsAttr("perm", {1, 0})}),
                    emit.int64s(shape)});
  };
  std::vector<std::string> inputs = {rowsOf(node.input(0), {rows, block}),
                                     rowsOf(node.input(1), {rows})};
  if (scaleType != onnx::TensorProto::FLOAT)
    inputs[1] = emit.op("Cast", {inputs[1]},
                        {intAttr("to", onnx::TensorProto::FLOAT)});
  if (node.input_size() > 2 && !node.input(2).empty())
    inputs.push_back(rowsOf(node.input(2), {rows}));
  std::string weight = emit.op(
      "Transpose",
      {emit.op("Reshape", {emit.op("DequantizeLinear", inputs,
                                   {intAttr("axis", 0)}),
                           emit.int64s({n, k})})},
      {intsAttr("perm", {1, 0})},
      scaleType == onnx::TensorProto::FLOAT ? node.output(0) : "");
  if (scaleType != onnx::TensorProto::FLOAT)
    emit.op("Cast", {weight}, {intAttr("to", scaleType)}, node.output(0));
  return success();
}

/// ReduceMean-18 reads its axes from an optional input; ReduceMean-13 from
/// an attribute, with no axes meaning all of them.
LogicalResult Adapter::adaptReduce(onnx::NodeProto &node, Location loc,
                                   const Constants &constants) {
  int64_t noop = 0;
  if (auto *attr = findAttr(node, "noop_with_empty_axes"))
    noop = attr->i();
  removeAttr(node, "noop_with_empty_axes");
  std::vector<int64_t> axes;
  if (node.input_size() > 1 && !node.input(1).empty()) {
    auto values = constants.int64s(node.input(1));
    if (!values) {
      emitError(loc) << node.op_type() << " axes '" << node.input(1)
                     << "' (an input since opset 18) must be a constant "
                        "int64 tensor";
      return failure();
    }
    axes = *values;
  }
  if (node.input_size() > 1)
    node.mutable_input()->DeleteSubrange(1, node.input_size() - 1);
  if (axes.empty() && noop) {
    // Reduces nothing: the input itself.
    node.set_op_type("Identity");
    node.mutable_attribute()->Clear();
    return success();
  }
  if (!axes.empty()) {
    onnx::AttributeProto *attr = node.add_attribute();
    attr->set_name("axes");
    attr->set_type(onnx::AttributeProto::INTS);
    for (int64_t axis : axes)
      attr->add_ints(axis);
  }
  return success();
}

/// Split-18's `num_outputs` names the number of chunks, the last one possibly
/// smaller; Split-13 without `split` makes that many equal chunks.
LogicalResult Adapter::adaptSplit(onnx::NodeProto &node, Location loc) {
  onnx::AttributeProto *num = findAttr(node, "num_outputs");
  if (!num)
    return success();
  if (num->i() != node.output_size()) {
    emitError(loc) << "Split num_outputs " << num->i() << " differs from its "
                   << node.output_size() << " outputs";
    return failure();
  }
  if (node.input_size() > 1 && !node.input(1).empty()) {
    emitError(loc) << "Split has both num_outputs and split";
    return failure();
  }
  removeAttr(node, "num_outputs");
  return success();
}

/// ConstantOfShape-20 may fill with bfloat16, ConstantOfShape-9 may not: the
/// same value in f32 (bf16 widens exactly), cast to bfloat16.
LogicalResult
Adapter::adaptConstantOfShape(onnx::NodeProto &node,
                              std::vector<onnx::NodeProto> &expansion) {
  onnx::AttributeProto *value = findAttr(node, "value");
  if (!value || !value->has_t() ||
      value->t().data_type() != onnx::TensorProto::BFLOAT16)
    return success();
  const onnx::TensorProto &t = value->t();
  uint32_t bits = t.has_raw_data() && t.raw_data().size() == 2
                      ? uint32_t(uint8_t(t.raw_data()[0])) |
                            uint32_t(uint8_t(t.raw_data()[1])) << 8
                      : uint32_t(t.int32_data_size() ? t.int32_data(0) : 0);
  float widened;
  uint32_t wide = bits << 16;
  std::memcpy(&widened, &wide, sizeof(widened));
  NodeEmitter emit(node, onnx::TensorProto::FLOAT, expansion);
  onnx::TensorProto f32;
  f32.set_data_type(onnx::TensorProto::FLOAT);
  f32.add_dims(1);
  f32.add_float_data(widened);
  std::string filled =
      emit.op("ConstantOfShape", {node.input(0)}, {onnx::MakeAttribute("value", f32)});
  emit.op("Cast", {filled}, {intAttr("to", onnx::TensorProto::BFLOAT16)},
          node.output(0));
  return success();
}

/// Adds every name `graph` and the graphs inside it read to `read`.
void collectReads(const onnx::GraphProto &graph, std::set<std::string> &read) {
  for (const auto &node : graph.node()) {
    read.insert(node.input().begin(), node.input().end());
    for (const auto &attr : node.attribute())
      if (attr.has_g())
        collectReads(attr.g(), read);
  }
  for (const auto &out : graph.output())
    read.insert(out.name());
}

/// Removes the top-level nodes whose outputs nothing reads. onnxruntime's
/// model builder computes GroupQueryAttention's seqlens_k from the
/// attention mask (ReduceSum, ...), its optimizer Attention's mask_index (a
/// Cast); once the attention is expanded without it (ContribAttention.cpp),
/// that computation is dead and its operators need not be supported. Only
/// done for such models: elsewhere a dead node is still checked like any
/// other.
void removeDeadNodes(onnx::GraphProto &graph) {
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> read;
    collectReads(graph, read);
    auto *nodes = graph.mutable_node();
    for (int i = nodes->size() - 1; i >= 0; --i) {
      const onnx::NodeProto &node = nodes->Get(i);
      bool live = llvm::any_of(node.output(), [&](const std::string &o) {
        return !o.empty() && read.count(o);
      });
      if (!live && node.output_size()) {
        nodes->DeleteSubrange(i, 1);
        changed = true;
      }
    }
  }
}

} // namespace

LogicalResult flightllm::adaptToSchemaOpset(
    onnx::ModelProto &model, int opset,
    const std::function<Location(const onnx::NodeProto &, size_t)> &nodeLoc) {
  Adapter adapter(opset, nodeLoc);
  adapter.addPresentOutputs(*model.mutable_graph());
  adapter.splitPackedCaches(*model.mutable_graph());
  adapter.collectUses(model.graph());
  bool fusedAttention = llvm::any_of(
      model.graph().node(), [](const onnx::NodeProto &node) {
        return node.domain() == "com.microsoft" &&
               llvm::is_contained({"GroupQueryAttention", "MultiHeadAttention",
                                   "Attention"},
                                  node.op_type());
      });
  if (failed(adapter.adaptGraph(*model.mutable_graph(), Constants())))
    return failure();
  if (fusedAttention)
    removeDeadNodes(*model.mutable_graph());
  for (auto &imp : *model.mutable_opset_import())
    if (isDefaultDomain(imp.domain()) && imp.version() > kSchemaOpset)
      imp.set_version(kSchemaOpset);
  return success();
}

llvm::ArrayRef<OpsetRevision> flightllm::getOpsetRevisions() {
  return kRevisions;
}
