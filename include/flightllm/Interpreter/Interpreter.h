//===- Interpreter.h - fp32 reference interpreter of llm functions -*- C++ -*-===//
//
// Executes a function of `llm` ops on the host, op by op, with the semantics
// written in docs/llm-dialect.md. Arithmetic is f32; a value whose element
// type is f16 or bf16 is rounded to that type after the op that produces it,
// so narrow programs see the same rounding as the spec prescribes.
//
// Preparing a function checks that every op is supported and decodes every
// `llm.weight` once (any element type, dense or dense_resource; f32 data is
// viewed in place, not copied, so the weights' attributes and resource blobs
// must stay alive and unchanged while the interpreter lives); runs then only
// execute the compute ops. Problems are reported as MLIR diagnostics at
// the location of the op (or function) at fault, never as crashes: runtime
// shapes that disagree, ids outside a table, positions outside a rotary
// table.
//
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_INTERPRETER_INTERPRETER_H
#define FLIGHTLLM_INTERPRETER_INTERPRETER_H

#include "flightllm/Reference/HostTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <functional>
#include <memory>

namespace flightllm::interpreter {

using reference::HostTensor;

/// Which arithmetic the interpreter computes.
enum class Numerics {
  /// docs/llm-dialect.md: f32 arithmetic (W8A8 projections as specified
  /// there), rounding only to declared f16/bf16 element types.
  Reference,
  /// docs/execution-model.md, section 5: what the accelerator computes, bit
  /// for bit. Every op result is rounded to fp16 (logits stay f32),
  /// projections quantize their inputs per token (quantize_dynamic), and the
  /// KV caches (past arguments, present results) hold int8 codes, as exact
  /// integers in their float tensors, with the attention's calibrated
  /// `k_scales`/`v_scales`. Needs quantized projections without
  /// `input_scale` and attentions with KV scales.
  Accelerator,
};

struct InterpreterOptions {
  Numerics numerics = Numerics::Reference;
  /// Reference numerics only: quantized projections multiply their f32
  /// input by the dequantized weight, `(Wq - zp) * scale`, instead of
  /// quantizing the input. That is what an ONNX graph with pre-quantized
  /// weights (DequantizeLinear, MatMulNBits) computes; the raising checks
  /// its llm program against the graph this way.
  bool dequantizeWeights = false;
};

class Interpreter {
public:
  using Options = InterpreterOptions;

  /// Checks that `func` is a single block of supported ops (llm ops and the
  /// return) and decodes its weights. Emits an error at each unsupported op
  /// and returns failure if there is one. `func` must outlive the result.
  /// With accelerator numerics, an op without the quantization attributes
  /// it needs is an error at its location.
  static mlir::FailureOr<std::unique_ptr<Interpreter>>
  create(mlir::func::FuncOp func, InterpreterOptions options = {});
  ~Interpreter();

  /// Runs the function on `args`, one tensor per argument. Each argument is
  /// converted to its declared element type (floats to floats, integers to
  /// integers) and must match the static dimensions of its type. Results
  /// have their declared element types.
  mlir::FailureOr<llvm::SmallVector<HostTensor>>
  run(llvm::ArrayRef<HostTensor> args);

  mlir::func::FuncOp getFunction() const;

  /// Called with every op result as it is computed (calibration reads the
  /// activations this way); null to stop.
  void setObserver(std::function<void(mlir::Value, const HostTensor &)> fn);

  class Impl;

private:
  explicit Interpreter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace flightllm::interpreter

#endif // FLIGHTLLM_INTERPRETER_INTERPRETER_H
