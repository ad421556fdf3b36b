//===- Session.h - Token generation on the reference interpreter -*- C++ -*-===//
//
// A Session runs the `@forward` function of an llm program (the contract in
// docs/llm-dialect.md, "Programs") with batch size 1 and keeps the KV cache
// between calls: the present outputs of one call are the past arguments of
// the next, and the first call gets empty `[1, Hkv, 0, Dh]` pasts.
//
//   auto session = Session::create(module);        // validates the contract
//   auto logits = (*session)->prefill(promptIds);  // [S, V]
//   auto next = (*session)->decodeStep(token);     // [V]
//
// Errors (a signature that breaks the contract, a token outside the
// vocabulary, a context longer than `llm.max_positions`, anything the
// interpreter reports) are emitted as MLIR diagnostics; a failed call leaves
// the cache as it was.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_INTERPRETER_SESSION_H
#define FLIGHTLLM_INTERPRETER_SESSION_H

#include "flightllm/Interpreter/Interpreter.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>

namespace flightllm::interpreter {

class Session {
public:
  /// Finds `funcName` in `module`, checks it against the program contract
  /// and prepares it. `module` must outlive the session.
  /// With accelerator numerics (`options`), the cache holds int8 codes
  /// between calls.
  static mlir::FailureOr<std::unique_ptr<Session>>
  create(mlir::ModuleOp module, llvm::StringRef funcName = "forward",
         InterpreterOptions options = {});

  int64_t getVocabSize() const { return vocabSize; }
  int64_t getNumLayers() const { return numLayers; }
  /// `llm.max_positions`, when the model has a limit.
  std::optional<int64_t> getMaxPositions() const { return maxPositions; }
  /// Tokens held in the KV cache.
  int64_t getContextLength() const { return contextLength; }
  /// True when an `llm.attention` of the program has a sliding `window`.
  bool hasWindowedAttention() const { return windowedAttention; }

  /// Runs `tokens` (at least one) after the cached context and returns the
  /// logits of each of them, `[S, V]` f32. On a fresh session this is the
  /// prefill call with P = 0.
  mlir::FailureOr<HostTensor> prefill(llvm::ArrayRef<int64_t> tokens);
  /// Runs one token; returns its logits, `[V]` f32.
  mlir::FailureOr<HostTensor> decodeStep(int64_t token);
  /// Empties the KV cache.
  void reset();

  Interpreter &getInterpreter() { return *interpreter; }

private:
  Session() = default;
  mlir::LogicalResult checkContract(mlir::ModuleOp module);
  mlir::FailureOr<HostTensor> step(llvm::ArrayRef<int64_t> tokens);

  mlir::func::FuncOp func;
  std::unique_ptr<Interpreter> interpreter;
  int64_t vocabSize = 0;
  int64_t numLayers = 0;
  std::optional<int64_t> maxPositions;
  bool windowedAttention = false;
  int64_t contextLength = 0;
  reference::ElementKind idsKind = reference::ElementKind::I64;
  /// Past key and value of each layer, in argument order.
  llvm::SmallVector<HostTensor> cache;
};

} // namespace flightllm::interpreter

#endif // FLIGHTLLM_INTERPRETER_SESSION_H
