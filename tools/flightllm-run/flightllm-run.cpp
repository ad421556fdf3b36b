//===- flightllm-run.cpp - Greedy generation with an llm program ----------===//
//
// Loads a model (an llm program in .mlir, or an ONNX model that it raises to
// one), prefills the prompt, then decodes greedily on the chosen engine:
//
//   flightllm-run model.mlir --tokens 1,2,3 --max-new-tokens 8
//   flightllm-run model.onnx --prompt "Permission is " --max-new-tokens 64 --json
//   flightllm-run model.mlir --tokens 5 --max-new-tokens 4 --dump-logits l.npy
//   flightllm-run model.flb --prompt "Hi" --max-new-tokens 8   (simulator)
//   flightllm-run model.flb --tokens 1 --max-new-tokens 32 --timing-only
//   flightllm-run EXPORT_DIR --prompt "Hello" --max-new-tokens 16
//
// --prompt goes through the model's tokenizer.json (from its export
// directory, or the .flb), bytes for the byte-level model; generation stops
// at the model's end-of-sequence tokens (generation_config.json).
//
// Every error (flags, model, tokens, context length, the program itself) is a
// message and exit status 1; the output files (--dump-logits, --trace) are
// renamed into place only on success, and never over an input.
//===----------------------------------------------------------------------===//

#include "flightllm/Import/NodeDiagnostics.h"
#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/InitAll.h"
#include "flightllm/Interpreter/Session.h"
#include "flightllm/Support/OutputFiles.h"
#include "flightllm/Support/Progress.h"
#include "flightllm/Target/TargetDescription.h"
#include "flightllm/Version.h"

#include "CaseCheck.h"
#include "SimRun.h"
#include "flightllm/Driver/TextCodec.h"

#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Reference/Npy.h"

#include "mlir/Pass/PassManager.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace mlir;
using flightllm::interpreter::HostTensor;
using flightllm::interpreter::Session;
using flightllm::OutputFiles;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("flightllm-run options");

enum class Engine { Reference, Quantized, Sim };

cl::opt<std::string> modelFilename(
    cl::Positional,
    cl::desc("<model.mlir | model.onnx | model.flb | export directory>"),
                                   cl::Required, cl::cat(category));

cl::opt<std::string> caseDir(
    "case",
    cl::desc("Instead of generating, run one forward call on DIR/inputs/*.npy "
             "and compare with DIR/outputs/*.npy"),
    cl::value_desc("DIR"), cl::cat(category));

cl::opt<std::string> perplexityFile(
    "perplexity",
    cl::desc("Instead of generating, report the per-token perplexity of the "
             "model on FILE (bytes as tokens: byte-level models), in windows "
             "of the model's context (on a .flb: a one-byte prefill, then "
             "decode steps)"),
    cl::value_desc("FILE"), cl::cat(category));

cl::opt<double> caseTolerance(
    "atol", cl::desc("Largest absolute difference --case accepts (1e-4)"),
    cl::init(1e-4), cl::cat(category));

cl::opt<std::string> tokensOption(
    "tokens", cl::desc("Prompt token ids, comma separated (e.g. 1,2,3); with "
                       "--users, one list per user separated by ';' (user u "
                       "takes list u modulo their count)"),
    cl::value_desc("ids"), cl::cat(category));

cl::opt<std::string> promptOption(
    "prompt",
    cl::desc("Prompt text: through the model's tokenizer.json, or one token "
             "per byte for byte-level models (vocabulary 256)"),
    cl::value_desc("text"), cl::cat(category));

cl::opt<int> maxNewTokens("max-new-tokens",
                          cl::desc("Number of tokens to generate (required)"),
                          cl::value_desc("n"), cl::init(-1), cl::cat(category));

cl::opt<bool> dequantizeWeights(
    "dequantize-weights",
    cl::desc("--engine=reference: multiply the f32 activations by the "
             "dequantized weights of pre-quantized projections (what the "
             "ONNX graph of a DequantizeLinear/MatMulNBits model computes) "
             "instead of quantizing the activations per token"),
    cl::init(false), cl::cat(category));

cl::opt<Engine> engine(
    "engine", cl::desc("Where to run the model"), cl::init(Engine::Reference),
    cl::values(clEnumValN(Engine::Quantized, "quantized",
                          "the host quantized reference: the interpreter's "
                          "accelerator numerics (docs/execution-model.md, "
                          "section 5) on a quantized .mlir (W8A8 or "
                          "compressed, docs/compression.md)"),
               clEnumValN(Engine::Reference, "reference",
                          "the fp32 reference interpreter on the host "
                          "(default for .onnx/.mlir)"),
               clEnumValN(Engine::Sim, "sim",
                          "a compiled .flb through the embedded runtime on "
                          "the cycle-level simulator (default for .flb)")),
    cl::cat(category));

cl::opt<std::string> targetOption(
    "target",
    cl::desc("--engine=sim: the hardware (u280, vhk158 or FILE.json); "
             "default: the preset whose fingerprint the binary carries"),
    cl::value_desc("name|file"), cl::cat(category));

cl::opt<bool> timingOnly(
    "timing-only",
    cl::desc("--engine=sim: simulate timing only, without data (fast, for "
             "7B-sized models); the generated tokens are then a fixed token, "
             "not model output"),
    cl::init(false), cl::cat(category));

cl::opt<std::string> traceFile(
    "trace",
    cl::desc("--engine=sim: write a Chrome trace-event JSON of the "
             "instructions (Perfetto; the first 200000 events)"),
    cl::value_desc("file.json"), cl::cat(category));

cl::opt<bool> noVerifyRaising(
    "no-verify-raising",
    cl::desc("For an ONNX model: skip running the raised program next to the "
             "ONNX graph at a few sizes (as flightllm-compile's option)"),
    cl::init(false), cl::cat(category));

cl::opt<flightllm::ProgressMode> progressMode(
    "progress",
    cl::desc("A progress bar with ETA on stderr over the simulated decode "
             "steps"),
    cl::init(flightllm::ProgressMode::Auto), flightllm::progressModeValues(),
    cl::cat(category));

cl::opt<bool> quiet("quiet", cl::desc("No progress bars"), cl::init(false),
                    cl::cat(category));

cl::opt<bool> jsonOutput("json",
                         cl::desc("Print one JSON object instead of text"),
                         cl::init(false), cl::cat(category));

cl::opt<unsigned> usersOption(
    "users",
    cl::desc("--engine=sim: serve N users, each with its own KV-cache slot "
             "(compile with --kv-slots), and print NorthPole's metrics: "
             "system and per-card throughput, latency per output token per "
             "user, energy per token, tokens/s per watt"),
    cl::value_desc("n"), cl::init(0), cl::cat(category));

cl::opt<std::string> promptFile(
    "prompt-file",
    cl::desc("With --users: one prompt per line (user u takes line u modulo "
             "the line count)"),
    cl::value_desc("file"), cl::cat(category));

cl::opt<unsigned> promptLength(
    "prompt-length",
    cl::desc("With --users: synthetic prompts of this many token ids (for "
             "timing runs of large models)"),
    cl::value_desc("n"), cl::init(0), cl::cat(category));

cl::opt<std::string> dumpLogits(
    "dump-logits",
    cl::desc("Write the logits of every generation step as a float32 .npy "
             "array [steps, V] (--users: every user's steps in user order)"),
    cl::value_desc("file.npy"), cl::cat(category));

/// Prints `flightllm-run: error: ...` and returns the exit status.
int fail(const llvm::Twine &message) {
  llvm::errs() << "flightllm-run: error: " << message << "\n";
  return 1;
}

/// Parses "1,2,3" (spaces allowed around the ids).
std::optional<std::vector<int64_t>> parseTokenList(llvm::StringRef text) {
  std::vector<int64_t> ids;
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ',');
  for (llvm::StringRef part : parts) {
    int64_t id;
    if (part.trim().getAsInteger(10, id))
      return std::nullopt;
    ids.push_back(id);
  }
  return ids;
}

/// The engine's name as --engine spells it.
llvm::StringRef engineName(Engine e) {
  switch (e) {
  case Engine::Reference:
    return "reference";
  case Engine::Quantized:
    return "quantized";
  case Engine::Sim:
    return "sim";
  }
  return "";
}

/// Loads MODEL: .mlir/.mlirbc files are parsed, anything else is imported
/// as ONNX and raised to an llm program. Diagnostics go to the handlers.
OwningOpRef<ModuleOp> loadModel(MLIRContext &context,
                                llvm::SourceMgr &sourceMgr,
                                OutputFiles &files) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(modelFilename, &error);
  if (!file) {
    fail(error);
    return nullptr;
  }
  llvm::StringRef ext = llvm::sys::path::extension(modelFilename);
  if (ext == ".mlir" || ext == ".mlirbc") {
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    return parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
  }
  // The importer maps the model itself.
  file.reset();
  std::vector<std::string> externalData;
  flightllm::ONNXImportOptions options;
  options.externalDataFiles = &externalData;
  OwningOpRef<ModuleOp> module =
      flightllm::importONNXFile(modelFilename, &context, options);
  if (!module)
    return nullptr;
  // The weights' files are inputs too: no output may replace them.
  for (const std::string &path : externalData)
    if (llvm::Error e = files.addInput(path, "the model's external data")) {
      fail(llvm::toString(std::move(e)));
      return nullptr;
    }
  PassManager pm(&context);
  flightllm::ONNXToLLMOptions raising;
  raising.verifyRaising = !noVerifyRaising;
  flightllm::buildONNXToLLMPipeline(pm, raising);
  if (failed(pm.run(*module)))
    return nullptr;
  return module;
}

/// A context with every dialect and the diagnostic handlers the tool uses;
/// loads MODEL into it.
class ModelLoader {
public:
  explicit ModelLoader(OutputFiles &files)
      : files(files), context(makeRegistry()) {
    context.loadAllAvailableDialects();
    // Errors show the source line (or ONNX node); a dump of the op, or of a
    // whole function for contract errors, would only bury them.
    context.printOpOnDiagnostic(false);
  }
  OwningOpRef<ModuleOp> load() { return loadModel(context, sourceMgr, files); }
  /// Loads MODEL and prepares a generation session on it (the loader keeps
  /// the module alive).
  FailureOr<std::unique_ptr<Session>> loadSession() {
    module = load();
    if (!module)
      return failure();
    flightllm::interpreter::InterpreterOptions options;
    if (engine == Engine::Quantized)
      options.numerics = flightllm::interpreter::Numerics::Accelerator;
    options.dequantizeWeights = dequantizeWeights;
    return Session::create(*module, "forward", options);
  }

private:
  static DialectRegistry makeRegistry() {
    DialectRegistry registry;
    flightllm::registerAllDialects(registry);
    return registry;
  }
  OutputFiles &files;
  MLIRContext context;
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module;
  SourceMgrDiagnosticHandler sourceHandler{sourceMgr, &context};
  flightllm::NodeDiagnosticHandler nodeHandler{&context, modelFilename};
};

/// The id with the largest logit; the lowest id on ties.
int64_t argmax(llvm::ArrayRef<float> row) {
  int64_t best = 0;
  float bestValue = -std::numeric_limits<float>::infinity();
  for (auto [id, value] : llvm::enumerate(row))
    if (value > bestValue) {
      bestValue = value;
      best = int64_t(id);
    }
  return best;
}

struct Perplexity {
  double value = 0;
  int64_t tokens = 0, windows = 0;
};

/// exp(mean negative log-likelihood) of every byte given the ones before it
/// in its window; windows are as long as the model's context allows (256 at
/// most) and each starts from an empty cache.
FailureOr<Perplexity> perplexity(Session &session, llvm::StringRef text) {
  int64_t window = std::min<int64_t>(session.getMaxPositions().value_or(256), 256);
  double nll = 0;
  Perplexity result;
  int64_t vocab = session.getVocabSize();
  for (size_t start = 0; start + 1 < text.size(); start += window) {
    size_t count = std::min<size_t>(window, text.size() - start);
    if (count < 2)
      break;
    std::vector<int64_t> ids;
    for (unsigned char c : text.substr(start, count))
      ids.push_back(c);
    session.reset();
    FailureOr<HostTensor> logits = session.prefill(ids);
    if (failed(logits))
      return failure();
    llvm::ArrayRef<float> all = logits->getValues<float>();
    for (size_t i = 0; i + 1 < count; ++i) {
      llvm::ArrayRef<float> row = all.slice(i * vocab, vocab);
      float maxLogit = *std::max_element(row.begin(), row.end());
      double sum = 0;
      for (float v : row)
        sum += std::exp(double(v) - maxLogit);
      nll += std::log(sum) + maxLogit - row[ids[i + 1]];
      ++result.tokens;
    }
    ++result.windows;
  }
  if (!result.tokens) {
    fail("the perplexity text needs at least two bytes");
    return failure();
  }
  result.value = std::exp(nll / double(result.tokens));
  return result;
}

struct Generation {
  std::vector<int64_t> tokens;
  /// The last token is one of the model's end-of-sequence tokens.
  bool stoppedAtEOS = false;
  /// Logits rows: the last prompt position, then every decode step.
  std::vector<float> logits;
  int64_t steps = 0;
  double prefillMs = 0;
  double decodeMs = 0;
  int64_t decodeSteps = 0;
};

/// Prefills `prompt` and decodes greedily until `count` tokens exist or an
/// end-of-sequence token was generated.
FailureOr<Generation> generate(Session &session,
                               llvm::ArrayRef<int64_t> prompt, int count,
                               const flightllm::TextCodec &codec) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  Generation gen;
  int64_t vocab = session.getVocabSize();
  auto record = [&](llvm::ArrayRef<float> row) {
    gen.logits.insert(gen.logits.end(), row.begin(), row.end());
    ++gen.steps;
    if (int64_t(gen.tokens.size()) < count) {
      gen.tokens.push_back(argmax(row));
      gen.stoppedAtEOS = codec.isEndOfSequence(gen.tokens.back());
    }
  };

  Clock::time_point start = Clock::now();
  FailureOr<HostTensor> logits = session.prefill(prompt);
  if (failed(logits))
    return failure();
  gen.prefillMs = ms(Clock::now() - start);
  record(logits->getValues<float>().take_back(vocab));

  start = Clock::now();
  while (int64_t(gen.tokens.size()) < count && !gen.stoppedAtEOS) {
    FailureOr<HostTensor> next = session.decodeStep(gen.tokens.back());
    if (failed(next))
      return failure();
    record(next->getValues<float>());
    ++gen.decodeSteps;
  }
  gen.decodeMs = ms(Clock::now() - start);
  return gen;
}

void printReport(llvm::raw_ostream &os, const Generation &gen,
                 llvm::ArrayRef<int64_t> prompt,
                 const flightllm::TextCodec &codec, int64_t vocab) {
  double perToken = gen.decodeSteps ? gen.decodeMs / gen.decodeSteps : 0;
  double tokensPerS = gen.decodeMs > 0 ? gen.decodeSteps * 1000 / gen.decodeMs
                                       : 0;
  std::optional<std::string> decoded = codec.decode(gen.tokens, vocab);
  bool haveText = decoded.has_value();
  std::string text = decoded.value_or("");

  if (jsonOutput) {
    llvm::json::OStream json(os);
    json.object([&] {
      json.attribute("engine", engineName(engine));
      json.attributeArray("prompt_tokens", [&] {
        for (int64_t token : prompt)
          json.value(token);
      });
      json.attributeArray("generated_tokens", [&] {
        for (int64_t token : gen.tokens)
          json.value(token);
      });
      if (haveText)
        json.attribute("text", llvm::json::isUTF8(text)
                                   ? text
                                   : llvm::json::fixUTF8(text));
      if (!codec.endOfSequenceIds().empty())
        json.attribute("stopped_at_eos", gen.stoppedAtEOS);
      json.attribute("prefill_ms", gen.prefillMs);
      json.attribute("decode_ms_per_token", perToken);
      json.attribute("tokens_per_s", tokensPerS);
    });
    os << "\n";
    return;
  }

  os << "generated " << gen.tokens.size() << " tokens";
  if (gen.stoppedAtEOS)
    os << " (stopped at end-of-sequence token " << gen.tokens.back() << ")";
  os << ":";
  if (haveText) {
    os << "\n" << text << "\n";
  } else {
    for (int64_t token : gen.tokens)
      os << " " << token;
    os << "\n";
  }
  os << llvm::format("prefill: %zu tokens in %.3f ms\n", prompt.size(),
                     gen.prefillMs);
  os << llvm::format("decode: %lld steps, %.3f ms/token, %.1f tokens/s\n",
                     (long long)gen.decodeSteps, perToken, tokensPerS);
}

} // namespace

/// The command; its outputs go to `files`, which main() commits when it
/// returns 0.
static int run(OutputFiles &files) {
  // An export directory runs its chosen graph; the tokenizer and EOS ids come
  // from the directory (or the one around the model file, or the .flb).
  bool isBinary = llvm::sys::path::extension(modelFilename) == ".flb";
  // config.json's sliding window, checked against the raised program's.
  std::optional<int64_t> slidingWindow;
  std::string configPath;
  llvm::Expected<flightllm::TextCodec> codec = [&] {
    if (isBinary)
      return flightllm::TextCodec::fromBinary(modelFilename);
    llvm::Expected<flightllm::ExportDirectory> dir =
        llvm::sys::fs::is_directory(modelFilename)
            ? flightllm::openExportDirectory(modelFilename)
            : flightllm::exportDirectoryOfModel(modelFilename);
    if (!dir)
      return llvm::Expected<flightllm::TextCodec>(dir.takeError());
    modelFilename.setValue(dir->graphPath);
    if (dir->config) {
      slidingWindow = dir->config->slidingWindow;
      configPath = dir->dir + "/config.json";
    }
    return flightllm::TextCodec::fromDirectory(*dir);
  }();
  if (!codec)
    return fail(llvm::toString(codec.takeError()));
  Engine chosen = engine.getNumOccurrences() ? engine.getValue()
                                             : (isBinary ? Engine::Sim
                                                         : Engine::Reference);
  if (chosen == Engine::Sim && !isBinary)
    return fail("--engine=sim runs a compiled binary (.flb, from "
                "flightllm-compile --emit=bin); got '" +
                modelFilename + "'");
  if (chosen != Engine::Sim && isBinary)
    return fail("--engine=reference runs an .onnx or .mlir model; a .flb "
                "runs on --engine=sim");
  if (chosen != Engine::Sim &&
      (targetOption.getNumOccurrences() || timingOnly.getNumOccurrences() ||
       traceFile.getNumOccurrences()))
    return fail("--target, --timing-only and --trace apply to --engine=sim");
  if (isBinary && !caseDir.empty())
    return fail("--case runs on the reference engine (.onnx or .mlir models)");
  if (!perplexityFile.empty() && timingOnly)
    return fail("--perplexity needs the logits: it takes no --timing-only");

  // Outputs are written to temporary files, renamed into place only when
  // the run succeeded; none may name an input.
  for (auto [path, what] : {std::pair{&modelFilename, "the model"},
                            std::pair{&perplexityFile, "--perplexity"}})
    if (llvm::Error e = files.addInput(*path, what))
      return fail(llvm::toString(std::move(e)));
  if (!targetOption.empty() &&
      !llvm::is_contained(flightllm::target::presetNames(), targetOption))
    if (llvm::Error e = files.addInput(targetOption, "--target"))
      return fail(llvm::toString(std::move(e)));
  llvm::raw_pwrite_stream *logitsStream = nullptr, *traceStream = nullptr;
  for (auto [path, what, stream] :
       {std::tuple{&dumpLogits, "--dump-logits", &logitsStream},
        std::tuple{&traceFile, "--trace", &traceStream}}) {
    if (path->empty())
      continue;
    llvm::Expected<llvm::raw_pwrite_stream &> os = files.addOutput(*path, what);
    if (!os)
      return fail(llvm::toString(os.takeError()));
    *stream = &*os;
  }

  if (!perplexityFile.empty()) {
    if (tokensOption.getNumOccurrences() || promptOption.getNumOccurrences() ||
        maxNewTokens.getNumOccurrences() || !dumpLogits.empty() ||
        !caseDir.empty())
      return fail("--perplexity takes no --tokens, --prompt, --max-new-tokens, "
                  "--dump-logits or --case");
    auto text = llvm::MemoryBuffer::getFile(perplexityFile, /*IsText=*/false);
    if (!text)
      return fail("cannot read '" + perplexityFile +
                  "': " + text.getError().message());
    if (isBinary) {
      flightllm::SimRunConfig config;
      config.binaryPath = modelFilename;
      config.target = targetOption;
      config.json = jsonOutput;
      config.trace = traceStream;
      config.perplexityText = (*text)->getBuffer().str();
      return flightllm::runBinaryOnSimulator(config, llvm::outs());
    }
    ModelLoader loader(files);
    FailureOr<std::unique_ptr<Session>> session = loader.loadSession();
    if (failed(session))
      return 1;
    if ((*session)->getVocabSize() != 256)
      return fail("--perplexity reads bytes as tokens and needs a byte-level "
                  "model (vocabulary 256)");
    FailureOr<Perplexity> ppl =
        perplexity(**session, (*text)->getBuffer());
    if (failed(ppl))
      return 1;
    if (jsonOutput) {
      llvm::json::Object o{{"perplexity", ppl->value},
                           {"tokens", ppl->tokens},
                           {"windows", ppl->windows}};
      llvm::outs() << llvm::json::Value(std::move(o)) << "\n";
    } else {
      llvm::outs() << llvm::format(
          "perplexity %.4f over %lld predicted tokens (%lld windows)\n",
          ppl->value, (long long)ppl->tokens, (long long)ppl->windows);
    }
    return 0;
  }

  if (!caseDir.empty()) {
    if (tokensOption.getNumOccurrences() || promptOption.getNumOccurrences() ||
        maxNewTokens.getNumOccurrences() || !dumpLogits.empty())
      return fail("--case runs one forward call: it takes no --tokens, "
                  "--prompt, --max-new-tokens or --dump-logits");
    ModelLoader loader(files);
    OwningOpRef<ModuleOp> module = loader.load();
    if (!module)
      return 1;
    flightllm::interpreter::InterpreterOptions options;
    options.dequantizeWeights = dequantizeWeights;
    return failed(flightllm::checkCase(*module, caseDir, caseTolerance,
                                       llvm::outs(), options));
  }

  if (usersOption.getNumOccurrences()) {
    if (!isBinary)
      return fail("--users runs a compiled .flb on the simulator");
    if (usersOption == 0)
      return fail("--users must be at least 1");
    if (int(!promptFile.empty()) + int(promptLength > 0) +
            int(tokensOption.getNumOccurrences() > 0) +
            int(promptOption.getNumOccurrences() > 0) !=
        1)
      return fail("--users takes its prompts from exactly one of "
                  "--prompt-file, --prompt-length, --tokens and --prompt");
    if (maxNewTokens.getNumOccurrences() == 0 || maxNewTokens < 1)
      return fail("--users needs --max-new-tokens of at least 1");
    flightllm::SimRunConfig config;
    config.binaryPath = modelFilename;
    config.target = targetOption;
    config.users = usersOption;
    config.promptLength = promptLength;
    if (!promptFile.empty()) {
      auto text = llvm::MemoryBuffer::getFile(promptFile, /*IsText=*/true);
      if (!text)
        return fail("cannot read --prompt-file '" + promptFile +
                    "': " + text.getError().message());
      llvm::SmallVector<llvm::StringRef> lines;
      (*text)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
      for (llvm::StringRef line : lines)
        if (!line.trim().empty())
          config.promptLines.push_back(line.rtrim("\r").str());
      if (config.promptLines.empty())
        return fail("--prompt-file '" + promptFile + "' has no prompt");
    } else if (tokensOption.getNumOccurrences()) {
      llvm::SmallVector<llvm::StringRef> lists;
      llvm::StringRef(tokensOption).split(lists, ';');
      for (llvm::StringRef list : lists) {
        std::optional<std::vector<int64_t>> ids = parseTokenList(list.str());
        if (!ids || ids->empty())
          return fail("--tokens must be comma-separated integers (one list "
                      "per user separated by ';'), got '" +
                      tokensOption + "'");
        config.tokenLists.push_back(std::move(*ids));
      }
    } else if (promptOption.getNumOccurrences()) {
      config.promptLines.push_back(promptOption);
    }
    config.maxNewTokens = maxNewTokens;
    config.json = jsonOutput;
    config.timingOnly = timingOnly;
    config.trace = traceStream;
    config.dumpLogits = logitsStream;
    config.codec = &*codec;
    return flightllm::runBinaryOnSimulator(config, llvm::outs());
  }

  // Flags first, before any model is loaded.
  bool haveTokens = tokensOption.getNumOccurrences() > 0;
  bool havePrompt = promptOption.getNumOccurrences() > 0;
  if (haveTokens == havePrompt)
    return fail("give the prompt as exactly one of --tokens and --prompt");
  if (maxNewTokens.getNumOccurrences() == 0)
    return fail("--max-new-tokens is required");
  if (maxNewTokens < 0)
    return fail("--max-new-tokens must not be negative, got " +
                llvm::Twine(int(maxNewTokens)));
  std::vector<int64_t> prompt;
  if (haveTokens) {
    std::optional<std::vector<int64_t>> ids = parseTokenList(tokensOption);
    if (!ids)
      return fail("--tokens must be comma-separated integers, got '" +
                  tokensOption + "'");
    prompt = std::move(*ids);
    if (prompt.empty())
      return fail("the prompt is empty");
  } else if (promptOption.empty()) {
    return fail("the prompt is empty");
  }

  if (isBinary) {
    flightllm::SimRunConfig config;
    config.binaryPath = modelFilename;
    config.target = targetOption;
    if (haveTokens)
      config.tokens = prompt;
    else
      config.prompt = std::string(promptOption);
    config.maxNewTokens = maxNewTokens;
    config.json = jsonOutput;
    config.timingOnly = timingOnly;
    config.trace = traceStream;
    config.dumpLogits = logitsStream;
    config.codec = &*codec;
    return flightllm::runBinaryOnSimulator(config, llvm::outs());
  }

  ModelLoader loader(files);
  FailureOr<std::unique_ptr<Session>> session = loader.loadSession();
  if (failed(session))
    return 1;

  int64_t vocab = (*session)->getVocabSize();
  if (havePrompt) {
    llvm::Expected<std::vector<int64_t>> ids =
        codec->encodePrompt(promptOption, vocab);
    if (!ids)
      return fail(llvm::toString(ids.takeError()));
    prompt = std::move(*ids);
    if (prompt.empty())
      return fail("the prompt is empty");
  }
  for (int64_t token : prompt)
    if (token < 0 || token >= vocab)
      return fail("token " + llvm::Twine(token) +
                  " is outside the model's vocabulary [0, " +
                  llvm::Twine(vocab) + ")");
  // The last generated token is never run, hence the - 1.
  int64_t needed =
      int64_t(prompt.size()) + std::max<int64_t>(int64_t(maxNewTokens) - 1, 0);
  // A program with windowed attention computes the window itself; a graph
  // without one agrees with config.json's model only within the window.
  if (slidingWindow && needed > *slidingWindow &&
      !(*session)->hasWindowedAttention())
    return fail("context beyond the sliding window: " +
                llvm::Twine(prompt.size()) + " prompt tokens and " +
                llvm::Twine(int(maxNewTokens)) + " new ones need " +
                llvm::Twine(needed) + " positions, sliding_window of " +
                configPath + " is " + llvm::Twine(*slidingWindow) +
                " and the graph's attention has no window (the graph and the "
                "model agree only within the window)");
  if (std::optional<int64_t> limit = (*session)->getMaxPositions();
      limit && needed > *limit)
    return fail("context overflow: " + llvm::Twine(prompt.size()) +
                " prompt tokens and " + llvm::Twine(int(maxNewTokens)) +
                " new ones need " + llvm::Twine(needed) +
                " positions, the model has " + llvm::Twine(*limit) +
                " (llm.max_positions)");

  FailureOr<Generation> gen = generate(**session, prompt, maxNewTokens, *codec);
  if (failed(gen))
    return 1;
  printReport(llvm::outs(), *gen, prompt, *codec, vocab);
  if (logitsStream) {
    HostTensor logits = HostTensor::get<float>({gen->steps, vocab}, gen->logits);
    if (llvm::Error e = flightllm::reference::writeNpy(*logitsStream, logits))
      return fail(llvm::toString(std::move(e)));
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "FlightLLM " << FLIGHTLLM_VERSION << "\n";
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "FlightLLM runner: greedy generation with an llm program\n");
  flightllm::setProgressMode(quiet ? flightllm::ProgressMode::Never
                                   : progressMode.getValue());
  OutputFiles files;
  if (int status = run(files))
    return status;
  if (llvm::Error e = files.commit())
    return fail(llvm::toString(std::move(e)));
  return 0;
}
