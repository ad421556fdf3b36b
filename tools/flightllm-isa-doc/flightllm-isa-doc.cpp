//===- flightllm-isa-doc.cpp - The generated tables of docs/isa.md --------===//
//
//   flightllm-isa-doc                    print the tables (with their markers)
//   flightllm-isa-doc --check FILE       exit 1 if FILE's tables are stale
//   flightllm-isa-doc --update FILE      rewrite FILE's tables in place
//
// The tables sit in FILE between kDocBeginMarker and kDocEndMarker; the text
// around them is written by hand.
//
//===----------------------------------------------------------------------===//

#include "flightllm/ISA/Disassembler.h"
#include "flightllm/Support/OutputFiles.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

static cl::OptionCategory category("flightllm-isa-doc options");
static cl::opt<std::string>
    checkPath("check", cl::desc("Fail if the tables in <file> are not current"),
              cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string>
    updatePath("update", cl::desc("Rewrite the tables in <file>"),
               cl::value_desc("file"), cl::cat(category));

static int fail(const Twine &message) {
  WithColor::error(errs(), "flightllm-isa-doc") << message << '\n';
  return 1;
}

/// The 1-based number of the first line where `a` and `b` differ.
static size_t firstDifferentLine(StringRef a, StringRef b) {
  size_t line = 1;
  while (!a.empty() || !b.empty()) {
    auto [lineA, restA] = a.split('\n');
    auto [lineB, restB] = b.split('\n');
    if (lineA != lineB)
      return line;
    a = restA;
    b = restB;
    ++line;
  }
  return line;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Prints, checks or updates the ISA reference tables of docs/isa.md, "
      "generated from include/flightllm/ISA/Instructions.def\n");

  std::string tables;
  raw_string_ostream tablesOS(tables);
  flightllm::isa::printMarkdownTables(tablesOS);

  if (!checkPath.empty() && !updatePath.empty())
    return fail("--check and --update are exclusive");
  if (checkPath.empty() && updatePath.empty()) {
    outs() << tables;
    return 0;
  }

  StringRef path = checkPath.empty() ? StringRef(updatePath) : checkPath;
  auto buffer = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail(path + ": " + buffer.getError().message());
  StringRef text = (*buffer)->getBuffer();
  size_t begin = text.find(flightllm::isa::kDocBeginMarker);
  size_t end = text.find(flightllm::isa::kDocEndMarker);
  if (begin == StringRef::npos || end == StringRef::npos || end < begin)
    return fail(path + ": no generated section (the lines '" +
                flightllm::isa::kDocBeginMarker + "' ... '" +
                flightllm::isa::kDocEndMarker + "')");
  end = text.find('\n', end);
  end = end == StringRef::npos ? text.size() : end + 1;
  StringRef current = text.slice(begin, end);

  if (!checkPath.empty()) {
    if (current == tables)
      return 0;
    size_t sectionLine = text.take_front(begin).count('\n') + 1;
    return fail(path + ":" +
                Twine(sectionLine - 1 + firstDifferentLine(current, tables)) +
                ": the ISA tables differ from Instructions.def; run "
                "flightllm-isa-doc --update " +
                path);
  }

  std::string updated = (text.take_front(begin) + tables + text.drop_front(end)).str();
  // Replaced only once the new text is complete (docs/cli.md, Output files).
  flightllm::OutputFiles files;
  Expected<raw_pwrite_stream &> out = files.addOutput(path, "--update");
  if (!out)
    return fail(toString(out.takeError()));
  *out << updated;
  if (Error e = files.commit())
    return fail(toString(std::move(e)));
  return 0;
}
