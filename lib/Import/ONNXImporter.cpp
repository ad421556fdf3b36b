//===- ONNXImporter.cpp - ONNX model -> onnx dialect ----------------------===//

#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/Support/Progress.h"

#include "OpsetAdapter.h"
#include "TensorImport.h"

#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Dialect/ONNX/ONNXTypes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Regex.h"

#include "onnx/defs/parser.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <climits>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

using namespace mlir;
using namespace flightllm;

namespace {

bool isDefaultDomain(const std::string &domain) {
  return domain.empty() || domain == "ai.onnx";
}

/// The location of a node: its name (or its first output's, or its type and
/// index), around its line in the text syntax when known.
Location nodeLocation(MLIRContext *ctx, const onnx::NodeProto &node,
                      size_t index, StringRef fileName,
                      const std::map<std::string, unsigned> &lines) {
  std::string name = node.name();
  if (name.empty())
    name = node.output_size() && !node.output(0).empty()
               ? node.output(0)
               : node.op_type() + "_" + std::to_string(index);
  Location child = UnknownLoc::get(ctx);
  if (node.output_size())
    if (auto it = lines.find(node.output(0)); it != lines.end())
      child = FileLineColLoc::get(ctx, fileName, it->second, 1);
  return NameLoc::get(StringAttr::get(ctx, name), child);
}

/// Builds the func.func for one ONNX graph.
class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, StringRef modelName, int opset,
                TensorImporter &tensors,
                const std::map<std::string, unsigned> &lineOfOutput)
      : ctx(ctx), builder(ctx), modelName(modelName), opset(opset),
        tensors(tensors), lineOfOutput(lineOfOutput) {}

  LogicalResult importGraph(onnx::GraphProto &graph, ModuleOp module);

  Location nodeLoc(const onnx::NodeProto &node, size_t index) {
    return nodeLocation(ctx, node, index, modelName, lineOfOutput);
  }

  Location namedLoc(StringRef name, const std::string &definedValue) {
    Location child = UnknownLoc::get(ctx);
    auto it = lineOfOutput.find(definedValue);
    if (it != lineOfOutput.end())
      child = FileLineColLoc::get(ctx, modelName, it->second, 1);
    return NameLoc::get(StringAttr::get(ctx, name), child);
  }

private:
  Type convertType(const onnx::TypeProto &type, Location loc,
                   StringRef what);
  ArrayAttr dimParams(const onnx::TypeProto &type);
  FailureOr<Attribute> convertAttribute(const onnx::AttributeProto &attr,
                                        Location loc);
  LogicalResult importNode(onnx::NodeProto &node, size_t index);
  LogicalResult importConstantNode(onnx::NodeProto &node, Location loc);
  LogicalResult importIfNode(onnx::NodeProto &node, Location loc);
  LogicalResult importInitializers(onnx::GraphProto &graph);
  void declareTypes(const onnx::GraphProto &graph);

  MLIRContext *ctx;
  OpBuilder builder;
  StringRef modelName;
  int opset;
  TensorImporter &tensors;
  const std::map<std::string, unsigned> &lineOfOutput;
  std::unordered_map<std::string, const onnx::TypeProto *> valueTypes;
  std::unordered_map<std::string, Value> values;
};

} // namespace

Type GraphImporter::convertType(const onnx::TypeProto &type, Location loc,
                                StringRef what) {
  if (!type.has_tensor_type()) {
    emitError(loc) << what << " is not a tensor (sequence, map and optional "
                   << "types are not supported)";
    return {};
  }
  const auto &tt = type.tensor_type();
  Type elementType = onnxir::getElementType(ctx, tt.elem_type());
  if (!elementType) {
    emitError(loc) << what << " has " << unsupportedElementType(tt.elem_type());
    return {};
  }
  if (!tt.has_shape())
    return UnrankedTensorType::get(elementType);
  SmallVector<int64_t> shape;
  for (const auto &dim : tt.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() >= 0)
      shape.push_back(dim.dim_value());
    else
      shape.push_back(ShapedType::kDynamic);
  }
  return RankedTensorType::get(shape, elementType);
}

/// The symbolic names of a value's dimensions ("" where a dimension has
/// none), or null when no dimension is symbolic.
ArrayAttr GraphImporter::dimParams(const onnx::TypeProto &type) {
  if (!type.has_tensor_type() || !type.tensor_type().has_shape())
    return {};
  SmallVector<Attribute> names;
  bool any = false;
  for (const auto &dim : type.tensor_type().shape().dim()) {
    any |= dim.has_dim_param();
    names.push_back(StringAttr::get(ctx, dim.has_dim_param()
                                             ? dim.dim_param()
                                             : std::string()));
  }
  return any ? ArrayAttr::get(ctx, names) : ArrayAttr();
}

FailureOr<Attribute>
GraphImporter::convertAttribute(const onnx::AttributeProto &attr,
                                Location loc) {
  auto type = attr.type();
  if (type == onnx::AttributeProto::UNDEFINED) {
    // Old producers leave the type out; it follows from the field set.
    if (attr.has_f())
      type = onnx::AttributeProto::FLOAT;
    else if (attr.has_i())
      type = onnx::AttributeProto::INT;
    else if (attr.has_s())
      type = onnx::AttributeProto::STRING;
    else if (attr.has_t())
      type = onnx::AttributeProto::TENSOR;
    else if (attr.floats_size())
      type = onnx::AttributeProto::FLOATS;
    else if (attr.ints_size())
      type = onnx::AttributeProto::INTS;
    else if (attr.strings_size())
      type = onnx::AttributeProto::STRINGS;
  }
  switch (type) {
  case onnx::AttributeProto::INT:
    return Attribute(builder.getI64IntegerAttr(attr.i()));
  case onnx::AttributeProto::FLOAT:
    return Attribute(builder.getF32FloatAttr(attr.f()));
  case onnx::AttributeProto::STRING:
    return Attribute(builder.getStringAttr(attr.s()));
  case onnx::AttributeProto::INTS:
    return Attribute(builder.getDenseI64ArrayAttr(
        SmallVector<int64_t>(attr.ints().begin(), attr.ints().end())));
  case onnx::AttributeProto::FLOATS:
    return Attribute(builder.getDenseF32ArrayAttr(
        SmallVector<float>(attr.floats().begin(), attr.floats().end())));
  case onnx::AttributeProto::STRINGS: {
    SmallVector<Attribute> strs;
    for (const auto &s : attr.strings())
      strs.push_back(builder.getStringAttr(s));
    return Attribute(builder.getArrayAttr(strs));
  }
  case onnx::AttributeProto::TENSOR: {
    ElementsAttr value = tensors.importTensor(
        const_cast<onnx::TensorProto &>(attr.t()), loc,
        "attribute '" + attr.name() + "'");
    if (!value)
      return failure();
    return Attribute(value);
  }
  default:
    emitError(loc) << "attribute '" << attr.name()
                   << "' has an unsupported kind (graphs, sparse tensors and "
                      "type protos are not supported)";
    return failure();
  }
}

LogicalResult GraphImporter::importConstantNode(onnx::NodeProto &node,
                                                Location loc) {
  // Normalise every form of Constant into one dense `value` tensor.
  if (node.attribute_size() != 1) {
    emitError(loc) << "Constant must have exactly one value attribute, has "
                   << node.attribute_size();
    return failure();
  }
  onnx::AttributeProto &attr = *node.mutable_attribute(0);
  ElementsAttr value;
  const std::string &name = attr.name();
  if (name == "value") {
    value = tensors.importTensor(*attr.mutable_t(), loc, "Constant value");
    if (!value)
      return failure();
  } else if (name == "value_float") {
    value = DenseElementsAttr::get(RankedTensorType::get({}, builder.getF32Type()),
                                   attr.f());
  } else if (name == "value_int") {
    value = DenseElementsAttr::get(RankedTensorType::get({}, builder.getI64Type()),
                                   int64_t(attr.i()));
  } else if (name == "value_floats") {
    SmallVector<float> v(attr.floats().begin(), attr.floats().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({int64_t(v.size())}, builder.getF32Type()),
        ArrayRef<float>(v));
  } else if (name == "value_ints") {
    SmallVector<int64_t> v(attr.ints().begin(), attr.ints().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({int64_t(v.size())}, builder.getI64Type()),
        ArrayRef<int64_t>(v));
  } else {
    emitError(loc) << "Constant attribute '" << name
                   << "' is not supported (string and sparse constants have "
                      "no tensor counterpart)";
    return failure();
  }
  if (node.output_size() != 1 || node.output(0).empty()) {
    emitError(loc) << "Constant must have one output";
    return failure();
  }
  auto op = onnxir::ConstantOp::create(
      builder, loc, TypeRange{value.getType()}, ValueRange{},
      {builder.getNamedAttr("value", value)});
  op->setAttr("onnx.name", builder.getStringAttr(node.output(0)));
  values[node.output(0)] = op.getResult();
  return success();
}

void GraphImporter::declareTypes(const onnx::GraphProto &graph) {
  // Declared types first (they are the graph's contract), then inferred ones.
  for (const auto &vi : graph.input())
    valueTypes.emplace(vi.name(), &vi.type());
  for (const auto &vi : graph.output())
    valueTypes.emplace(vi.name(), &vi.type());
  for (const auto &vi : graph.value_info())
    valueTypes.emplace(vi.name(), &vi.type());
}

LogicalResult GraphImporter::importInitializers(onnx::GraphProto &graph) {
  ProgressBar bar("reading weights", uint64_t(graph.initializer_size()));
  for (auto &init : *graph.mutable_initializer()) {
    bar.advance();
    Location loc = namedLoc(init.name(), "");
    ElementsAttr value =
        tensors.importTensor(init, loc, "initializer '" + init.name() + "'");
    if (!value)
      return failure();
    auto op = onnxir::ConstantOp::create(
        builder, loc, TypeRange{value.getType()}, ValueRange{},
        {builder.getNamedAttr("value", value)});
    // The name survives printing without locations; weights are named by it.
    op->setAttr("onnx.name", builder.getStringAttr(init.name()));
    values[init.name()] = op.getResult();
  }
  return success();
}

LogicalResult GraphImporter::importIfNode(onnx::NodeProto &node,
                                          Location loc) {
  auto cond = node.input_size() == 1 ? values.find(node.input(0))
                                     : values.end();
  if (cond == values.end()) {
    emitError(loc) << "If needs its condition defined before it";
    return failure();
  }
  onnx::GraphProto *branches[2] = {nullptr, nullptr};
  for (auto &attr : *node.mutable_attribute()) {
    if (attr.name() == "then_branch" && attr.has_g())
      branches[0] = attr.mutable_g();
    else if (attr.name() == "else_branch" && attr.has_g())
      branches[1] = attr.mutable_g();
  }
  if (!branches[0] || !branches[1] ||
      branches[0]->output_size() != node.output_size() ||
      branches[1]->output_size() != node.output_size()) {
    emitError(loc) << "If needs then_branch and else_branch graphs with "
                   << node.output_size() << " outputs each";
    return failure();
  }
  for (onnx::GraphProto *branch : branches)
    declareTypes(*branch);
  SmallVector<Type> types;
  for (auto [i, name] : llvm::enumerate(node.output())) {
    auto it = valueTypes.find(name);
    const onnx::TypeProto &type = it != valueTypes.end()
                                      ? *it->second
                                      : branches[0]->output(i).type();
    Type t = convertType(type, loc, "output '" + name + "'");
    if (!t)
      return failure();
    types.push_back(t);
  }
  auto ifOp = onnxir::IfOp::create(builder, loc, types, cond->second);
  for (auto [branch, region] :
       llvm::zip(branches, ifOp->getRegions())) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(&region.emplaceBlock());
    if (failed(importInitializers(*branch)))
      return failure();
    for (auto [index, inner] : llvm::enumerate(*branch->mutable_node()))
      if (failed(importNode(inner, index)))
        return failure();
    SmallVector<Value> outputs;
    for (const auto &vi : branch->output()) {
      auto it = values.find(vi.name());
      if (it == values.end()) {
        emitError(loc) << "If branch '" << branch->name()
                       << "' does not compute its output '" << vi.name()
                       << "'";
        return failure();
      }
      outputs.push_back(it->second);
    }
    onnxir::YieldOp::create(builder, loc, outputs);
  }
  for (auto [name, result] : llvm::zip(node.output(), ifOp.getResults()))
    values[name] = result;
  return success();
}

LogicalResult GraphImporter::importNode(onnx::NodeProto &node, size_t index) {
  Location loc = nodeLoc(node, index);
  if (node.op_type() == "Constant")
    return importConstantNode(node, loc);
  if (node.op_type() == "If")
    return importIfNode(node, loc);

  const onnx::OpSchema *schema =
      onnx::OpSchemaRegistry::Schema(node.op_type(), opset, "");
  // Unsupported ops were rejected up front; a schema is always there.
  assert(schema && "unsupported op slipped through");

  OperationState state(loc, "onnx." + node.op_type());

  // Operands, following the schema's formal parameters.
  const auto &formals = schema->inputs();
  SmallVector<int32_t> segments;
  int next = 0;
  for (const auto &formal : formals) {
    int count = 0;
    auto take = [&](int i) -> LogicalResult {
      const std::string &name = node.input(i);
      auto it = values.find(name);
      if (it == values.end()) {
        emitError(loc) << node.op_type() << " input '" << name
                       << "' is not defined before its use (ONNX graphs must "
                          "be topologically sorted)";
        return failure();
      }
      state.operands.push_back(it->second);
      return success();
    };
    switch (formal.GetOption()) {
    case onnx::OpSchema::Single:
      if (next >= node.input_size() || node.input(next).empty()) {
        emitError(loc) << node.op_type() << " is missing its required input '"
                       << formal.GetName() << "'";
        return failure();
      }
      if (failed(take(next++)))
        return failure();
      count = 1;
      break;
    case onnx::OpSchema::Optional:
      if (next < node.input_size()) {
        if (!node.input(next).empty()) {
          if (failed(take(next)))
            return failure();
          count = 1;
        }
        ++next;
      }
      break;
    case onnx::OpSchema::Variadic:
      for (; next < node.input_size(); ++next, ++count)
        if (node.input(next).empty() || failed(take(next))) {
          if (node.input(next).empty())
            emitError(loc) << node.op_type()
                           << " has an empty name in its variadic input '"
                           << formal.GetName() << "'";
          return failure();
        }
      break;
    }
    segments.push_back(count);
  }
  if (next < node.input_size()) {
    emitError(loc) << node.op_type() << " has " << node.input_size()
                   << " inputs, more than its schema allows";
    return failure();
  }
  if (state.name.hasTrait<OpTrait::AttrSizedOperandSegments>())
    state.addAttribute("operandSegmentSizes",
                       builder.getDenseI32ArrayAttr(segments));

  // Results: the value types come from the model or from shape inference.
  SmallVector<std::pair<std::string, unsigned>> definedOutputs;
  SmallVector<int32_t> resultSegments;
  next = 0;
  for (const auto &formal : schema->outputs()) {
    int count = 0;
    auto addResult = [&](int i) -> LogicalResult {
      const std::string &name = node.output(i);
      auto it = valueTypes.find(name);
      Type type = it == valueTypes.end()
                      ? Type()
                      : convertType(*it->second, loc,
                                    "output '" + name + "'");
      if (!type) {
        if (it == valueTypes.end())
          emitError(loc) << "cannot determine the type of output '" << name
                         << "' of " << node.op_type()
                         << " (shape inference gave none)";
        return failure();
      }
      definedOutputs.push_back({name, unsigned(state.types.size())});
      state.types.push_back(type);
      return success();
    };
    if (formal.GetOption() == onnx::OpSchema::Variadic) {
      for (; next < node.output_size(); ++next, ++count)
        if (failed(addResult(next)))
          return failure();
    } else if (next < node.output_size()) {
      if (!node.output(next).empty()) {
        if (failed(addResult(next)))
          return failure();
        count = 1;
      } else if (formal.GetOption() == onnx::OpSchema::Single) {
        emitError(loc) << node.op_type() << " output '" << formal.GetName()
                       << "' has no name";
        return failure();
      }
      ++next;
    } else if (formal.GetOption() == onnx::OpSchema::Single) {
      emitError(loc) << node.op_type() << " is missing its output '"
                     << formal.GetName() << "'";
      return failure();
    }
    resultSegments.push_back(count);
  }
  if (next < node.output_size()) {
    emitError(loc) << node.op_type() << " has " << node.output_size()
                   << " outputs, more than its schema allows";
    return failure();
  }
  if (state.name.hasTrait<OpTrait::AttrSizedResultSegments>())
    state.addAttribute("resultSegmentSizes",
                       builder.getDenseI32ArrayAttr(resultSegments));

  // Attributes: the node's own, then the schema defaults for the rest.
  llvm::StringSet<> seen;
  for (const auto &attr : node.attribute()) {
    if (!schema->attributes().count(attr.name())) {
      emitError(loc) << node.op_type() << " has no attribute '" << attr.name()
                     << "' at opset " << opset;
      return failure();
    }
    FailureOr<Attribute> value = convertAttribute(attr, loc);
    if (failed(value))
      return failure();
    state.addAttribute(attr.name(), *value);
    seen.insert(attr.name());
  }
  for (const auto &[name, attr] : schema->attributes()) {
    if (seen.contains(name) ||
        attr.default_value.type() == onnx::AttributeProto::UNDEFINED)
      continue;
    FailureOr<Attribute> value = convertAttribute(attr.default_value, loc);
    if (failed(value))
      return failure();
    state.addAttribute(name, *value);
  }

  Operation *op = builder.create(state);
  for (auto &[name, resultIndex] : definedOutputs)
    values[name] = op->getResult(resultIndex);
  return success();
}

LogicalResult GraphImporter::importGraph(onnx::GraphProto &graph,
                                         ModuleOp module) {
  declareTypes(graph);

  std::unordered_map<std::string, onnx::TensorProto *> initializers;
  for (auto &init : *graph.mutable_initializer())
    initializers[init.name()] = &init;

  // Arguments: graph inputs that are not initializers.
  SmallVector<Type> argTypes;
  SmallVector<const onnx::ValueInfoProto *> argInfos;
  for (const auto &vi : graph.input()) {
    if (initializers.count(vi.name()))
      continue;
    Type t = convertType(vi.type(), namedLoc(vi.name(), ""),
                         "graph input '" + vi.name() + "'");
    if (!t)
      return failure();
    argTypes.push_back(t);
    argInfos.push_back(&vi);
  }

  builder.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(builder, namedLoc(graph.name(), ""),
                                   "main", builder.getFunctionType(argTypes, {}));
  Block *entry = new Block();
  func.getBody().push_back(entry);
  for (auto [type, info] : llvm::zip(argTypes, argInfos))
    entry->addArgument(type, namedLoc(info->name(), ""));
  for (auto [i, info] : llvm::enumerate(argInfos)) {
    values[info->name()] = entry->getArgument(i);
    func.setArgAttr(i, "onnx.name", builder.getStringAttr(info->name()));
    if (ArrayAttr dims = dimParams(info->type()))
      func.setArgAttr(i, "onnx.dim_params", dims);
  }
  builder.setInsertionPointToStart(entry);
  if (failed(importInitializers(graph)))
    return failure();

  for (auto [index, node] : llvm::enumerate(*graph.mutable_node()))
    if (failed(importNode(node, index)))
      return failure();

  SmallVector<Value> results;
  for (const auto &vi : graph.output()) {
    auto it = values.find(vi.name());
    if (it == values.end()) {
      emitError(namedLoc(vi.name(), "")) << "graph output '" << vi.name()
                                         << "' is not produced by any node "
                                            "(is the model truncated?)";
      return failure();
    }
    results.push_back(it->second);
  }
  func::ReturnOp::create(builder, func.getLoc(), results);
  func.setType(builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  for (auto [i, vi] : llvm::enumerate(graph.output())) {
    func.setResultAttr(i, "onnx.name", builder.getStringAttr(vi.name()));
    if (ArrayAttr dims = dimParams(vi.type()))
      func.setResultAttr(i, "onnx.dim_params", dims);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Model-level checks and entry points
//===----------------------------------------------------------------------===//

namespace {

/// Rejects, with one error listing everything, the operators and element
/// types the dialect cannot represent.
/// optimum's decoder_model_merged.onnx is one If on the bool input
/// `use_cache_branch`, between the decoder with past (then) and the one
/// without (else). Both are the same model, and its llm program serves every
/// past length. The graph becomes the prefill branch: it computes any number
/// of new tokens with its causal mask, whereas the with-past branch may have
/// been traced for one new token only (optimum 1.13 fixed that axis to 1; HF
/// left the causal mask out). The flag and the inputs the branch does not
/// read (the past caches) go. Returns whether it did.
bool selectMergedDecoderBranch(onnx::ModelProto &model) {
  onnx::GraphProto &graph = *model.mutable_graph();
  if (graph.node_size() != 1)
    return false;
  const onnx::NodeProto &node = graph.node(0);
  if (node.op_type() != "If" || !isDefaultDomain(node.domain()) ||
      node.input_size() != 1 || node.input(0) != "use_cache_branch")
    return false;
  const onnx::GraphProto *branch = nullptr;
  for (const onnx::AttributeProto &attr : node.attribute())
    if (attr.name() == "else_branch" && attr.has_g())
      branch = &attr.g();
  if (!branch || branch->output_size() != node.output_size())
    return false;
  onnx::GraphProto selected = *branch;
  std::vector<std::string> outputs(node.output().begin(), node.output().end());
  std::string name = node.name();
  // The If's outputs are the branch's, by position.
  for (int i = 0; i < selected.output_size(); ++i) {
    if (selected.output(i).name() == outputs[i])
      continue;
    onnx::NodeProto *copy = selected.add_node();
    copy->set_op_type("Identity");
    copy->set_name(name + "/output" + std::to_string(i));
    copy->add_input(selected.output(i).name());
    copy->add_output(outputs[i]);
  }
  graph.mutable_node()->Clear();
  for (onnx::NodeProto &n : *selected.mutable_node())
    *graph.add_node() = std::move(n);
  for (onnx::TensorProto &t : *selected.mutable_initializer())
    *graph.add_initializer() = std::move(t);
  for (onnx::ValueInfoProto &v : *selected.mutable_value_info())
    *graph.add_value_info() = std::move(v);
  std::set<std::string> read;
  for (const onnx::NodeProto &n : graph.node())
    read.insert(n.input().begin(), n.input().end());
  auto *inputs = graph.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (!read.count(inputs->Get(i).name()) &&
        inputs->Get(i).name() != "input_ids")
      inputs->DeleteSubrange(i, 1);
  return true;
}

/// `opset` is the schemas' (the model's, at most kSchemaOpset);
/// `modelOpset` the one the model imports, for the message.
LogicalResult checkSupported(const onnx::ModelProto &model, int opset,
                             int modelOpset, MLIRContext *ctx,
                             Location modelLoc) {
  llvm::MapVector<std::string, SmallVector<std::string>,
                  std::map<std::string, unsigned>>
      unsupported;
  // If branches are graphs of their own: their nodes are checked too.
  std::function<void(const onnx::GraphProto &)> check =
      [&](const onnx::GraphProto &graph) {
        for (const auto &[index, node] : llvm::enumerate(graph.node())) {
          std::string key = isDefaultDomain(node.domain())
                                ? node.op_type()
                                : node.domain() + "::" + node.op_type();
          bool ok = isDefaultDomain(node.domain()) &&
                    ctx->isOperationRegistered("onnx." + node.op_type()) &&
                    onnx::OpSchemaRegistry::Schema(node.op_type(), opset, "");
          if (!ok)
            unsupported[key].push_back(
                !node.name().empty() ? node.name()
                : node.output_size()
                    ? "(unnamed, output '" + node.output(0) + "')"
                    : "(unnamed node #" + std::to_string(index) + ")");
          for (const auto &attr : node.attribute())
            if (attr.has_g())
              check(attr.g());
        }
      };
  check(model.graph());
  if (unsupported.empty())
    return success();
  size_t total = 0;
  for (auto &entry : unsupported)
    total += entry.second.size();
  InFlightDiagnostic diag = emitError(modelLoc);
  diag << "model uses " << unsupported.size()
       << " unsupported ONNX operator type" << (unsupported.size() > 1 ? "s" : "")
       << " in " << total << " node" << (total > 1 ? "s" : "") << " (opset "
       << modelOpset << "):";
  for (auto &[op, nodes] : unsupported) {
    diag << "\n  " << op << " x" << nodes.size() << ": ";
    for (size_t i = 0; i < nodes.size() && i < 8; ++i)
      diag << (i ? ", " : "") << nodes[i];
    if (nodes.size() > 8)
      diag << ", ... (" << nodes.size() - 8 << " more)";
  }
  return failure();
}

/// Checks the graph's structure before ONNX's shape inference sees it:
/// inference trusts it and crashes on, e.g., a node reading a value nothing
/// defines or a Gather with one input. Every node must match its schema
/// (inputs, outputs, attributes) and read only values defined before it.
LogicalResult checkGraphStructure(const onnx::ModelProto &model, int opset,
                                  MLIRContext *ctx, StringRef fileName,
                                  const std::map<std::string, unsigned> &lines) {
  const onnx::GraphProto &graph = model.graph();
  bool ok = true;
  // ONNX graphs are in SSA form: a name is defined once, by a graph input, an
  // initializer (which may also be listed as a graph input, as its default)
  // or a node output. A second definition would silently pick one of two
  // values (and not the one onnxruntime picks), so it is refused.
  llvm::StringMap<std::string> defined;
  auto define = [&](const std::string &name, std::string what,
                    Location loc) {
    auto [it, inserted] = defined.try_emplace(name, what);
    if (inserted)
      return;
    emitError(loc) << what << " redefines '" << name << "', already defined by "
                   << it->second << " (ONNX names must be unique)";
    ok = false;
  };
  for (const auto &[i, vi] : llvm::enumerate(graph.input()))
    define(vi.name(), "graph input #" + std::to_string(i),
           NameLoc::get(StringAttr::get(ctx, vi.name())));
  llvm::StringSet<> inputs;
  for (const auto &vi : graph.input())
    inputs.insert(vi.name());
  llvm::StringMap<size_t> initializers;
  for (const auto &[i, init] : llvm::enumerate(graph.initializer())) {
    std::string what = "initializer #" + std::to_string(i);
    Location loc = NameLoc::get(StringAttr::get(ctx, init.name()));
    auto [first, inserted] = initializers.try_emplace(init.name(), i);
    if (!inserted) {
      emitError(loc) << what << " redefines '" << init.name()
                     << "', already defined by initializer #" << first->second
                     << " (ONNX names must be unique)";
      ok = false;
    } else if (!inputs.contains(init.name())) {
      define(init.name(), what, loc);
    }
  }
  for (const auto &[index, node] : llvm::enumerate(graph.node())) {
    Location loc = nodeLocation(ctx, node, index, fileName, lines);
    std::string name = cast<NameLoc>(loc).getName().str();
    try {
      onnx::OpSchemaRegistry::Schema(node.op_type(), opset, "")->Verify(node);
    } catch (const std::exception &e) {
      emitError(loc) << node.op_type() << " node is malformed: "
                     << StringRef(e.what()).trim();
      ok = false;
    }
    for (const std::string &input : node.input())
      if (!input.empty() && !defined.contains(input)) {
        emitError(loc) << node.op_type() << " input '" << input
                       << "' is not defined before its use (ONNX graphs must "
                          "be topologically sorted)";
        ok = false;
      }
    for (const std::string &output : node.output())
      if (!output.empty())
        define(output,
               node.op_type() + " node '" + name + "' output", loc);
  }
  for (const auto &vi : graph.output())
    if (!defined.contains(vi.name())) {
      emitError(NameLoc::get(StringAttr::get(ctx, vi.name())))
          << "graph output '" << vi.name()
          << "' is not produced by any node (is the model truncated?)";
      ok = false;
    }
  return success(ok);
}

/// Maps each value defined on a line of ONNX text syntax (`a, b = Op(...)`)
/// to that line so diagnostics can point at it.
std::map<std::string, unsigned> lineMapOfText(StringRef text) {
  std::map<std::string, unsigned> lines;
  llvm::Regex assign("^[ \t]*([A-Za-z_][A-Za-z0-9_./:-]*([ \t]*,[ \t]*[A-Za-z_"
                     "][A-Za-z0-9_./:-]*)*)[ \t]*=[ \t]*[A-Za-z_]");
  SmallVector<StringRef> textLines;
  text.split(textLines, '\n');
  for (auto [i, line] : llvm::enumerate(textLines)) {
    SmallVector<StringRef> m;
    if (!assign.match(line, &m))
      continue;
    SmallVector<StringRef> names;
    m[1].split(names, ',');
    for (StringRef n : names)
      lines.emplace(n.trim().str(), unsigned(i + 1));
  }
  return lines;
}

bool looksLikeText(const llvm::MemoryBuffer &buffer) {
  StringRef id = buffer.getBufferIdentifier();
  if (id.ends_with(".onnxtxt") || id.ends_with(".txt"))
    return true;
  StringRef data = buffer.getBuffer().ltrim();
  return !data.empty() && (data.front() == '<' || data.front() == '#');
}

OwningOpRef<ModuleOp> importModel(onnx::ModelProto &model, StringRef name,
                                  StringRef baseDir, MLIRContext *ctx,
                                  const ONNXImportOptions &options,
                                  const std::map<std::string, unsigned> &lines) {
  ctx->loadDialect<onnxir::ONNXDialect, func::FuncDialect>();
  Location modelLoc = FileLineColLoc::get(ctx, name, 0, 0);

  int opset = -1;
  for (const auto &imp : model.opset_import())
    if (isDefaultDomain(imp.domain()))
      opset = imp.version();
  if (opset < kMinONNXOpset || opset > kMaxONNXOpset) {
    if (opset < 0)
      emitError(modelLoc) << "model imports no default-domain opset";
    else
      emitError(modelLoc) << "unsupported opset " << opset
                          << " (supported: " << kMinONNXOpset << " to "
                          << kMaxONNXOpset << ")";
    return {};
  }
  if (!model.has_graph()) {
    emitError(modelLoc) << "model has no graph (is the file truncated?)";
    return {};
  }
  // The dialect mirrors the opset-17 schemas; newer models are rewritten
  // into that form first. `opset` stays the model's own in what we report.
  int schemaOpset = std::min(opset, kSchemaOpset);
  if (failed(adaptToSchemaOpset(model, opset, [&](const onnx::NodeProto &node,
                                                   size_t index) {
        return nodeLocation(ctx, node, index, name, lines);
      })))
    return {};
  bool mergedDecoder = selectMergedDecoderBranch(model);
  if (failed(checkSupported(model, schemaOpset, opset, ctx, modelLoc)) ||
      failed(checkGraphStructure(model, schemaOpset, ctx, name, lines)))
    return {};
  if (model.graph().sparse_initializer_size()) {
    emitError(modelLoc) << "sparse initializers are not supported";
    return {};
  }

  // Strict shape inference catches malformed models, but its messages name
  // only the op type. On failure, infer leniently and import anyway so that
  // our own checks can point at the node; the strict message becomes a note.
  std::string inferenceError;
  if (options.inferShapes) {
    auto infer = [&](int strict) {
      onnx::ShapeInferenceOptions inferOptions(/*check_type=*/true, strict,
                                               /*data_prop=*/false);
      onnx::shape_inference::InferShapes(
          model, onnx::OpSchemaRegistry::Instance(), inferOptions);
    };
    try {
      infer(/*strict=*/1);
    } catch (const std::exception &e) {
      inferenceError = StringRef(e.what()).trim().str();
      try {
        infer(/*strict=*/0);
      } catch (const std::exception &) {
      }
    }
  }
  ScopedDiagnosticHandler addInferenceNote(ctx, [&](Diagnostic &diag) {
    if (!inferenceError.empty() && diag.getSeverity() == DiagnosticSeverity::Error)
      diag.attachNote() << "ONNX shape inference reported: " << inferenceError;
    return failure(); // Let the diagnostic through to the outer handler.
  });

  OpBuilder builder(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(modelLoc);
  (*module)->setAttr("onnx.opset", builder.getI64IntegerAttr(opset));
  (*module)->setAttr("onnx.ir_version",
                     builder.getI64IntegerAttr(model.ir_version()));
  if (!model.producer_name().empty())
    (*module)->setAttr("onnx.producer",
                       builder.getStringAttr(model.producer_name() + " " +
                                             model.producer_version()));
  if (!model.graph().name().empty())
    (*module)->setAttr("onnx.graph_name",
                       builder.getStringAttr(model.graph().name()));
  if (mergedDecoder)
    (*module)->setAttr("onnx.merged_decoder_branch",
                       builder.getStringAttr("use_cache_branch = false"));

  TensorImporter tensors(ctx, baseDir, options.denseAttrMaxBytes,
                         options.externalDataFiles, options.maxMemoryBytes);
  GraphImporter graph(ctx, name, schemaOpset, tensors, lines);
  if (failed(graph.importGraph(*model.mutable_graph(), *module)))
    return {};
  if (failed(verify(*module)))
    return {};
  if (!inferenceError.empty()) {
    emitError(modelLoc) << "ONNX shape inference failed: " << inferenceError;
    return {};
  }
  return module;
}

} // namespace

/// A binary model's bytes (its embedded weights) against
/// ONNXImportOptions::maxMemoryBytes.
static LogicalResult checkModelSize(uint64_t size, Location fileLoc,
                                    const ONNXImportOptions &options) {
  if (options.maxMemoryBytes && size > options.maxMemoryBytes) {
    emitError(fileLoc) << "the model is " << size
                       << " bytes, more than --max-memory="
                       << options.maxMemoryBytes;
    return failure();
  }
  return success();
}

/// Parses a binary ModelProto from `stream`; on failure reports the byte
/// offset where parsing stopped.
static LogicalResult parseBinary(google::protobuf::io::ZeroCopyInputStream &stream,
                                 uint64_t size, Location fileLoc,
                                 onnx::ModelProto &model) {
  if (size > uint64_t(INT_MAX)) {
    emitError(fileLoc) << "file is " << size
                       << " bytes; protobuf files are limited to 2 GiB "
                          "(store the weights as external data)";
    return failure();
  }
  google::protobuf::io::CodedInputStream input(&stream);
  input.SetTotalBytesLimit(INT_MAX);
  if (!model.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage() ||
      uint64_t(input.CurrentPosition()) != size) {
    emitError(fileLoc) << "not a valid ONNX protobuf: parsing stopped at byte "
                          "offset "
                       << input.CurrentPosition() << " of " << size
                       << " (truncated or corrupted file?)";
    return failure();
  }
  return success();
}

OwningOpRef<ModuleOp> flightllm::importONNXBuffer(
    const llvm::MemoryBuffer &buffer, StringRef baseDir, MLIRContext *ctx,
    const ONNXImportOptions &options, ONNXInputFormat format) {
  StringRef name = buffer.getBufferIdentifier();
  Location fileLoc = FileLineColLoc::get(ctx, name, 0, 0);
  onnx::ModelProto model;
  std::map<std::string, unsigned> lines;
  if (format == ONNXInputFormat::Auto)
    format = looksLikeText(buffer) ? ONNXInputFormat::Text
                                   : ONNXInputFormat::Binary;
  if (format == ONNXInputFormat::Text) {
    std::string text = buffer.getBuffer().str();
    // ONNX's parser reports most errors in its status but lets std::stof /
    // std::stoi throw on a malformed number (`{1, (7}`; found by
    // fuzz-onnx-text): uncaught, that aborted the compiler.
    onnx::Common::Status status;
    try {
      status = onnx::OnnxParser::Parse(model, text.c_str());
    } catch (const std::exception &e) {
      emitError(fileLoc) << "cannot parse ONNX text syntax: a malformed "
                            "number (ONNX's parser threw "
                         << e.what() << ")";
      return {};
    }
    if (!status.IsOK()) {
      emitError(fileLoc) << "cannot parse ONNX text syntax: "
                         << status.ErrorMessage();
      return {};
    }
    lines = lineMapOfText(text);
  } else {
    if (failed(checkModelSize(buffer.getBufferSize(), fileLoc, options)))
      return {};
    google::protobuf::io::ArrayInputStream stream(
        buffer.getBufferStart(),
        int(std::min<size_t>(buffer.getBufferSize(), INT_MAX)));
    if (failed(parseBinary(stream, buffer.getBufferSize(), fileLoc, model)))
      return {};
  }
  return importModel(model, name, baseDir, ctx, options, lines);
}

OwningOpRef<ModuleOp> flightllm::importONNXFile(StringRef path,
                                                MLIRContext *ctx,
                                                const ONNXImportOptions &options,
                                                ONNXInputFormat format) {
  SmallString<256> baseDir(path == "-" ? "." : path);
  llvm::sys::path::remove_filename(baseDir);
  if (baseDir.empty())
    baseDir = ".";

  // A binary file is parsed as a stream: mapping it whole would hold every
  // embedded weight twice (the mapped pages and the parsed strings).
  if (path != "-" && format != ONNXInputFormat::Text) {
    auto prefix = llvm::MemoryBuffer::getFileSlice(path, 64, 0);
    bool binary = format == ONNXInputFormat::Binary ||
                  (prefix && !looksLikeText(**prefix) &&
                   !path.ends_with(".onnxtxt") && !path.ends_with(".txt"));
    if (binary) {
      Location fileLoc = FileLineColLoc::get(ctx, path, 0, 0);
      int fd = -1;
      if (std::error_code ec = llvm::sys::fs::openFileForRead(path, fd)) {
        emitError(fileLoc) << "cannot open '" << path << "': " << ec.message();
        return {};
      }
      uint64_t size = 0;
      llvm::sys::fs::file_status status;
      if (!llvm::sys::fs::status(fd, status))
        size = status.getSize();
      onnx::ModelProto model;
      LogicalResult parsed = [&] {
        if (failed(checkModelSize(size, fileLoc, options)))
          return failure();
        google::protobuf::io::FileInputStream stream(fd);
        return parseBinary(stream, size, fileLoc, model);
      }();
      llvm::sys::Process::SafelyCloseFileDescriptor(fd);
      if (failed(parsed))
        return {};
      return importModel(model, path, baseDir, ctx, options, {});
    }
  }
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError()) {
    emitError(UnknownLoc::get(ctx))
        << "cannot open '" << path << "': " << ec.message();
    return {};
  }
  return importONNXBuffer(**buffer, baseDir, ctx, options, format);
}
