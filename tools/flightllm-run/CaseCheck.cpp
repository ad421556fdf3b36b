//===- CaseCheck.cpp - One forward call checked against saved outputs -----===//

#include "CaseCheck.h"

#include "flightllm/Interpreter/Interpreter.h"
#include "flightllm/Reference/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;
using flightllm::reference::HostTensor;

static StringRef nameOf(DictionaryAttr attrs) {
  auto name = attrs ? attrs.getAs<StringAttr>("llm.name") : StringAttr();
  return name ? name.getValue() : StringRef();
}

LogicalResult flightllm::checkCase(ModuleOp module, StringRef dir, double atol,
                                   llvm::raw_ostream &os) {
  auto func = module.lookupSymbol<func::FuncOp>("forward");
  if (!func)
    return module.emitError("no @forward function to run");
  auto file = [&](StringRef sub, StringRef name) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, sub, name + ".npy");
    return std::string(path);
  };

  SmallVector<HostTensor> args;
  std::optional<int64_t> batch;
  for (BlockArgument arg : func.getArguments()) {
    StringRef name = nameOf(func.getArgAttrDict(arg.getArgNumber()));
    std::string path = file("inputs", name);
    if (!llvm::sys::fs::exists(path) && name.starts_with("past_key_values.") &&
        batch) {
      // A prefill case: the cache starts empty.
      auto type = cast<RankedTensorType>(arg.getType());
      args.push_back(HostTensor(reference::ElementKind::F32,
                                {*batch, type.getDimSize(1), 0,
                                 type.getDimSize(3)}));
      continue;
    }
    auto t = reference::readNpy(path);
    if (!t)
      return func.emitError() << "input '" << name
                              << "': " << llvm::toString(t.takeError());
    if (name == "input_ids" && t->getRank() >= 1)
      batch = t->getDim(0);
    args.push_back(std::move(*t));
  }

  auto interpreter = interpreter::Interpreter::create(func);
  if (failed(interpreter))
    return failure();
  auto results = (*interpreter)->run(args);
  if (failed(results))
    return failure();

  bool ok = true;
  for (auto [i, result] : llvm::enumerate(*results)) {
    StringRef name = nameOf(func.getResultAttrDict(i));
    auto expected = reference::readNpy(file("outputs", name));
    if (!expected)
      return func.emitError() << "output '" << name
                              << "': " << llvm::toString(expected.takeError());
    double worst = 0;
    bool shapeOk = result.getShape() == expected->getShape();
    for (int64_t j = 0; shapeOk && j < result.getNumElements(); ++j) {
      double d = std::abs(result.getDouble(j) - expected->getDouble(j));
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
    bool pass = shapeOk && worst <= atol;
    ok &= pass;
    os << llvm::format("%-28s ", name.str().c_str());
    if (!shapeOk)
      os << "shape " << result.describeType() << " != "
         << expected->describeType() << "  MISMATCH\n";
    else
      os << llvm::format("max |diff| %.3g  %s\n", worst, pass ? "ok" : "MISMATCH");
  }
  return success(ok);
}
