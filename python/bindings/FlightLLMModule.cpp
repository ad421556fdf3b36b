//===- FlightLLMModule.cpp - flightllm._flightllm, the Python extension ---===//
//
// The native half of the `flightllm` package (python/flightllm): thin
// wrappers over the libraries the tools use. The package's Python half
// (keywords, the Binary and Session classes, errors) is the API; this module
// is not meant to be used directly.
//
//   compile_invocation(args)      flightllm-compile in process (Driver)
//   compile_options()             its option table
//   binary_buckets(flb)           bucket table and per-stream instruction counts
//   disassemble(flb, stream)      a stream's text, as flightllm-objdump prints it
//   SimSession                    a .flb on the simulator (Driver/SimSession)
//   TextCodec                     prompts to tokens and back
//   Module, import_onnx, parse_module, run_pipeline, InterpreterSession
//                                 the IR stages and the host engines
//
// Long calls release the GIL; on_token callbacks take it back.
//===----------------------------------------------------------------------===//

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/Reader.h"
#include "flightllm/Conversion/ONNXToLLM/Passes.h"
#include "flightllm/Driver/Compile.h"
#include "flightllm/Driver/SimSession.h"
#include "flightllm/Driver/TextCodec.h"
#include "flightllm/ISA/Disassembler.h"
#include "flightllm/Import/ONNXImporter.h"
#include "flightllm/InitAll.h"
#include "flightllm/Interpreter/Session.h"
#include "flightllm/Support/OutputFiles.h"
#include "flightllm/Support/Progress.h"
#include "flightllm/Target/TargetDescription.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>

namespace py = pybind11;
using namespace flightllm;

namespace {

/// Raised in Python as flightllm.FlightLLMError(message, location).
struct NativeError {
  std::string message, location;
};

std::vector<uint8_t> toBytes(const py::bytes &data) {
  std::string_view view = data;
  return std::vector<uint8_t>(view.begin(), view.end());
}

/// Opens `flb` for reading; raises on a malformed binary.
binary::BinaryView openView(const std::string &flb) {
  binary::BinaryView view;
  binary::Error err;
  if (view.open(reinterpret_cast<const uint8_t *>(flb.data()), flb.size(),
                err) != binary::Status::Ok)
    throw NativeError{std::string("not a valid .flb: ") + err.message, ""};
  return view;
}

py::list binaryBuckets(const py::bytes &data) {
  std::string flb = data;
  binary::BinaryView view = openView(flb);
  // Streams are shared by buckets; decode each once.
  std::map<uint32_t, py::dict> streams;
  py::list buckets;
  for (uint32_t i = 0; i < view.bucketCount(); ++i) {
    binary::BucketEntry b;
    if (!view.bucket(i, b))
      throw NativeError{"bucket " + std::to_string(i) + " is unreadable", ""};
    auto it = streams.find(b.streamId);
    if (it == streams.end()) {
      binary::StreamRef ref;
      if (!view.stream(b.streamId, ref))
        throw NativeError{"stream " + std::to_string(b.streamId) +
                              " is unreadable",
                          ""};
      std::vector<uint32_t> words(ref.wordCount);
      for (uint64_t w = 0; w < ref.wordCount; ++w)
        words[w] = ref.word(w);
      llvm::SmallVector<isa::Instruction> insts;
      if (llvm::Error e = isa::decodeStream(words, insts))
        throw NativeError{llvm::toString(std::move(e)), ""};
      py::dict perMnemonic;
      for (const isa::Instruction &inst : insts) {
        py::str name(inst.info().mnemonic);
        perMnemonic[name] =
            (perMnemonic.contains(name) ? perMnemonic[name].cast<int64_t>()
                                        : 0) +
            1;
      }
      py::dict stream;
      stream["words"] = ref.wordCount;
      stream["bytes"] = ref.wordCount * 4;
      stream["instructions"] = insts.size();
      stream["by_mnemonic"] = perMnemonic;
      it = streams.emplace(b.streamId, stream).first;
    }
    py::dict bucket;
    const char *stage = binary::stageName(b.stage);
    bucket["stage"] = stage ? std::string(stage) : std::to_string(b.stage);
    bucket["min_length"] = b.minLength;
    bucket["max_length"] = b.maxLength;
    bucket["stream"] = b.streamId;
    bucket["repeat"] = b.repeatCount;
    for (auto item : it->second)
      bucket[item.first] = item.second;
    buckets.append(bucket);
  }
  return buckets;
}

std::string disassembleStream(const py::bytes &data, uint32_t streamId) {
  std::string flb = data;
  binary::BinaryView view = openView(flb);
  binary::StreamRef ref;
  if (!view.stream(streamId, ref))
    throw NativeError{"the binary has no stream " + std::to_string(streamId),
                      ""};
  std::vector<uint32_t> words(ref.wordCount);
  for (uint64_t w = 0; w < ref.wordCount; ++w)
    words[w] = ref.word(w);
  std::string text;
  llvm::raw_string_ostream os(text);
  if (llvm::Error e = isa::disassemble(words, os))
    throw NativeError{llvm::toString(std::move(e)), ""};
  return text;
}

//===----------------------------------------------------------------------===//
// IR stages
//===----------------------------------------------------------------------===//

/// One context for every module the Python side holds (dialects and passes
/// registered once).
std::shared_ptr<mlir::MLIRContext> sharedContext() {
  static std::weak_ptr<mlir::MLIRContext> shared;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto context = shared.lock())
    return context;
  mlir::DialectRegistry registry;
  flightllm::registerAllDialects(registry);
  auto context = std::make_shared<mlir::MLIRContext>(registry);
  context->loadAllAvailableDialects();
  context->printOpOnDiagnostic(false);
  shared = context;
  return context;
}

/// Collects the diagnostics of one call; throws them as a NativeError.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext *context)
      : handler(context, [this](mlir::Diagnostic &diag) {
          std::string loc;
          llvm::raw_string_ostream los(loc);
          diag.getLocation().print(los);
          if (diag.getSeverity() == mlir::DiagnosticSeverity::Error &&
              firstLocation.empty())
            firstLocation = loc;
          text += loc + ": " + diag.str() + "\n";
          for (const mlir::Diagnostic &note : diag.getNotes())
            text += "  note: " + note.str() + "\n";
          return mlir::success();
        }) {}
  [[noreturn]] void raise(const std::string &what) {
    throw NativeError{what + (text.empty() ? "" : ":\n" + text), firstLocation};
  }

private:
  std::string text, firstLocation;
  mlir::ScopedDiagnosticHandler handler;
};

struct Module {
  std::shared_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  std::string str(bool elideWeights) const {
    std::string text;
    llvm::raw_string_ostream os(text);
    mlir::OpPrintingFlags flags;
    if (elideWeights)
      flags.elideLargeResourceString(64);
    mlir::ModuleOp op = module.get();
    op.print(os, flags);
    return text;
  }
};

std::unique_ptr<Module> importOnnx(const std::string &path) {
  auto m = std::make_unique<Module>();
  m->context = sharedContext();
  DiagnosticCollector diags(m->context.get());
  {
    py::gil_scoped_release release;
    m->module = importONNXFile(path, m->context.get());
  }
  if (!m->module)
    diags.raise("cannot import '" + path + "'");
  return m;
}

std::unique_ptr<Module> parseModule(const std::string &text) {
  auto m = std::make_unique<Module>();
  m->context = sharedContext();
  DiagnosticCollector diags(m->context.get());
  m->module = mlir::parseSourceString<mlir::ModuleOp>(
      text, mlir::ParserConfig(m->context.get()));
  if (!m->module)
    diags.raise("cannot parse the module");
  return m;
}

void runPipeline(Module &m, const std::string &pipeline) {
  DiagnosticCollector diags(m.context.get());
  // "builtin.module(a,b)" as flightllm-opt --pass-pipeline takes it, or
  // just "a,b" (run on the module).
  std::string text = llvm::StringRef(pipeline).trim().starts_with("builtin.module(")
                         ? pipeline
                         : "builtin.module(" + pipeline + ")";
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  mlir::FailureOr<mlir::OpPassManager> parsed =
      mlir::parsePassPipeline(text, errorStream);
  if (mlir::failed(parsed))
    throw NativeError{"invalid pass pipeline '" + pipeline + "': " + error, ""};
  mlir::PassManager pm(m.context.get());
  static_cast<mlir::OpPassManager &>(pm) = *parsed;
  mlir::LogicalResult result = mlir::failure();
  {
    py::gil_scoped_release release;
    result = pm.run(*m.module);
  }
  if (mlir::failed(result))
    diags.raise("the pipeline '" + pipeline + "' failed");
}

void raiseToLLM(Module &m, bool verify) {
  DiagnosticCollector diags(m.context.get());
  mlir::PassManager pm(m.context.get());
  ONNXToLLMOptions options;
  options.verifyRaising = verify;
  buildONNXToLLMPipeline(pm, options);
  mlir::LogicalResult result = mlir::failure();
  {
    py::gil_scoped_release release;
    result = pm.run(*m.module);
  }
  if (mlir::failed(result))
    diags.raise("raising to the llm dialect failed");
}

/// The fp32 or accelerator-numerics interpreter on an llm program.
class InterpreterSession {
public:
  InterpreterSession(Module &m, bool acceleratorNumerics) : module(&m) {
    DiagnosticCollector diags(m.context.get());
    interpreter::InterpreterOptions options;
    if (acceleratorNumerics)
      options.numerics = interpreter::Numerics::Accelerator;
    auto created = interpreter::Session::create(*m.module, "forward", options);
    if (mlir::failed(created))
      diags.raise("the module cannot run on the interpreter");
    session = std::move(*created);
  }
  int64_t vocab() const { return session->getVocabSize(); }
  std::optional<int64_t> maxPositions() const {
    return session->getMaxPositions();
  }
  void reset() { session->reset(); }
  /// The logits of the last prompt position.
  py::array_t<float> prefill(const std::vector<int64_t> &tokens) {
    return step([&] { return session->prefill(tokens); }, true);
  }
  py::array_t<float> decodeStep(int64_t token) {
    return step([&] { return session->decodeStep(token); }, false);
  }

private:
  template <typename Fn> py::array_t<float> step(Fn fn, bool lastRow) {
    DiagnosticCollector diags(module->context.get());
    mlir::FailureOr<reference::HostTensor> logits = mlir::failure();
    {
      py::gil_scoped_release release;
      logits = fn();
    }
    if (mlir::failed(logits))
      diags.raise("the interpreter failed");
    llvm::ArrayRef<float> values = logits->getValues<float>();
    if (lastRow)
      values = values.take_back(session->getVocabSize());
    py::array_t<float> out(values.size());
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
  }
  Module *module;
  std::unique_ptr<interpreter::Session> session;
};

//===----------------------------------------------------------------------===//
// The simulator
//===----------------------------------------------------------------------===//

class PySimSession {
public:
  PySimSession(const py::bytes &flb, const std::string &name,
               const std::string &target, bool timingOnly,
               const std::string &tracePath)
      : bytes(toBytes(flb)) {
    sim::Options options;
    options.functional = !timingOnly;
    if (!tracePath.empty()) {
      traceFiles = std::make_unique<OutputFiles>();
      llvm::Expected<llvm::raw_pwrite_stream &> os =
          traceFiles->addOutput(tracePath, "trace");
      if (!os)
        throw NativeError{llvm::toString(os.takeError()), ""};
      options.trace = &*os;
    }
    auto opened = SimSession::open(bytes, name, target, options);
    if (!opened)
      throw NativeError{llvm::toString(opened.takeError()), ""};
    session = std::move(*opened);
    auto c = TextCodec::fromBinaryBytes(bytes, name);
    if (!c)
      throw NativeError{llvm::toString(c.takeError()), ""};
    codec = std::move(*c);
  }

  py::dict info() const {
    const flight_model_info &i = session->info();
    py::dict d;
    d["vocab_size"] = i.vocab_size;
    d["max_context"] = i.max_context;
    d["batch"] = session->decodeBatch();
    d["kv_slots"] = std::max<uint32_t>(i.kv_slots, 1);
    d["target"] = session->target().name;
    d["clock_mhz"] = session->target().clockMHz;
    d["has_tokenizer"] = codec.hasTokenizer();
    d["eos_token_ids"] = std::vector<int64_t>(codec.endOfSequenceIds().begin(),
                                              codec.endOfSequenceIds().end());
    return d;
  }

  std::vector<int64_t> encode(const std::string &text) const {
    auto ids = codec.encodePrompt(text, session->info().vocab_size);
    if (!ids)
      throw NativeError{llvm::toString(ids.takeError()), ""};
    return *ids;
  }

  std::optional<py::bytes> decode(const std::vector<int64_t> &ids) const {
    std::optional<std::string> text =
        codec.decode(ids, session->info().vocab_size);
    if (!text)
      return std::nullopt;
    return py::bytes(*text);
  }

  py::dict generate(const std::vector<int64_t> &prompt, int maxNewTokens,
                    std::optional<py::function> onToken) {
    std::optional<py::error_already_set> callbackError;
    TokenCallback callback = nullptr;
    if (onToken)
      callback = [&](int64_t index, int64_t id) {
        py::gil_scoped_acquire acquire;
        try {
          py::object keep = (*onToken)(index, id);
          return keep.is_none() || keep.cast<bool>();
        } catch (py::error_already_set &e) {
          callbackError = std::move(e);
          return false;
        }
      };
    llvm::Expected<SimGeneration> gen = [&] {
      py::gil_scoped_release release;
      return session->generate(prompt, maxNewTokens, codec,
                               std::move(callback));
    }();
    if (callbackError)
      throw std::move(*callbackError);
    if (!gen)
      throw NativeError{llvm::toString(gen.takeError()), ""};
    // The trace holds the first generation; the simulator closed it.
    if (traceFiles) {
      llvm::Error e = traceFiles->commit();
      traceFiles.reset();
      if (e)
        throw NativeError{llvm::toString(std::move(e)), ""};
    }
    std::string metrics;
    {
      llvm::raw_string_ostream os(metrics);
      llvm::json::OStream json(os);
      json.object([&] { session->writeMetrics(*gen, json); });
    }
    int64_t vocab = session->info().vocab_size;
    py::array_t<float> logits({gen->steps, vocab});
    std::copy(gen->logits.begin(), gen->logits.end(), logits.mutable_data());
    py::dict out;
    out["tokens"] = gen->tokens;
    out["logits"] = logits;
    out["stopped_at_eos"] = gen->stoppedAtEOS;
    out["metrics_json"] = metrics;
    return out;
  }

private:
  std::vector<uint8_t> bytes;
  std::unique_ptr<OutputFiles> traceFiles;
  std::unique_ptr<SimSession> session;
  TextCodec codec;
};

/// A model's tokenizer and EOS ids for the host engines, found the way
/// flightllm-run finds them: the .flb's Tokenizer section, or the export
/// directory of (or around) a model file.
struct PyTextCodec {
  static PyTextCodec fromBinary(const py::bytes &data, const std::string &name) {
    std::string raw = data;
    llvm::ArrayRef<uint8_t> bytes(reinterpret_cast<const uint8_t *>(raw.data()),
                                  raw.size());
    auto c = TextCodec::fromBinaryBytes(bytes, name);
    if (!c)
      throw NativeError{llvm::toString(c.takeError()), ""};
    return PyTextCodec{std::move(*c)};
  }

  static PyTextCodec fromModel(const std::string &path) {
    llvm::Expected<ExportDirectory> dir =
        llvm::sys::fs::is_directory(path) ? openExportDirectory(path)
                                          : exportDirectoryOfModel(path);
    if (!dir)
      throw NativeError{llvm::toString(dir.takeError()), ""};
    auto c = TextCodec::fromDirectory(*dir);
    if (!c)
      throw NativeError{llvm::toString(c.takeError()), ""};
    return PyTextCodec{std::move(*c)};
  }

  std::vector<int64_t> encode(const std::string &text, int64_t vocab) const {
    auto ids = codec.encodePrompt(text, vocab);
    if (!ids)
      throw NativeError{llvm::toString(ids.takeError()), ""};
    return *ids;
  }

  std::optional<py::bytes> decode(const std::vector<int64_t> &ids,
                                  int64_t vocab) const {
    std::optional<std::string> text = codec.decode(ids, vocab);
    if (!text)
      return std::nullopt;
    return py::bytes(*text);
  }

  std::vector<int64_t> eosIds() const {
    return {codec.endOfSequenceIds().begin(), codec.endOfSequenceIds().end()};
  }

  TextCodec codec;
};

} // namespace

PYBIND11_MODULE(_flightllm, m) {
  m.doc() = "FlightLLM native extension (use the flightllm package)";
  // NativeError becomes the package's flightllm.FlightLLMError(message,
  // location); the package is imported by then (it imports this module).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const NativeError &e) {
      py::object cls = py::module_::import("flightllm").attr("FlightLLMError");
      py::object location =
          e.location.empty() ? py::object(py::none()) : py::str(e.location);
      py::object error = cls(e.message, location);
      PyErr_SetObject(cls.ptr(), error.ptr());
    }
  });
  // The passes flightllm-opt knows, for run_pipeline.
  flightllm::registerAllPasses();

  m.def("compile_options", [] {
    py::list out;
    for (const driver::OptionInfo &o : driver::compileOptions())
      out.append(py::make_tuple(o.name, o.help, o.valueKind));
    return out;
  });
  m.def("compile_invocation", [](const std::vector<std::string> &args) {
    driver::CompileInvocation result;
    {
      py::gil_scoped_release release;
      result = driver::compileInProcess(args);
    }
    py::dict d;
    d["status"] = result.status;
    d["diagnostics"] = result.diagnostics;
    d["report_text"] = result.reportText;
    if (result.firstError) {
      d["error_message"] = result.firstError->message;
      d["error_location"] = result.firstError->location;
    }
    return d;
  });
  m.def("set_progress", [](const std::string &mode) {
    if (mode == "auto")
      setProgressMode(ProgressMode::Auto);
    else if (mode == "always")
      setProgressMode(ProgressMode::Always);
    else if (mode == "never")
      setProgressMode(ProgressMode::Never);
    else
      throw py::value_error("progress must be auto, always or never");
  });
  m.def("write_file", [](const std::string &path, const py::bytes &data,
                         const std::string &what) {
    std::string_view bytes = data;
    OutputFiles files;
    llvm::Expected<llvm::raw_pwrite_stream &> os = files.addOutput(path, what);
    if (!os)
      throw NativeError{llvm::toString(os.takeError()), ""};
    os->write(bytes.data(), bytes.size());
    if (llvm::Error e = files.commit())
      throw NativeError{llvm::toString(std::move(e)), ""};
  });
  m.def("target_info", [](const std::string &name) {
    llvm::Expected<target::TargetDescription> t = target::loadTarget(name);
    if (!t)
      throw NativeError{llvm::toString(t.takeError()), ""};
    py::dict d;
    d["name"] = t->name;
    d["clock_mhz"] = t->clockMHz;
    d["hbm_peak_gb_per_s"] = t->hbmPeakGBPerS();
    d["hbm_channels"] = t->hbmChannels;
    d["mm_macs_per_cycle"] = t->mmMacsPerCycle();
    d["mv_macs_per_cycle"] = t->mvMacsPerCycle();
    return d;
  });
  m.def("binary_buckets", &binaryBuckets);
  m.def("disassemble", &disassembleStream);

  py::class_<Module>(m, "Module")
      .def("__str__", [](const Module &mod) { return mod.str(false); })
      .def("to_string", &Module::str, py::arg("elide_weights") = false);
  m.def("import_onnx", &importOnnx);
  m.def("parse_module", &parseModule);
  m.def("run_pipeline", &runPipeline);
  m.def("raise_to_llm", &raiseToLLM);

  py::class_<InterpreterSession>(m, "InterpreterSession")
      .def(py::init<Module &, bool>(), py::keep_alive<1, 2>())
      .def_property_readonly("vocab_size", &InterpreterSession::vocab)
      .def_property_readonly("max_positions", &InterpreterSession::maxPositions)
      .def("reset", &InterpreterSession::reset)
      .def("prefill", &InterpreterSession::prefill)
      .def("decode_step", &InterpreterSession::decodeStep);

  py::class_<PySimSession>(m, "SimSession")
      .def(py::init<const py::bytes &, const std::string &,
                    const std::string &, bool, const std::string &>())
      .def("info", &PySimSession::info)
      .def("encode", &PySimSession::encode)
      .def("decode", &PySimSession::decode)
      .def("generate", &PySimSession::generate);

  py::class_<PyTextCodec>(m, "TextCodec")
      .def_static("from_binary", &PyTextCodec::fromBinary)
      .def_static("from_model", &PyTextCodec::fromModel)
      .def("encode", &PyTextCodec::encode)
      .def("decode", &PyTextCodec::decode)
      .def_property_readonly("eos_ids", &PyTextCodec::eosIds)
      .def_property_readonly("has_tokenizer", [](const PyTextCodec &c) {
        return c.codec.hasTokenizer();
      });
}
