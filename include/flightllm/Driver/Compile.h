//===- Compile.h - flightllm-compile as a library ---------------*- C++ -*-===//
//
// The compiler driver behind `flightllm-compile` and the Python API's
// flightllm.compile(): one option table (llvm::cl options in
// compileOptionCategory()) and one code path. The CLI parses argv into the
// table; the Python binding turns its keywords into the same `--name=value`
// arguments (so the two cannot drift) and runs the same compile, with its
// messages captured instead of printed.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_DRIVER_COMPILE_H
#define FLIGHTLLM_DRIVER_COMPILE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace flightllm::driver {

/// The options of flightllm-compile (what `--help` lists).
llvm::cl::OptionCategory &compileOptionCategory();

/// flightllm-compile's main (after llvm::InitLLVM): parses argv, compiles,
/// prints diagnostics to stderr and returns the exit status.
int compileMain(int argc, char **argv);

/// The first error diagnostic of a failed compile.
struct DiagnosticRecord {
  std::string message;
  /// Where: "file:line:col", the ONNX node ("model.onnx: at 'n'"), or empty.
  std::string location;
};

struct CompileInvocation {
  /// Exit status as flightllm-compile would return it.
  int status = 0;
  /// Everything the compile printed to stderr (errors, warnings, --timing).
  std::string diagnostics;
  /// The first error with its location, when there was one.
  std::optional<DiagnosticRecord> firstError;
  /// The compile report's text (what the CLI prints without --quiet).
  std::string reportText;
};

/// Runs flightllm-compile in this process on `args` (argv without the
/// program name; option syntax as on the command line). The outputs are
/// written as the CLI writes them (OutputFiles: atomically, on success only);
/// the stderr and report text are captured into the result (progress bars
/// still go to stderr). Invocations are serialized (the options are global).
CompileInvocation compileInProcess(llvm::ArrayRef<std::string> args);

/// An option of the table, for the binding's keywords and help.
struct OptionInfo {
  std::string name;     ///< as on the command line ("max-context")
  std::string help;
  std::string valueKind; ///< "bool", "list", "value" or "positional"
};
std::vector<OptionInfo> compileOptions();

} // namespace flightllm::driver

#endif // FLIGHTLLM_DRIVER_COMPILE_H
