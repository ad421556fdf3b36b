//===- flightllm-translate.cpp - flight streams <-> instruction words -----===//
//
//   --flight-to-words  every flight.stream of the input, encoded with the
//                      ISA (flightllm::flight::encodeStream), as text:
//                        // stream @name
//                        0x1006c000
//                        ...
//   --flight-to-disasm the same words printed by the ISA's disassembler
//                      (isa::disassemble, as flightllm-objdump prints them).
//   --words-to-flight  the inverse: hexadecimal words, one per line (blank
//                      lines and `//` or `#` comments ignored); a comment
//                      `stream @name` starts a new stream of that name.
//   --flight-to-flb    the .flb of a lowered module: its streams (with
//                      dependency tokens) and the binary's data in module
//                      attributes (docs/lowering.md, "Pass pipeline"); the
//                      same bytes as flightllm-compile --emit=bin; of a
//                      module flight-partition-stages split, the system
//                      binary of its lowered card modules (--system).
//
// -o is written through OutputFiles: only on success, never over the input.
//===----------------------------------------------------------------------===//

#include "flightllm/Conversion/LLMToFlight/LLMToFlight.h"
#include "flightllm/Dialect/Flight/Encoding.h"
#include "flightllm/Dialect/Flight/FlightDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "flightllm/ISA/Disassembler.h"
#include "flightllm/Support/OutputFiles.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <vector>

using namespace mlir;
using namespace flightllm;

static void registerFlight(DialectRegistry &registry) {
  registry.insert<flight::FlightDialect>();
}

/// Encodes every stream under `root` and prints it with `print`.
template <typename PrintFn>
static LogicalResult forEachEncodedStream(Operation *root,
                                          llvm::raw_ostream &os,
                                          PrintFn &&print) {
  bool failedAny = false;
  root->walk([&](flight::StreamOp stream) {
    FailureOr<std::vector<uint32_t>> words = flight::encodeStream(stream);
    if (failed(words) || failedAny) {
      failedAny = true;
      return;
    }
    os << "// stream @" << stream.getSymName() << '\n';
    if (failed(print(stream, *words)))
      failedAny = true;
  });
  return failure(failedAny);
}

static LogicalResult flightToWords(Operation *root, llvm::raw_ostream &os) {
  return forEachEncodedStream(
      root, os, [&](flight::StreamOp, ArrayRef<uint32_t> words) {
        for (uint32_t word : words)
          os << llvm::format("0x%08x", word) << '\n';
        return success();
      });
}

static LogicalResult flightToDisasm(Operation *root, llvm::raw_ostream &os) {
  return forEachEncodedStream(
      root, os,
      [&](flight::StreamOp stream, ArrayRef<uint32_t> words) -> LogicalResult {
        if (llvm::Error err = isa::disassemble(words, os))
          return stream.emitError(llvm::toString(std::move(err)));
        return success();
      });
}

static OwningOpRef<Operation *> wordsToFlight(llvm::SourceMgr &sourceMgr,
                                              MLIRContext *context) {
  context->getOrLoadDialect<flight::FlightDialect>();
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  StringRef bufferName = buffer->getBufferIdentifier();
  Location fileLoc = FileLineColLoc::get(context, bufferName, 1, 1);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  OpBuilder builder = OpBuilder::atBlockEnd(module->getBody());

  struct Pending {
    std::string name;
    Location loc;
    SmallVector<uint32_t> words;
  };
  SmallVector<Pending> streams;
  SmallVector<StringRef> lines;
  buffer->getBuffer().split(lines, '\n');
  for (auto [index, rawLine] : llvm::enumerate(lines)) {
    Location loc = FileLineColLoc::get(context, bufferName, index + 1, 1);
    StringRef line = rawLine.trim();
    if (line.consume_front("//") || line.consume_front("#")) {
      line = line.trim();
      if (line.consume_front("stream")) {
        line = line.trim();
        line.consume_front("@");
        streams.push_back({line.trim().str(), loc, {}});
      }
      continue;
    }
    if (line.empty())
      continue;
    StringRef digits = line;
    if (!digits.consume_front("0x"))
      digits.consume_front("0X");
    uint64_t value;
    if (digits.getAsInteger(16, value) || value > UINT32_MAX) {
      emitError(loc, "expected a 32-bit hexadecimal word, got '")
          << line << "'";
      return nullptr;
    }
    if (streams.empty())
      streams.push_back({"stream", loc, {}});
    streams.back().words.push_back(static_cast<uint32_t>(value));
  }
  for (Pending &stream : streams)
    if (failed(flight::decodeStream(stream.words, builder, stream.loc,
                                    stream.name)))
      return nullptr;
  return OwningOpRef<Operation *>(module.release());
}

/// The .flb of a lowered module (flightllm-compile --emit=flight or
/// flightllm-opt --convert-llm-to-flight): its streams and the binary's data
/// in module attributes.
static LogicalResult flightToFlb(Operation *root, llvm::raw_ostream &os) {
  auto module = dyn_cast<ModuleOp>(root);
  if (!module)
    return root->emitError("flight-to-flb: expected a builtin.module");
  // A module flight-partition-stages split: the system binary of its cards.
  if (module->hasAttr(lowering::kSystemAttrName)) {
    FailureOr<std::vector<uint8_t>> file = lowering::readSystemModule(module);
    if (failed(file))
      return failure();
    os.write(reinterpret_cast<const char *>(file->data()), file->size());
    return success();
  }
  uint64_t fingerprint = 0;
  std::vector<uint8_t> tokenizerSection;
  FailureOr<lowering::LoweredModel> model =
      lowering::readFlightModule(module, fingerprint, tokenizerSection);
  if (failed(model))
    return failure();
  llvm::Expected<std::vector<uint8_t>> bytes =
      lowering::binaryImage(*model, fingerprint, tokenizerSection);
  if (!bytes)
    return module.emitError() << "flight-to-flb: "
                              << llvm::toString(bytes.takeError());
  os.write(reinterpret_cast<const char *>(bytes->data()), bytes->size());
  return success();
}

int main(int argc, char **argv) {
  TranslateFromMLIRRegistration toWords(
      "flight-to-words", "encode every flight.stream as hexadecimal words",
      flightToWords, registerFlight);
  TranslateFromMLIRRegistration toDisasm(
      "flight-to-disasm",
      "disassemble every flight.stream's words with the ISA's printer",
      flightToDisasm, registerFlight);
  TranslateFromMLIRRegistration toFlb(
      "flight-to-flb",
      "write the .flb of a lowered flight module (streams with tokens and "
      "the binary's data in module attributes)",
      flightToFlb, registerFlight);
  TranslateToMLIRRegistration fromWords(
      "words-to-flight", "decode hexadecimal words into flight.stream ops",
      wordsToFlight, registerFlight);

  // mlirTranslateMain opens -o itself, truncating it first and deleting it
  // when the translation fails. The tool's -o is therefore swapped for the
  // temporary file of an OutputFiles set, renamed into place only on
  // success and never over the input (docs/cli.md, Output files).
  std::vector<std::string> args(argv, argv + argc);
  std::string input = "-";
  int outputIndex = -1;
  std::string outputPrefix, output = "-";
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = args[i];
    if (arg == "--") {
      if (i + 1 < argc)
        input = args[i + 1];
      break;
    }
    if ((arg == "-o" || arg == "--o") && i + 1 < argc) {
      outputIndex = ++i;
      output = args[i];
    } else if (arg.starts_with("-o=") || arg.starts_with("--o=")) {
      outputIndex = i;
      outputPrefix = arg.take_until([](char c) { return c == '='; }).str() + "=";
      output = arg.drop_front(outputPrefix.size()).str();
    } else if (!arg.starts_with("-")) {
      input = arg.str();
    }
  }
  flightllm::OutputFiles files;
  if (outputIndex >= 0 && output != "-") {
    if (llvm::Error e = files.addInput(input, "the input")) {
      llvm::errs() << "flightllm-translate: error: "
                   << llvm::toString(std::move(e)) << "\n";
      return 1;
    }
    llvm::Expected<std::string> path = files.addOutputPath(output, "-o");
    if (!path) {
      llvm::errs() << "flightllm-translate: error: "
                   << llvm::toString(path.takeError()) << "\n";
      return 1;
    }
    args[outputIndex] = outputPrefix + *path;
  }
  std::vector<char *> argvCopy;
  for (std::string &arg : args)
    argvCopy.push_back(arg.data());
  argvCopy.push_back(nullptr);
  if (failed(mlirTranslateMain(argc, argvCopy.data(),
                               "FlightLLM translation tool")))
    return 1;
  if (llvm::Error e = files.commit()) {
    llvm::errs() << "flightllm-translate: error: "
                 << llvm::toString(std::move(e)) << "\n";
    return 1;
  }
  return 0;
}
