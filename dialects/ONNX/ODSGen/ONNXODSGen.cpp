//===- ONNXODSGen.cpp - Generate ODS for the onnx dialect from ONNX schemas ===//
//
// The onnx dialect mirrors ONNX operator schemas. Rather than transcribing
// them by hand, this build-time tool reads the schemas linked into libonnx
// (the single source of truth) and writes the ODS op definitions: operands,
// results and type constraints from the formal parameters, attributes with
// the schema's default values, and element-type-match constraints.
//
// Each op is defined from its newest schema at or below the highest opset we
// accept. The tool also checks that every older schema in the accepted opset
// range is a subset of it (no input or attribute removed or changed in kind),
// which is what lets one op definition serve all accepted opsets.
//
// Usage: flightllm-onnx-odsgen OUT.td MIN_OPSET MAX_OPSET OP[:FLAGS]...
// FLAGS: v = hand-written verifier, f = folder, c = canonicalizer patterns,
// k = constant-like (materializable constant).
//===----------------------------------------------------------------------===//

#include "onnx/defs/schema.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Schema = onnx::OpSchema;
using AttrType = onnx::AttributeProto::AttributeType;

/// ODS type for one ONNX "tensor(...)" type string; empty if unsupported.
std::string odsElementType(const std::string &typeStr) {
  static const std::map<std::string, std::string> map = {
      {"tensor(float)", "F32"},   {"tensor(double)", "F64"},
      {"tensor(float16)", "F16"}, {"tensor(bfloat16)", "BF16"},
      {"tensor(int8)", "I8"},     {"tensor(int16)", "I16"},
      {"tensor(int32)", "I32"},   {"tensor(int64)", "I64"},
      {"tensor(uint8)", "UI8"},   {"tensor(uint16)", "UI16"},
      {"tensor(uint32)", "UI32"}, {"tensor(uint64)", "UI64"},
      {"tensor(bool)", "I1"}};
  auto it = map.find(typeStr);
  return it == map.end() ? std::string() : it->second;
}

std::string tdString(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string floatLiteral(float v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos)
    s += ".0";
  return s;
}

/// Returns the ODS attribute constraint for an ONNX attribute, or empty if
/// the attribute kind has no representation in the dialect.
std::string odsAttr(const Schema::Attribute &attr) {
  std::string base;
  switch (attr.type) {
  case onnx::AttributeProto::INT:
    base = "I64Attr";
    break;
  case onnx::AttributeProto::FLOAT:
    base = "F32Attr";
    break;
  case onnx::AttributeProto::STRING:
    base = "StrAttr";
    break;
  case onnx::AttributeProto::INTS:
    base = "DenseI64ArrayAttr";
    break;
  case onnx::AttributeProto::FLOATS:
    base = "DenseF32ArrayAttr";
    break;
  case onnx::AttributeProto::STRINGS:
    base = "StrArrayAttr";
    break;
  case onnx::AttributeProto::TENSOR:
    base = "ElementsAttr";
    break;
  default:
    return {};
  }
  if (attr.required)
    return base;
  const onnx::AttributeProto &d = attr.default_value;
  if (d.type() == onnx::AttributeProto::UNDEFINED)
    return "OptionalAttr<" + base + ">";
  std::string value;
  switch (attr.type) {
  case onnx::AttributeProto::INT:
    value = std::to_string(d.i());
    break;
  case onnx::AttributeProto::FLOAT:
    value = floatLiteral(d.f());
    break;
  case onnx::AttributeProto::STRING:
    value = "\\\"" + tdString(d.s()) + "\\\"";
    break;
  case onnx::AttributeProto::INTS: {
    value = "{";
    for (int i = 0; i < d.ints_size(); ++i)
      value += (i ? ", " : "") + std::to_string(d.ints(i));
    value += "}";
    break;
  }
  case onnx::AttributeProto::FLOATS: {
    value = "{";
    for (int i = 0; i < d.floats_size(); ++i)
      value += (i ? ", " : "") + floatLiteral(d.floats(i)) + "f";
    value += "}";
    break;
  }
  default:
    return "OptionalAttr<" + base + ">";
  }
  return "DefaultValuedAttr<" + base + ", \"" + value + "\">";
}

struct Generator {
  int minOpset, maxOpset;
  std::ostringstream os;
  std::vector<std::string> errors;

  /// The ODS constraint for one formal parameter.
  std::string paramType(const Schema &schema,
                        const Schema::FormalParameter &p) {
    std::vector<std::string> elems;
    std::set<std::string> seen;
    for (const auto *t : p.GetTypes()) {
      std::string e = odsElementType(*t);
      if (!e.empty() && seen.insert(e).second)
        elems.push_back(e);
    }
    std::string tensor;
    if (elems.empty()) {
      tensor = "AnyTensor";
    } else {
      // Deterministic order: follow the schema's type-constraint order.
      std::vector<std::string> ordered;
      for (const auto &tc : schema.typeConstraintParams())
        if (tc.type_param_str == p.GetTypeStr())
          for (const auto &s : tc.allowed_type_strs) {
            std::string e = odsElementType(s);
            if (!e.empty() &&
                std::find(ordered.begin(), ordered.end(), e) == ordered.end())
              ordered.push_back(e);
          }
      if (ordered.empty())
        ordered = elems;
      tensor = "TensorOf<[";
      for (size_t i = 0; i < ordered.size(); ++i)
        tensor += (i ? ", " : "") + ordered[i];
      tensor += "]>";
    }
    switch (p.GetOption()) {
    case Schema::Optional:
      return "Optional<" + tensor + ">";
    case Schema::Variadic:
      return "Variadic<" + tensor + ">";
    default:
      return tensor;
    }
  }

  /// Checks that every schema version in [minOpset, maxOpset] is covered by
  /// the newest one: same inputs and outputs by position and name (new ones
  /// may only be appended as optional), and attributes a subset of the same
  /// kinds.
  void checkSubsets(const std::string &name, const Schema &newest) {
    for (int v = maxOpset; v >= minOpset; --v) {
      const Schema *s = onnx::OpSchemaRegistry::Schema(name, v, "");
      if (!s || s->SinceVersion() == newest.SinceVersion())
        continue;
      auto cmp = [&](const char *what,
                     const std::vector<Schema::FormalParameter> &older,
                     const std::vector<Schema::FormalParameter> &newer) {
        if (older.size() > newer.size()) {
          errors.push_back(name + "-" + std::to_string(s->SinceVersion()) +
                           ": has more " + what + " than the newest schema");
          return;
        }
        for (size_t i = 0; i < older.size(); ++i)
          if (older[i].GetName() != newer[i].GetName() ||
              older[i].GetOption() != newer[i].GetOption())
            errors.push_back(name + "-" + std::to_string(s->SinceVersion()) +
                             ": " + what + " '" + older[i].GetName() +
                             "' differs from the newest schema");
      };
      cmp("inputs", s->inputs(), newest.inputs());
      cmp("outputs", s->outputs(), newest.outputs());
      for (const auto &[attrName, attr] : s->attributes()) {
        auto it = newest.attributes().find(attrName);
        if (it == newest.attributes().end() || it->second.type != attr.type)
          errors.push_back(name + "-" + std::to_string(s->SinceVersion()) +
                           ": attribute '" + attrName +
                           "' is missing or changed in the newest schema");
      }
    }
  }

  void emitOp(const std::string &spec) {
    std::string name = spec.substr(0, spec.find(':'));
    std::string flags =
        spec.find(':') == std::string::npos ? "" : spec.substr(spec.find(':') + 1);
    const Schema *schema = onnx::OpSchemaRegistry::Schema(name, maxOpset, "");
    if (!schema) {
      errors.push_back(name + ": no schema at opset " +
                       std::to_string(maxOpset));
      return;
    }
    checkSubsets(name, *schema);

    unsigned numOptionalOrVariadicIn = 0, numOptionalOrVariadicOut = 0;
    for (const auto &p : schema->inputs())
      numOptionalOrVariadicIn += p.GetOption() != Schema::Single;
    for (const auto &p : schema->outputs())
      numOptionalOrVariadicOut += p.GetOption() != Schema::Single;

    // Element types that the schema binds to one type variable must match.
    // Only single (always present) values take part: optional ones may be
    // absent and variadic ones are checked by hand-written verifiers.
    std::map<std::string, std::vector<std::string>> byTypeVar;
    for (const auto &p : schema->inputs())
      if (p.GetOption() == Schema::Single)
        byTypeVar[p.GetTypeStr()].push_back(p.GetName());
    for (const auto &p : schema->outputs())
      if (p.GetOption() == Schema::Single)
        byTypeVar[p.GetTypeStr()].push_back(p.GetName());

    std::vector<std::string> traits = {"Pure"};
    if (flags.find('k') != std::string::npos)
      traits.push_back("ConstantLike");
    if (numOptionalOrVariadicIn > 1)
      traits.push_back("AttrSizedOperandSegments");
    if (numOptionalOrVariadicOut > 1)
      traits.push_back("AttrSizedResultSegments");
    for (const auto &[var, names] : byTypeVar) {
      if (names.size() < 2 || var.rfind("tensor(", 0) == 0)
        continue;
      std::string t = "AllElementTypesMatch<[";
      for (size_t i = 0; i < names.size(); ++i)
        t += (i ? ", " : "") + std::string("\"") + names[i] + "\"";
      traits.push_back(t + "]>");
    }

    os << "def ONNX_" << name << "Op : ONNX_Op<\"" << name << "\", [";
    for (size_t i = 0; i < traits.size(); ++i)
      os << (i ? ", " : "") << traits[i];
    os << "]> {\n";
    os << "  let summary = \"ONNX " << name << " (schema version "
       << schema->SinceVersion() << ")\";\n";
    os << "  let description = [{\n"
       << "    Mirrors the ONNX `" << name << "` operator, opsets " << minOpset
       << " to " << maxOpset
       << ". Attributes carry the schema defaults once imported.\n  }];\n";
    os << "  let arguments = (ins";
    bool first = true;
    for (const auto &p : schema->inputs()) {
      os << (first ? "\n    " : ",\n    ") << paramType(*schema, p) << ":$"
         << p.GetName();
      first = false;
    }
    for (const auto &[attrName, attr] : schema->attributes()) {
      std::string a = odsAttr(attr);
      if (a.empty())
        continue; // e.g. sparse_value: rejected by the importer.
      os << (first ? "\n    " : ",\n    ") << a << ":$" << attrName;
      first = false;
    }
    os << "\n  );\n";
    os << "  let results = (outs";
    first = true;
    for (const auto &p : schema->outputs()) {
      os << (first ? "\n    " : ",\n    ") << paramType(*schema, p) << ":$"
         << p.GetName();
      first = false;
    }
    os << "\n  );\n";
    if (flags.find('v') != std::string::npos)
      os << "  let hasVerifier = 1;\n";
    if (flags.find('f') != std::string::npos)
      os << "  let hasFolder = 1;\n";
    if (flags.find('c') != std::string::npos)
      os << "  let hasCanonicalizer = 1;\n";
    os << "  let extraClassDeclaration = [{\n"
       << "    static constexpr int kSchemaVersion = " << schema->SinceVersion()
       << ";\n  }];\n";
    os << "}\n\n";
  }
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 5) {
    std::cerr << "usage: " << argv[0]
              << " OUT.td MIN_OPSET MAX_OPSET OP...\n";
    return 2;
  }
  Generator gen;
  gen.minOpset = std::atoi(argv[2]);
  gen.maxOpset = std::atoi(argv[3]);
  gen.os << "// Generated by flightllm-onnx-odsgen from the ONNX "
            "schemas of libonnx. Do not edit.\n\n";
  for (int i = 4; i < argc; ++i)
    gen.emitOp(argv[i]);
  if (!gen.errors.empty()) {
    for (const auto &e : gen.errors)
      std::cerr << "flightllm-onnx-odsgen: error: " << e << "\n";
    return 1;
  }
  std::ofstream out(argv[1]);
  out << gen.os.str();
  return out.good() ? 0 : 1;
}
