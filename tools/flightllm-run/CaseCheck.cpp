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

/// The case may give the inputs the program dropped (`llm.assumed_inputs`):
/// they must have the values the program assumes, or the outputs would be
/// compared with those of another computation.
static LogicalResult
checkAssumedInputs(ModuleOp module, func::FuncOp func,
                   ArrayRef<HostTensor> args,
                   function_ref<std::string(StringRef, StringRef)> file) {
  auto assumed = module->getAttrOfType<DictionaryAttr>("llm.assumed_inputs");
  if (!assumed || args.size() < 2 || args[0].getRank() != 2)
    return success();
  int64_t batch = args[0].getDim(0), newTokens = args[0].getDim(1);
  int64_t past = args[1].getRank() == 4 ? args[1].getDim(2) : 0;
  for (NamedAttribute entry : assumed) {
    StringRef name = entry.getName();
    std::string path = file("inputs", name);
    if (!llvm::sys::fs::exists(path))
      continue;
    auto t = flightllm::reference::readNpy(path);
    if (!t)
      return func.emitError() << "input '" << name
                              << "': " << llvm::toString(t.takeError());
    bool mask = name == "attention_mask";
    bool ok = mask ? t->getShape() == ArrayRef<int64_t>{batch, past + newTokens}
                   : t->getRank() >= 1 && t->getShape().back() == newTokens;
    for (int64_t i = 0; ok && i < t->getNumElements(); ++i)
      ok = t->getDouble(i) == (mask ? 1.0 : double(past + i % newTokens));
    if (!ok)
      return func.emitError()
             << "input '" << name << "' is " << t->describeType()
             << " with other values than the program assumes ("
             << cast<StringAttr>(entry.getValue()).getValue()
             << "): the compiled program computes one unpadded sequence";
  }
  return success();
}

LogicalResult flightllm::checkCase(ModuleOp module, StringRef dir, double atol,
                                   llvm::raw_ostream &os,
                                   interpreter::InterpreterOptions options) {
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

  if (failed(checkAssumedInputs(module, func, args, file)))
    return failure();

  auto interpreter = interpreter::Interpreter::create(func, options);
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
