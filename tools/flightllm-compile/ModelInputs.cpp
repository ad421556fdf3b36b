//===- ModelInputs.cpp - What flightllm-compile reads besides the graph --===//

#include "ModelInputs.h"

#include "flightllm/Binary/TokenizerSection.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace flightllm;
using llvm::StringRef;

llvm::Expected<ModelInputs> flightllm::resolveModelInputs(StringRef input) {
  ModelInputs inputs;
  if (input == "-") { // standard input: no directory to take side files from
    inputs.source.dir = ".";
    inputs.source.graphPath = "-";
    inputs.outputStem = "-";
    return inputs;
  }
  inputs.isDirectory = llvm::sys::fs::is_directory(input);
  llvm::Expected<ExportDirectory> dir =
      inputs.isDirectory ? openExportDirectory(input)
                         : exportDirectoryOfModel(input);
  if (!dir)
    return dir.takeError();
  inputs.source = std::move(*dir);
  if (inputs.isDirectory)
    inputs.outputStem =
        llvm::sys::path::filename(llvm::sys::path::remove_leading_dotslash(
                                      StringRef(input).rtrim('/')))
            .str();
  if (inputs.outputStem.empty() || inputs.outputStem == "." ||
      inputs.outputStem == "..")
    inputs.outputStem = llvm::sys::path::stem(inputs.source.graphPath).str();
  if (!inputs.source.tokenizerPath.empty()) {
    llvm::Expected<tokenizer::Tokenizer> t =
        tokenizer::Tokenizer::load(inputs.source.tokenizerPath);
    if (!t)
      return t.takeError();
    inputs.tokenizer = std::move(*t);
  }
  return inputs;
}

void flightllm::printModelInputs(const ModelInputs &inputs,
                                 llvm::raw_ostream &os) {
  const ExportDirectory &s = inputs.source;
  os << "input: " << s.graphPath;
  if (inputs.isDirectory)
    os << " from " << s.dir << ": " << s.graphChoice;
  os << "\n";
  if (const std::optional<ModelConfig> &c = s.config) {
    os << "config: model_type " << (c->modelType.empty() ? "?" : c->modelType);
    if (c->maxPositionEmbeddings)
      os << ", max_position_embeddings " << *c->maxPositionEmbeddings;
    if (c->slidingWindow)
      os << ", sliding_window " << *c->slidingWindow;
    if (c->ropeTheta)
      os << ", rope_theta " << llvm::format("%g", *c->ropeTheta);
    os << ", eos";
    for (int64_t id : c->eosTokenIds)
      os << " " << id;
    if (c->eosTokenIds.empty())
      os << " none";
    os << "\n";
  }
  if (inputs.tokenizer)
    os << "tokenizer: " << s.tokenizerPath << " ("
       << inputs.tokenizer->kindName() << ", " << inputs.tokenizer->vocabSize()
       << " tokens)\n";
}

llvm::Expected<std::vector<int64_t>>
flightllm::tokenizeCalibrationText(const ModelInputs &inputs, StringRef path) {
  auto text = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!text)
    return llvm::createStringError(text.getError(),
                                   "cannot read calibration text '%s': %s",
                                   path.str().c_str(),
                                   text.getError().message().c_str());
  llvm::Expected<std::vector<int32_t>> ids =
      inputs.tokenizer->encode((*text)->getBuffer(), /*addSpecialTokens=*/true);
  if (!ids)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "calibration text '%s': %s",
                                   path.str().c_str(),
                                   llvm::toString(ids.takeError()).c_str());
  return std::vector<int64_t>(ids->begin(), ids->end());
}

llvm::Error flightllm::boundContextByConfig(const ModelInputs &inputs,
                                            unsigned &maxContext) {
  const std::optional<ModelConfig> &c = inputs.source.config;
  if (!c)
    return llvm::Error::success();
  std::string configPath = inputs.source.dir + "/config.json";
  bool given = maxContext != 0;
  unsigned bound = 2048; // the lowering's default
  for (auto [limit, field] :
       {std::pair{c->maxPositionEmbeddings, "max_position_embeddings"},
        std::pair{c->slidingWindow, "sliding_window"}}) {
    if (!limit || *limit <= 0)
      continue;
    if (given && maxContext > *limit)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--max-context %u is beyond %s %lld of %s%s", maxContext, field,
          static_cast<long long>(*limit), configPath.c_str(),
          StringRef(field) == "sliding_window"
              ? " (the accelerator computes attention without a window, "
                "which is the same only within the window)"
              : "");
    bound = static_cast<unsigned>(std::min<int64_t>(bound, *limit));
  }
  if (!given && bound < 2048)
    maxContext = bound;
  return llvm::Error::success();
}

llvm::Expected<std::vector<uint8_t>>
flightllm::tokenizerSectionFor(const ModelInputs &inputs, uint32_t modelVocab) {
  binary::TokenizerSection section;
  if (const std::optional<ModelConfig> &c = inputs.source.config) {
    for (int64_t id : c->eosTokenIds)
      if (id < int64_t(modelVocab))
        section.eosIds.push_back(static_cast<uint32_t>(id));
      else
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "end-of-sequence token %lld (generation_config.json or "
            "config.json in %s) is outside the model's vocabulary of %u",
            static_cast<long long>(id), inputs.source.dir.c_str(), modelVocab);
    if (c->bosTokenId && *c->bosTokenId < int64_t(modelVocab))
      section.bosId = static_cast<uint32_t>(*c->bosTokenId);
  }
  if (inputs.tokenizer) {
    if (inputs.tokenizer->vocabSize() > modelVocab)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "%s has %zu tokens, more than the model's vocabulary of %u",
          inputs.source.tokenizerPath.c_str(), inputs.tokenizer->vocabSize(),
          modelVocab);
    auto json = llvm::MemoryBuffer::getFile(inputs.source.tokenizerPath);
    if (!json)
      return llvm::createStringError(json.getError(), "cannot read %s: %s",
                                     inputs.source.tokenizerPath.c_str(),
                                     json.getError().message().c_str());
    section.tokenizerJSON = (*json)->getBuffer().str();
  }
  if (section.eosIds.empty() && section.tokenizerJSON.empty())
    return std::vector<uint8_t>();
  return binary::encodeTokenizerSection(section);
}
