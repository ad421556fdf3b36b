//===- OutputFiles.h - All outputs of one command, committed together -*- C++ -*-===//
//
// Every file a FlightLLM tool writes goes through one OutputFiles set:
//
//   OutputFiles files;
//   if (Error e = files.addInput(modelPath, "the model")) ...
//   Expected<raw_pwrite_stream &> os = files.addOutput(outPath, "-o");
//   ... write *os (and the other outputs) ...
//   if (Error e = files.commit()) ...   // renames every output into place
//
// - An output is written to a temporary file in its destination's directory
//   (created when the output is added, so an unwritable location fails before
//   any work) and renamed over the destination only by commit(), after every
//   output was written without error. A set destroyed without commit() (any
//   error, any early return) removes its temporaries and leaves every
//   pre-existing file as it was; the temporaries are also removed on signals.
// - An output that names an input, or another output, is refused with an
//   error naming both. Files are compared after resolving symbolic links and
//   by device and inode, so hard links and `dir/../x` spellings are caught.
// - An output that is a symlink replaces the file it points to (the link
//   stays); one that exists and is not a regular file (/dev/null, a FIFO,
//   /dev/stdout) is written directly, as it cannot be replaced; '-' is stdout.
//===----------------------------------------------------------------------===//

#ifndef FLIGHTLLM_SUPPORT_OUTPUTFILES_H
#define FLIGHTLLM_SUPPORT_OUTPUTFILES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <vector>

namespace flightllm {

class OutputFiles {
public:
  OutputFiles();
  ~OutputFiles();
  OutputFiles(const OutputFiles &) = delete;
  OutputFiles &operator=(const OutputFiles &) = delete;

  /// Registers a file the command reads; `what` names it in errors ("the
  /// model", "--calibration"). Fails if an output added before names it. A
  /// path that does not exist is not recorded (reading it fails by itself).
  llvm::Error addInput(llvm::StringRef path, llvm::StringRef what);

  /// Reserves the output `path` ('-': stdout); `what` names it in errors
  /// ("-o", "--report"). Fails when the path is a directory, names an input
  /// or another output, or when no temporary file can be created next to it.
  /// The stream is valid until commit() or discard().
  llvm::Expected<llvm::raw_pwrite_stream &> addOutput(llvm::StringRef path,
                                                      llvm::StringRef what);

  /// addOutput() for writers that take a file name (MLIR's translate driver):
  /// returns the name to write to instead of `path` (the temporary file; the
  /// path itself for stdout and special files). It must hold the complete
  /// output when commit() runs.
  llvm::Expected<std::string> addOutputPath(llvm::StringRef path,
                                            llvm::StringRef what);

  /// For tools with one input and one -o output: addInput(input, "the
  /// input"), then addOutput(output, "-o").
  llvm::Expected<llvm::raw_pwrite_stream &>
  addInputAndOutput(llvm::StringRef input, llvm::StringRef output);

  /// Flushes every output; if all were written without error, renames each
  /// temporary over its destination. Otherwise discards them all and returns
  /// the first write error, naming the output.
  llvm::Error commit();

  /// Removes every temporary file; the destinations stay untouched.
  void discard();

  /// The number of outputs added and not yet committed or discarded.
  size_t size() const;

private:
  struct File;
  /// The file `path` names, or an error naming `what` when it is unusable.
  llvm::Error checkAgainst(const File &file, bool isOutput) const;

  std::vector<std::unique_ptr<File>> inputs, outputs;
};

} // namespace flightllm

#endif // FLIGHTLLM_SUPPORT_OUTPUTFILES_H
