//===- ModelSummary.cpp - Human-readable summary of an imported model -----===//

#include "flightllm/Import/ModelSummary.h"

#include "flightllm/Dialect/ONNX/ONNXDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/MapVector.h"

#include <algorithm>

using namespace mlir;

static void printValueList(func::FuncOp func, bool results,
                           llvm::raw_ostream &os) {
  unsigned n = results ? func.getNumResults() : func.getNumArguments();
  for (unsigned i = 0; i < n; ++i) {
    DictionaryAttr attrs = results ? func.getResultAttrDict(i)
                                   : func.getArgAttrDict(i);
    Type type = results ? func.getResultTypes()[i] : func.getArgumentTypes()[i];
    auto name = attrs ? attrs.getAs<StringAttr>("onnx.name") : StringAttr();
    os << "    " << (name ? name.getValue() : StringRef("?")) << ": " << type;
    if (auto dims = attrs ? attrs.getAs<ArrayAttr>("onnx.dim_params")
                          : ArrayAttr()) {
      os << "  [";
      for (auto [j, d] : llvm::enumerate(dims))
        os << (j ? ", " : "")
           << (cast<StringAttr>(d).getValue().empty()
                   ? StringRef("_")
                   : cast<StringAttr>(d).getValue());
      os << "]";
    }
    os << "\n";
  }
}

void flightllm::printModelSummary(ModuleOp module, llvm::raw_ostream &os) {
  auto attr = [&](StringRef name) -> std::string {
    Attribute a = module->getAttr(name);
    if (auto s = dyn_cast_or_null<StringAttr>(a))
      return s.str();
    if (auto i = dyn_cast_or_null<IntegerAttr>(a))
      return std::to_string(i.getInt());
    return "?";
  };
  os << "opset " << attr("onnx.opset") << ", IR version "
     << attr("onnx.ir_version") << ", producer " << attr("onnx.producer")
     << "\n";
  module.walk([&](func::FuncOp func) {
    os << "function @" << func.getSymName() << "\n  inputs:\n";
    printValueList(func, /*results=*/false, os);
    os << "  outputs:\n";
    printValueList(func, /*results=*/true, os);

    uint64_t weightCount = 0, weightBytes = 0, weightElems = 0;
    llvm::MapVector<StringRef, unsigned> histogram;
    func.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "onnx")
        ++histogram[op->getName().stripDialect()];
      if (auto c = dyn_cast<flightllm::onnxir::ConstantOp>(op)) {
        auto type = cast<ShapedType>(c.getValueAttr().getType());
        if (isa<DenseResourceElementsAttr>(c.getValueAttr())) {
          ++weightCount;
          weightElems += type.getNumElements();
          weightBytes += type.getNumElements() *
                         ((type.getElementTypeBitWidth() + 7) / 8);
        }
      }
    });
    os << "  weights: " << weightCount << " tensors, " << weightElems
       << " parameters, " << weightBytes << " bytes\n";
    auto entries = histogram.takeVector();
    std::stable_sort(entries.begin(), entries.end(),
                     [](auto &a, auto &b) { return a.second > b.second; });
    unsigned total = 0;
    for (auto &e : entries)
      total += e.second;
    os << "  ops: " << total << "\n";
    for (auto &[name, count] : entries)
      os << "    " << name << " " << count << "\n";
  });
}
