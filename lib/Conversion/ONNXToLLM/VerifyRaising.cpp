//===- VerifyRaising.cpp - The raised program against the ONNX graph ------===//
//
// The raising checks each subgraph it replaces at a few tiny sizes; a
// spelling it misreads (plumbing dropped on the way, a window or table
// length the probes never reach) would still give a different model without
// a word. So, once raised, the whole program is run by the reference
// interpreter next to the ONNX graph run by the ONNX reference evaluator, on
// the same random inputs at a few (batch, new tokens, past) sizes, one of
// them beyond every small integer constant of the graph, and every output
// must agree.
//
// -llm-snapshot-onnx-graph keeps the graph for the comparison: a clone of
// the function (right after -llm-raise-signature, so both functions take the
// same arguments) in a nested module, which -llm-verify-raising removes.
//===----------------------------------------------------------------------===//

#include "RaiseContext.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Interpreter/Interpreter.h"
#include "flightllm/Reference/ONNXEvaluator.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>
#include <random>

namespace flightllm {
#define GEN_PASS_DEF_SNAPSHOTONNXGRAPHPASS
#define GEN_PASS_DEF_VERIFYRAISINGPASS
#include "flightllm/Conversion/ONNXToLLM/Passes.h.inc"
} // namespace flightllm

using namespace mlir;
using namespace flightllm;
using namespace flightllm::raising;
namespace onnxir = flightllm::onnxir;

namespace {

constexpr StringLiteral kSnapshotName = "llm_onnx_graph";

/// The nested module holding the ONNX graph, if any.
ModuleOp findSnapshot(ModuleOp module) {
  for (auto nested : module.getOps<ModuleOp>())
    if (nested.getSymName() == kSnapshotName)
      return nested;
  return {};
}

struct SnapshotONNXGraphPass
    : public flightllm::impl::SnapshotONNXGraphPassBase<SnapshotONNXGraphPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (ModuleOp old = findSnapshot(module))
      old.erase();
    auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto snapshot = ModuleOp::create(b, module.getLoc(), kSnapshotName);
    b.setInsertionPointToEnd(snapshot.getBody());
    // Weights are attributes: the clone shares them.
    for (func::FuncOp func : funcs)
      b.clone(*func);
  }
};

/// Sizes of one comparison.
struct Size {
  int64_t batch, newTokens, past;
};

std::string describe(const Size &size) {
  return llvm::formatv("batch {0}, new tokens {1}, past {2}", size.batch,
                       size.newTokens, size.past);
}

/// Estimated floating-point operations of running the raised program once
/// at `size`: the projections' (2 per weight element and token row) and the
/// attentions' products (4 per query element and attended position). The
/// ONNX graph does the same products, so a comparison costs twice this.
double probeFlops(func::FuncOp forward, const Size &size) {
  double rows = double(size.batch) * double(size.newTokens);
  double positions = double(size.past) + double(size.newTokens);
  double flops = 0;
  forward.walk([&](Operation *op) {
    if (isa<llm::LinearOp, llm::LogitsOp>(op)) {
      auto weight = cast<ShapedType>(op->getOperand(1).getType());
      if (weight.hasStaticShape())
        flops += 2.0 * double(weight.getNumElements()) * rows;
    } else if (auto attention = dyn_cast<llm::AttentionOp>(op)) {
      auto query = cast<ShapedType>(attention.getQuery().getType());
      if (!query.isDynamicDim(query.getRank() - 1))
        flops += 4.0 * rows * positions *
                 double(query.getDimSize(query.getRank() - 1));
    }
  });
  return flops;
}

/// Input and output roles by the `llm.name` the signature pass wrote.
std::string nameOf(DictionaryAttr attrs) {
  if (auto n = attrs ? attrs.getAs<StringAttr>("llm.name") : StringAttr())
    return n.str();
  return "";
}

/// The largest small integer constant of the graph below `limit`: sizes up to
/// it may hide a difference (a window, a table length, a chunk).
int64_t largestSizeConstant(func::FuncOp graph, int64_t limit) {
  int64_t largest = 0;
  graph.walk([&](onnxir::ConstantOp c) {
    auto type = cast<ShapedType>(c.getValueAttr().getType());
    if (!type.getElementType().isInteger() || type.getNumElements() > 16)
      return;
    auto t = HostTensor::fromElementsAttr(c.getValueAttr());
    if (!t) {
      llvm::consumeError(t.takeError());
      return;
    }
    for (int64_t i = 0; i < t->getNumElements(); ++i)
      if (t->getInt(i) < limit)
        largest = std::max(largest, t->getInt(i));
  });
  return largest;
}

std::string shortNumber(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", x);
  return text;
}

/// Upper bound of the long probe when the model has no position limit.
constexpr int64_t kDefaultLongLength = 4096;
/// Prefill-only graphs probe the long length as new tokens: attention is
/// quadratic in it.
constexpr int64_t kMaxPrefillLength = 128;

struct VerifyRaisingPass
    : public flightllm::impl::VerifyRaisingPassBase<VerifyRaisingPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    ModuleOp snapshot = findSnapshot(module);
    if (!snapshot) {
      module.emitError() << "-llm-verify-raising needs the ONNX graph kept by "
                            "-llm-snapshot-onnx-graph before the raising";
      return signalPassFailure();
    }
    LogicalResult verified = verify(module, snapshot);
    snapshot.erase();
    if (failed(verified))
      signalPassFailure();
  }

  /// The sizes compared: two small ones, and one as long as the model allows
  /// and beyond the graph's small constants.
  /// Sizes the graph fixes (a batch of 1, optimum 1.13's one new token) and
  /// one new token for a graph that means the model only there are kept.
  SmallVector<Size> sizes(ModuleOp module, func::FuncOp graph, bool hasPast,
                          bool oneNewToken) {
    SmallVector<Size> out;
    if (hasPast)
      out = {{1, 3, 2}, {2, 1, 5}};
    else
      out = {{1, 3, 0}, {2, 5, 0}};
    int64_t limit = kDefaultLongLength;
    if (auto max = module->getAttrOfType<IntegerAttr>("llm.max_positions"))
      limit = max.getInt();
    int64_t length = std::min(limit, largestSizeConstant(graph, limit) + 1);
    if (!hasPast)
      length = std::min(length, kMaxPrefillLength);
    if (length > 6)
      out.push_back(hasPast ? Size{1, 1, length - 1} : Size{1, length, 0});
    auto ids = cast<RankedTensorType>(graph.getArgument(0).getType());
    for (Size &size : out) {
      if (!ids.isDynamicDim(0))
        size.batch = ids.getDimSize(0);
      if (!ids.isDynamicDim(1))
        size.newTokens = ids.getDimSize(1);
      else if (oneNewToken)
        size.newTokens = 1;
    }
    return out;
  }

  /// Random inputs of one size, for the function's arguments.
  FailureOr<SmallVector<HostTensor>> inputs(func::FuncOp forward,
                                            const Size &size, int64_t vocab,
                                            std::mt19937 &rng) {
    SmallVector<HostTensor> args;
    for (BlockArgument arg : forward.getArguments()) {
      std::string name = nameOf(forward.getArgAttrDict(arg.getArgNumber()));
      auto type = cast<RankedTensorType>(arg.getType());
      if (name == "input_ids") {
        HostTensor ids(reference::ElementKind::I64,
                       {size.batch, size.newTokens});
        std::uniform_int_distribution<int64_t> token(0, vocab - 1);
        for (int64_t &id : ids.getMutableValues<int64_t>())
          id = token(rng);
        args.push_back(std::move(ids));
        continue;
      }
      if (StringRef(name).starts_with("past_key_values.") &&
          type.getRank() == 4 && !type.isDynamicDim(1) &&
          !type.isDynamicDim(3)) {
        HostTensor cache(reference::ElementKind::F32,
                         {size.batch, type.getDimSize(1), size.past,
                          type.getDimSize(3)});
        std::uniform_real_distribution<float> value(-1.f, 1.f);
        for (float &x : cache.getMutableValues<float>())
          x = value(rng);
        std::optional<reference::ElementKind> kind =
            reference::getElementKind(type.getElementType());
        if (!kind)
          return forward.emitError() << "cannot verify the raising: argument '"
                                     << name << "' has an unsupported type";
        args.push_back(*kind == reference::ElementKind::F32
                           ? std::move(cache)
                           : cache.castTo(*kind));
        continue;
      }
      return forward.emitError()
             << "cannot verify the raising: no inputs are known for argument '"
             << name << "' (use --no-verify-raising to skip the check)";
    }
    return args;
  }

  /// Which of `all` fit the budget: the long size goes first, then the
  /// costlier small one; the cheapest size is always compared. A remark says
  /// what was left out and how to include it.
  SmallVector<bool> withinBudget(ModuleOp module, func::FuncOp forward,
                                 ArrayRef<Size> all) {
    SmallVector<bool> keep(all.size(), true);
    SmallVector<double> gflop;
    double total = 0;
    for (const Size &size : all) {
      gflop.push_back(2 * probeFlops(forward, size) / 1e9);
      total += gflop.back();
    }
    // Candidates to drop, in order: the long size (index 2), then the small
    // ones from the costliest; the last one standing stays.
    SmallVector<size_t> order;
    if (all.size() > 2)
      order.push_back(2);
    SmallVector<size_t> small = {0, 1};
    llvm::stable_sort(small, [&](size_t a, size_t b) {
      return gflop[a] > gflop[b];
    });
    order.push_back(small[0]);
    for (size_t index : order) {
      if (total <= budget)
        break;
      keep[index] = false;
      total -= gflop[index];
    }
    if (llvm::all_of(keep, [](bool k) { return k; }))
      return keep;
    double needed = 0;
    for (double g : gflop)
      needed += g;
    InFlightDiagnostic remark = emitRemark(forward.getLoc());
    remark << "verified the raising at";
    llvm::ListSeparator sep(" and");
    for (auto [index, size] : llvm::enumerate(all))
      if (keep[index])
        remark << StringRef(sep) << " " << describe(size) << " ("
               << shortNumber(gflop[index]) << " GFLOP)";
    remark << " only; skipped";
    llvm::ListSeparator skippedSep(" and");
    for (auto [index, size] : llvm::enumerate(all))
      if (!keep[index])
        remark << StringRef(skippedSep) << " " << describe(size) << " ("
               << shortNumber(gflop[index]) << " GFLOP)";
    remark << ": over the verification budget of " << shortNumber(budget)
           << " GFLOP (--verify-raising-budget=" << int64_t(std::ceil(needed))
           << " verifies every size)";
    return keep;
  }

  LogicalResult verify(ModuleOp module, ModuleOp snapshot) {
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    auto graphs = llvm::to_vector(snapshot.getOps<func::FuncOp>());
    if (!forward || graphs.size() != 1 ||
        graphs.front().getNumArguments() != forward.getNumArguments() ||
        graphs.front().getNumResults() != forward.getNumResults())
      return module.emitError()
             << "cannot verify the raising: expected @forward and the ONNX "
                "graph with the same arguments and results";
    func::FuncOp graph = graphs.front();
    bool hasPast = graph->hasAttr("llm.graph_has_past");
    bool oneNewToken = forward->hasAttr(kOneNewTokenGraphAttr);
    forward->removeAttr(kOneNewTokenGraphAttr);

    // Token ids index the embedding table.
    int64_t vocab = 0;
    forward.walk([&](llm::EmbeddingOp e) {
      if (e.getIds() == forward.getArgument(0))
        vocab = cast<ShapedType>(e.getTable().getType()).getDimSize(0);
    });
    if (vocab <= 0)
      return forward.emitError()
             << "cannot verify the raising: no token embedding reads input_ids";

    // Pre-quantized weights mean what the graph's DequantizeLinear computes.
    interpreter::InterpreterOptions options;
    options.dequantizeWeights = true;
    auto interpreter = interpreter::Interpreter::create(forward, options);
    if (failed(interpreter))
      return failure();
    // An f16/bf16 graph rounds every op's result: the bound widens with the
    // narrowest float type it computes in, by 32 of its epsilons through a
    // whole model (the tiny f16 Llama: 0.0144 measured).
    double bound = tolerance;
    graph.walk([&](Operation *op) {
      for (Type t : op->getResultTypes())
        bound = std::max(bound, matchTolerance(getElementTypeOrSelf(t),
                                               tolerance, /*epsilons=*/32));
    });
    std::mt19937 rng(0x7e51f1);
    SmallVector<Size> all = sizes(module, graph, hasPast, oneNewToken);
    SmallVector<bool> probe = withinBudget(module, forward, all);
    for (auto [index, probed] : llvm::enumerate(all)) {
      if (!probe[index])
        continue;
      Size size = probed;
      FailureOr<SmallVector<HostTensor>> args = failure();
      FailureOr<SmallVector<HostTensor>> expected = failure();
      // The long size is one past the graph's largest small constant. A graph
      // with a table of exactly that many positions (Llama 4.38's causal-mask
      // buffer of max_position_embeddings rows) cannot run there: it then
      // holds that many positions, and so does the program.
      if (index == 2) {
        int64_t positions = size.past + size.newTokens;
        args = inputs(forward, size, vocab, rng);
        if (failed(args))
          return failure();
        {
          ScopedDiagnosticHandler silent(&getContext(),
                                         [](Diagnostic &) { return success(); });
          // When it runs, this is the expected result: a 7B-sized graph is
          // not evaluated twice.
          expected = reference::evaluateFunction(graph, *args);
        }
        if (failed(expected)) {
          int64_t fewer = positions - 1;
          (hasPast ? size.past : size.newTokens) -= 1;
          auto max = module->getAttrOfType<IntegerAttr>("llm.max_positions");
          if (!max || max.getInt() > fewer) {
            module->setAttr("llm.max_positions",
                            IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                             fewer));
            emitRemark(graph.getLoc())
                << "the ONNX graph cannot run at " << positions
                << " positions: the program holds at most " << fewer;
          }
          args = failure();
        }
      }
      std::string at = describe(size);
      if (failed(args))
        args = inputs(forward, size, vocab, rng);
      if (failed(args))
        return failure();
      if (failed(expected)) {
        // The graph's own errors (a Reshape it cannot do) are reported at
        // their node, with what was being done.
        ScopedDiagnosticHandler context(&getContext(), [&](Diagnostic &d) {
          if (d.getSeverity() == DiagnosticSeverity::Error)
            d.attachNote() << "while evaluating the ONNX graph at " << at
                           << " to verify the raising (the exported model "
                              "cannot run there)";
          return failure();
        });
        expected = reference::evaluateFunction(graph, *args);
      }
      if (failed(expected))
        return failure();
      auto actual = (*interpreter)->run(*args);
      if (failed(actual))
        return forward.emitError()
               << "cannot verify the raising: the raised program failed at "
               << at;
      // Layer by layer (each layer's caches), then the logits: the first
      // output that differs is closest to the cause.
      SmallVector<unsigned> order;
      for (unsigned i = 1; i < forward.getNumResults(); ++i)
        order.push_back(i);
      order.push_back(0);
      for (unsigned i : order) {
        const HostTensor &want = (*expected)[i], &got = (*actual)[i];
        double error = relativeError(
            got.castTo(reference::ElementKind::F32),
            want.castTo(reference::ElementKind::F32));
        if (error <= bound)
          continue;
        // At the op computing it: its location names the ONNX node (the
        // layer's Softmax for its caches, the LM head for the logits).
        Value result = forward.getBody().front().getTerminator()->getOperand(i);
        Location loc = result.getDefiningOp() ? result.getLoc()
                                              : forward.getLoc();
        std::string name = nameOf(forward.getResultAttrDict(i));
        InFlightDiagnostic diag = emitError(loc)
                                  << "the raised program differs from the "
                                     "ONNX graph: output '"
                                  << name << "' at " << at;
        if (got.getShape() != want.getShape())
          diag << " has shape " << got.describeType() << ", expected "
               << want.describeType();
        else
          diag << " is off by " << shortNumber(error)
               << " (max |raised - onnx| / (1 + |onnx|), tolerance "
               << shortNumber(bound) << ")";
        return failure();
      }
    }
    return success();
  }
};

} // namespace
