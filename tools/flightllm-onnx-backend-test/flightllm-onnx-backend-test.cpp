//===- flightllm-onnx-backend-test.cpp - ONNX backend node tests ----------===//
//
// Runs the ONNX backend node tests (model.onnx + test_data_set_N/{input_K,
// output_K}.pb) through the importer and the reference evaluator:
//
//   flightllm-onnx-backend-test --allowlist test/onnx-backend/allowlist.txt
//
// Only tests whose models use nothing but operator types the onnx dialect
// accepts are run. Each prints one line (PASS, FAIL, IMPORT-ERROR,
// EVAL-ERROR with a reason; NEW PASS for passing tests missing from the
// allow-list), then a per-operator table and `N passed, M failed` over the
// allow-listed tests. The exit code is non-zero iff an allow-listed test
// does not pass. Outputs are compared like the ONNX backend does: rtol 1e-3
// (--rtol), atol 1e-7 (--atol), integers and bools exactly, NaN equal to NaN. With
// --fold-constants the models go through onnx-fold-constants first.
//===----------------------------------------------------------------------===//

#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/Import/SupportedOperators.h"
#include "flightllm/Reference/HostTensor.h"
#include "flightllm/Reference/ONNXEvaluator.h"

#include "flightllm/Dialect/ONNX/ONNXDialect.h"
#include "flightllm/Dialect/ONNX/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include "onnx/onnx_pb.h"

#include <climits>
#include <map>
#include <set>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::reference;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("flightllm-onnx-backend-test options");

cl::opt<std::string> dataDir(
    "data-dir", cl::desc("Directory holding one directory per node test"),
    cl::init("/usr/share/libonnx-testdata/data/node"), cl::cat(category));

cl::opt<std::string> allowlistFile(
    "allowlist",
    cl::desc("Tests that must pass, one name per line, '#' comments"),
    cl::value_desc("file"), cl::cat(category));

cl::opt<std::string> filter("filter",
                            cl::desc("Only run tests whose name matches"),
                            cl::value_desc("regex"), cl::cat(category));

cl::opt<bool> foldConstants(
    "fold-constants",
    cl::desc("Run onnx-fold-constants on each model before evaluating it "
             "(checks that folding preserves the results)"),
    cl::init(false), cl::cat(category));

cl::opt<double> rtol("rtol",
                     cl::desc("Relative tolerance of float outputs (1e-3, "
                              "the ONNX backend's)"),
                     cl::init(1e-3), cl::cat(category));

cl::opt<double> atol("atol",
                     cl::desc("Absolute tolerance of float outputs (1e-7, "
                              "the ONNX backend's)"),
                     cl::init(1e-7), cl::cat(category));

cl::opt<bool> verbose("v", cl::desc("Print every diagnostic and data set"),
                      cl::init(false), cl::cat(category));

enum class Status { Pass, Fail, ImportError, EvalError };

StringRef statusName(Status s) {
  switch (s) {
  case Status::Pass:
    return "PASS";
  case Status::Fail:
    return "FAIL";
  case Status::ImportError:
    return "IMPORT-ERROR";
  case Status::EvalError:
    return "EVAL-ERROR";
  }
  llvm_unreachable("unknown status");
}

struct Outcome {
  Outcome(Status status = Status::Pass, std::string reason = {})
      : status(status), reason(std::move(reason)) {}
  Status status;
  std::string reason;
  /// With -v: one line per data set that matched.
  std::string details;
};

/// Collects diagnostics as text while alive.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext *ctx)
      : handler(ctx, [this](Diagnostic &diag) {
          std::string text;
          llvm::raw_string_ostream os(text);
          os << diag;
          for (Diagnostic &note : diag.getNotes())
            os << "\n  note: " << note;
          messages.push_back(std::move(text));
          return success();
        }) {}

  /// The first diagnostic, one line (the whole text with -v).
  std::string summary() const {
    if (messages.empty())
      return "(no diagnostic)";
    std::string all = llvm::join(messages, "\n");
    if (verbose)
      return all;
    StringRef first = StringRef(messages.front()).split('\n').first;
    return first.str();
  }

private:
  ScopedDiagnosticHandler handler;
  std::vector<std::string> messages;
};

/// The operator types of a model, or an error message. `supported` is false
/// when an op is outside the default domain or not in the onnx dialect, and
/// not one the importer expands.
struct ModelOps {
  std::set<std::string> types;
  bool supported = true;
};

std::optional<ModelOps> readModelOps(StringRef path, MLIRContext &ctx) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer || (*buffer)->getBufferSize() > size_t(INT_MAX))
    return std::nullopt;
  onnx::ModelProto model;
  if (!model.ParseFromArray((*buffer)->getBufferStart(),
                            int((*buffer)->getBufferSize())))
    return std::nullopt;
  ModelOps ops;
  for (const auto &node : model.graph().node()) {
    bool defaultDomain = node.domain().empty() || node.domain() == "ai.onnx";
    ops.types.insert(defaultDomain ? node.op_type()
                                   : node.domain() + "::" + node.op_type());
    if ((!defaultDomain ||
         !ctx.isOperationRegistered("onnx." + node.op_type())) &&
        !isExpandedOnImport(node))
      ops.supported = false;
  }
  return ops;
}

/// Loads `dir/prefix_K.pb` for K = 0, 1, ... until one is missing.
llvm::Expected<SmallVector<HostTensor>> loadTensors(StringRef dir,
                                                    StringRef prefix) {
  SmallVector<HostTensor> tensors;
  for (int k = 0;; ++k) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, prefix + "_" + std::to_string(k) + ".pb");
    if (!llvm::sys::fs::exists(path))
      return tensors;
    auto t = HostTensor::fromTensorProtoFile(path);
    if (!t)
      return t.takeError();
    tensors.push_back(std::move(*t));
  }
}

/// numpy has no bfloat16, so the ONNX 1.12 test data stores bf16 tensors as
/// uint16 bit patterns; read them as the bf16 the model declares.
void reinterpretBFloat16(SmallVector<HostTensor> &tensors, TypeRange types) {
  for (auto [t, type] : llvm::zip(tensors, types))
    if (t.getKind() == ElementKind::UI16 && getElementTypeOrSelf(type).isBF16())
      t = t.bitcastTo(ElementKind::BF16);
}

std::vector<std::string> listDirs(StringRef dir, StringRef prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    StringRef name = llvm::sys::path::filename(it->path());
    if (name.starts_with(prefix) &&
        it->type() == llvm::sys::fs::file_type::directory_file)
      names.push_back(name.str());
  }
  llvm::sort(names);
  return names;
}

Outcome runTest(StringRef testDir, MLIRContext &ctx) {
  llvm::SmallString<256> modelPath(testDir);
  llvm::sys::path::append(modelPath, "model.onnx");
  OwningOpRef<ModuleOp> module;
  {
    DiagnosticCollector diags(&ctx);
    module = importONNXFile(modelPath, &ctx);
    if (!module)
      return {Status::ImportError, diags.summary()};
  }
  if (foldConstants) {
    DiagnosticCollector diags(&ctx);
    PassManager pm(&ctx);
    pm.addPass(onnxir::createONNXFoldConstantsPass());
    if (failed(pm.run(*module)))
      return {Status::EvalError, "onnx-fold-constants: " + diags.summary()};
  }
  auto func = module->lookupSymbol<func::FuncOp>("main");
  if (!func)
    return {Status::ImportError, "the module has no @main"};

  Outcome outcome;
  std::vector<std::string> sets = listDirs(testDir, "test_data_set_");
  if (sets.empty())
    return {Status::Fail, "no test_data_set_* directory"};
  for (const std::string &set : sets) {
    llvm::SmallString<256> setDir(testDir);
    llvm::sys::path::append(setDir, set);
    auto inputs = loadTensors(setDir, "input");
    if (!inputs)
      return {Status::Fail, set + ": " + llvm::toString(inputs.takeError())};
    auto expected = loadTensors(setDir, "output");
    if (!expected)
      return {Status::Fail, set + ": " + llvm::toString(expected.takeError())};
    reinterpretBFloat16(*inputs, func.getArgumentTypes());
    reinterpretBFloat16(*expected, func.getResultTypes());
    FailureOr<SmallVector<HostTensor>> actual;
    {
      DiagnosticCollector diags(&ctx);
      actual = evaluateFunction(func, *inputs);
      if (failed(actual))
        return {Status::EvalError, set + ": " + diags.summary()};
    }
    if (actual->size() != expected->size())
      return {Status::Fail, set + ": " + std::to_string(actual->size()) +
                                " outputs, expected " +
                                std::to_string(expected->size())};
    for (auto [k, pair] : llvm::enumerate(llvm::zip(*actual, *expected))) {
      auto &[a, e] = pair;
      if (auto mismatch = compareTensors(a, e, rtol, atol))
        return {Status::Fail,
                set + " output " + std::to_string(k) + ": " + *mismatch};
    }
    outcome.details += "  " + set + ": " + std::to_string(inputs->size()) +
                       " inputs, " + std::to_string(expected->size()) +
                       " outputs match\n";
  }
  return outcome;
}

/// Reads the allow-list: one test name per line, '#' starts a comment.
llvm::Expected<llvm::StringSet<>> readAllowlist(StringRef path) {
  llvm::StringSet<> names;
  if (path.empty())
    return names;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError())
    return llvm::createStringError(ec, "cannot read allow-list '" + path.str() +
                                           "': " + ec.message());
  SmallVector<StringRef> lines;
  (*buffer)->getBuffer().split(lines, '\n');
  for (StringRef line : lines) {
    line = line.split('#').first.trim();
    if (!line.empty())
      names.insert(line);
  }
  return names;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "FlightLLM: ONNX backend node tests through the "
                              "importer and the reference evaluator\n");

  auto allowlist = readAllowlist(allowlistFile);
  if (!allowlist) {
    llvm::errs() << "error: " << llvm::toString(allowlist.takeError()) << "\n";
    return 2;
  }
  llvm::Regex regex(filter);
  std::string regexError;
  if (!filter.empty() && !regex.isValid(regexError)) {
    llvm::errs() << "error: bad --filter: " << regexError << "\n";
    return 2;
  }
  if (!llvm::sys::fs::is_directory(dataDir)) {
    llvm::errs() << "error: '" << dataDir << "' is not a directory\n";
    return 2;
  }
  auto selected = [&](StringRef name) {
    return filter.empty() || regex.match(name);
  };

  MLIRContext ctx;
  ctx.loadDialect<onnxir::ONNXDialect, func::FuncDialect>();
  ctx.disableMultithreading();

  std::map<std::string, std::pair<unsigned, unsigned>> perOp; // passed, total
  llvm::StringSet<> seen;
  unsigned passed = 0, failed = 0, newPasses = 0;
  for (const std::string &name : listDirs(dataDir, "test_")) {
    if (!selected(name))
      continue;
    llvm::SmallString<256> testDir(dataDir);
    llvm::sys::path::append(testDir, name);
    llvm::SmallString<256> modelPath(testDir);
    llvm::sys::path::append(modelPath, "model.onnx");
    std::optional<ModelOps> ops = readModelOps(modelPath, ctx);
    if (!ops || !ops->supported)
      continue;
    seen.insert(name);
    Outcome outcome = runTest(testDir, ctx);
    bool ok = outcome.status == Status::Pass;
    bool listed = allowlist->contains(name);
    for (const std::string &op : ops->types) {
      perOp[op].first += ok;
      ++perOp[op].second;
    }
    if (ok && listed) {
      ++passed;
      llvm::outs() << "PASS " << name << "\n";
    } else if (ok) {
      ++newPasses;
      llvm::outs() << "NEW PASS (add to allow-list) " << name << "\n";
    } else {
      failed += listed;
      llvm::outs() << statusName(outcome.status) << " " << name
                   << (listed ? "" : " (not in allow-list)") << ": "
                   << outcome.reason << "\n";
    }
    if (verbose)
      llvm::outs() << outcome.details;
  }
  // Allow-listed tests that were not found (or use unsupported ops) fail.
  for (const auto &entry : *allowlist) {
    StringRef name = entry.getKey();
    if (!seen.contains(name) && selected(name)) {
      ++failed;
      llvm::outs() << "FAIL " << name << ": allow-listed but not found in "
                   << dataDir
                   << " (or it uses operators the importer rejects)\n";
    }
  }

  llvm::outs() << "\nper operator type (passed/total):\n";
  for (const auto &[op, counts] : perOp)
    llvm::outs() << "  " << op << ": " << counts.first << "/" << counts.second
                 << "\n";
  if (newPasses)
    llvm::outs() << "\n"
                 << newPasses << " passing test(s) are not in the allow-list\n";
  llvm::outs() << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
