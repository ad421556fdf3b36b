//===- ExportDirectory.cpp - A Hugging Face / optimum export as a unit ----===//

#include "flightllm/Import/ExportDirectory.h"
#include "flightllm/Support/BoundedJSON.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace flightllm;
using llvm::StringRef;
namespace json = llvm::json;

namespace {

llvm::Error fieldError(StringRef file, StringRef field, StringRef message) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      llvm::formatv("{0}: {1}: {2}", file, field, message).str());
}

llvm::Expected<json::Value> parseFile(StringRef text, StringRef name) {
  llvm::Expected<json::Value> value = parseBoundedJSON(text);
  if (!value)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "%s: not valid JSON: %s",
        name.str().c_str(), llvm::toString(value.takeError()).c_str());
  if (!value->getAsObject())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: expected a JSON object",
                                   name.str().c_str());
  return value;
}

bool isNull(const json::Value *v) {
  return !v || v->kind() == json::Value::Null;
}

/// A non-negative integer field; absent or null gives none.
llvm::Error readCount(const json::Object &o, StringRef key, StringRef file,
                      std::optional<int64_t> &out) {
  const json::Value *v = o.get(key);
  if (isNull(v))
    return llvm::Error::success();
  std::optional<int64_t> n = v->getAsInteger();
  if (!n || *n < 0)
    return fieldError(file, key, "expected a non-negative integer");
  out = *n;
  return llvm::Error::success();
}

/// eos_token_id: a token id or a list of them.
llvm::Error readTokenList(const json::Object &o, StringRef key, StringRef file,
                          std::vector<int64_t> &out) {
  const json::Value *v = o.get(key);
  if (isNull(v))
    return llvm::Error::success();
  std::vector<int64_t> ids;
  if (const json::Array *list = v->getAsArray()) {
    for (size_t i = 0; i < list->size(); ++i) {
      std::optional<int64_t> id = (*list)[i].getAsInteger();
      if (!id || *id < 0)
        return fieldError(file, (key + "[" + llvm::Twine(i) + "]").str(),
                          "expected a token id");
      ids.push_back(*id);
    }
  } else if (std::optional<int64_t> id = v->getAsInteger(); id && *id >= 0) {
    ids.push_back(*id);
  } else {
    return fieldError(file, key, "expected a token id or a list of them");
  }
  out = std::move(ids);
  return llvm::Error::success();
}

bool exists(const llvm::Twine &path) {
  return llvm::sys::fs::exists(path) && !llvm::sys::fs::is_directory(path);
}

std::string joinPath(StringRef dir, StringRef name) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, name);
  return std::string(path);
}

/// config.json, generation_config.json and tokenizer.json of `dir`.
llvm::Error readSideFiles(ExportDirectory &out) {
  std::string configPath = joinPath(out.dir, "config.json");
  std::string generationPath = joinPath(out.dir, "generation_config.json");
  std::string tokenizerPath = joinPath(out.dir, "tokenizer.json");
  if (exists(tokenizerPath))
    out.tokenizerPath = tokenizerPath;
  if (!exists(configPath)) {
    if (exists(generationPath))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s: generation_config.json without config.json next to it",
          out.dir.c_str());
    return llvm::Error::success();
  }
  auto config = llvm::MemoryBuffer::getFile(configPath);
  if (!config)
    return llvm::createStringError(config.getError(), "%s: cannot read: %s",
                                   configPath.c_str(),
                                   config.getError().message().c_str());
  std::unique_ptr<llvm::MemoryBuffer> generation;
  if (exists(generationPath)) {
    auto buffer = llvm::MemoryBuffer::getFile(generationPath);
    if (!buffer)
      return llvm::createStringError(buffer.getError(), "%s: cannot read: %s",
                                     generationPath.c_str(),
                                     buffer.getError().message().c_str());
    generation = std::move(*buffer);
  }
  std::optional<StringRef> generationText;
  if (generation)
    generationText = generation->getBuffer();
  llvm::Expected<ModelConfig> parsed =
      parseModelConfig((*config)->getBuffer(), configPath, generationText,
                       generationPath);
  if (!parsed)
    return parsed.takeError();
  out.config = std::move(*parsed);
  return llvm::Error::success();
}

} // namespace

llvm::Expected<ModelConfig> flightllm::parseModelConfig(
    StringRef configJSON, StringRef configName,
    std::optional<StringRef> generationJSON, StringRef generationName) {
  llvm::Expected<json::Value> doc = parseFile(configJSON, configName);
  if (!doc)
    return doc.takeError();
  const json::Object &c = *doc->getAsObject();
  ModelConfig config;
  if (const json::Value *type = c.get("model_type"); !isNull(type)) {
    if (!type->getAsString())
      return fieldError(configName, "model_type", "expected a string");
    config.modelType = type->getAsString()->str();
  }
  if (llvm::Error e = readCount(c, "max_position_embeddings", configName,
                                config.maxPositionEmbeddings))
    return e;
  if (llvm::Error e = readCount(c, "vocab_size", configName, config.vocabSize))
    return e;
  if (llvm::Error e =
          readCount(c, "sliding_window", configName, config.slidingWindow))
    return e;
  if (const json::Value *use = c.get("use_sliding_window"); !isNull(use)) {
    if (!use->getAsBoolean())
      return fieldError(configName, "use_sliding_window",
                        "expected true or false");
    if (!*use->getAsBoolean())
      config.slidingWindow.reset();
  }
  if (const json::Value *theta = c.get("rope_theta"); !isNull(theta)) {
    std::optional<double> value = theta->getAsNumber();
    if (!value || !(*value > 0))
      return fieldError(configName, "rope_theta", "expected a positive number");
    config.ropeTheta = *value;
  }
  if (llvm::Error e =
          readTokenList(c, "eos_token_id", configName, config.eosTokenIds))
    return e;
  if (llvm::Error e = readCount(c, "bos_token_id", configName, config.bosTokenId))
    return e;
  if (generationJSON) {
    llvm::Expected<json::Value> gen = parseFile(*generationJSON, generationName);
    if (!gen)
      return gen.takeError();
    const json::Object &g = *gen->getAsObject();
    if (llvm::Error e = readTokenList(g, "eos_token_id", generationName,
                                      config.eosTokenIds))
      return e;
    if (llvm::Error e =
            readCount(g, "bos_token_id", generationName, config.bosTokenId))
      return e;
  }
  return config;
}

llvm::Expected<ExportDirectory> flightllm::openExportDirectory(StringRef dir) {
  ExportDirectory out;
  out.dir = dir.str();
  static const struct {
    const char *file, *why;
  } kGraphs[] = {
      {"decoder_model.onnx", "the prefill graph, preferred"},
      {"decoder_model_merged.onnx", "the merged decoder; no decoder_model.onnx"},
      {"decoder_with_past_model.onnx",
       "the with-past graph; no decoder_model.onnx or "
       "decoder_model_merged.onnx"},
      {"model.onnx", "the only graph"},
  };
  for (const auto &graph : kGraphs) {
    std::string path = joinPath(dir, graph.file);
    if (exists(path)) {
      out.graphPath = path;
      out.graphChoice = (llvm::Twine(graph.file) + " (" + graph.why + ")").str();
      break;
    }
  }
  if (out.graphPath.empty())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s: not an optimum export directory: it has no decoder_model.onnx, "
        "decoder_model_merged.onnx, decoder_with_past_model.onnx or "
        "model.onnx",
        dir.str().c_str());
  if (llvm::Error e = readSideFiles(out))
    return e;
  return out;
}

llvm::Expected<ExportDirectory>
flightllm::exportDirectoryOfModel(StringRef modelPath) {
  ExportDirectory out;
  llvm::SmallString<256> dir(modelPath);
  llvm::sys::path::remove_filename(dir);
  out.dir = dir.empty() ? "." : std::string(dir);
  out.graphPath = modelPath.str();
  out.graphChoice = llvm::sys::path::filename(modelPath).str();
  if (llvm::Error e = readSideFiles(out))
    return e;
  return out;
}
