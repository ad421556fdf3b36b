//===- Session.cpp - Token generation on the reference interpreter --------===//

#include "flightllm/Interpreter/Session.h"
#include "flightllm/Dialect/LLM/LLMDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

#include <string>

using namespace mlir;
using namespace flightllm;
using namespace flightllm::interpreter;
using reference::ElementKind;

namespace {

/// The `llm.name` the contract gives to argument or result `index` of a
/// program with `numLayers` layers.
std::string contractName(bool isResult, unsigned index) {
  if (index == 0)
    return isResult ? "logits" : "input_ids";
  unsigned layer = (index - 1) / 2;
  std::string kv = index % 2 ? "key" : "value";
  return (isResult ? "present." : "past_key_values.") + std::to_string(layer) +
         "." + kv;
}

bool isDynamicOrOne(int64_t dim) {
  return ShapedType::isDynamic(dim) || dim == 1;
}

/// Reads an optional integer module attribute.
std::optional<int64_t> getIntAttr(ModuleOp module, StringRef name) {
  if (auto attr = module->getAttrOfType<IntegerAttr>(name))
    return attr.getInt();
  return std::nullopt;
}

} // namespace

LogicalResult Session::checkContract(ModuleOp module) {
  FunctionType type = func.getFunctionType();
  auto fail = [&]() {
    InFlightDiagnostic diag = func.emitError();
    diag << "@" << func.getSymName()
         << " does not follow the llm program contract: ";
    return diag;
  };

  unsigned numInputs = type.getNumInputs();
  if (numInputs % 2 != 1)
    return fail() << "expected input_ids and a past key and value per layer, "
                     "got "
                  << numInputs << " arguments";
  numLayers = (numInputs - 1) / 2;
  if (type.getNumResults() != numInputs)
    return fail() << "expected logits and a present key and value per layer ("
                  << numInputs << " results), got " << type.getNumResults();
  if (std::optional<int64_t> layers = getIntAttr(module, "llm.num_layers");
      layers && *layers != numLayers)
    return fail() << "llm.num_layers is " << *layers << " but the signature has "
                  << numLayers << " layers";

  // Names, when the program carries them, must be in contract order.
  for (unsigned i = 0; i < numInputs; ++i) {
    for (bool isResult : {false, true}) {
      auto name = isResult ? func.getResultAttrOfType<StringAttr>(i, "llm.name")
                           : func.getArgAttrOfType<StringAttr>(i, "llm.name");
      std::string expected = contractName(isResult, i);
      if (name && name.getValue() != expected)
        return fail() << (isResult ? "result #" : "argument #") << i
                      << " is named '" << name.getValue() << "', expected '"
                      << expected << "'";
    }
  }

  auto ids = dyn_cast<RankedTensorType>(type.getInput(0));
  if (!ids || ids.getRank() != 2 || !isa<IntegerType>(ids.getElementType()) ||
      !isDynamicOrOne(ids.getDimSize(0)) || !ids.isDynamicDim(1))
    return fail() << "input_ids must be an integer tensor [B, S] with dynamic "
                     "S (B dynamic or 1), got "
                  << type.getInput(0);
  idsKind = *reference::getElementKind(ids.getElementType());

  auto logits = dyn_cast<RankedTensorType>(type.getResult(0));
  if (!logits || logits.getRank() != 3 ||
      !isa<FloatType>(logits.getElementType()) ||
      !isDynamicOrOne(logits.getDimSize(0)) || !logits.isDynamicDim(1) ||
      logits.isDynamicDim(2))
    return fail() << "logits must be a float tensor [B, S, V] with dynamic S "
                     "and static V, got "
                  << type.getResult(0);
  vocabSize = logits.getDimSize(2);
  if (std::optional<int64_t> vocab = getIntAttr(module, "llm.vocab_size");
      vocab && *vocab != vocabSize)
    return fail() << "llm.vocab_size is " << *vocab << " but logits are "
                  << type.getResult(0);

  for (unsigned i = 1; i < numInputs; ++i) {
    auto past = dyn_cast<RankedTensorType>(type.getInput(i));
    if (!past || past.getRank() != 4 ||
        !isa<FloatType>(past.getElementType()) ||
        !isDynamicOrOne(past.getDimSize(0)) || past.isDynamicDim(1) ||
        !past.isDynamicDim(2) || past.isDynamicDim(3))
      return fail() << "argument #" << i << " (" << contractName(false, i)
                    << ") must be a float tensor [B, Hkv, P, Dh] with dynamic "
                       "P and static Hkv and Dh, got "
                    << type.getInput(i);
    if (type.getResult(i) != past)
      return fail() << "result #" << i << " (" << contractName(true, i)
                    << ") must have the type of its past, " << past
                    << ", got " << type.getResult(i);
  }

  maxPositions = getIntAttr(module, "llm.max_positions");
  if (maxPositions && *maxPositions <= 0)
    return fail() << "llm.max_positions must be positive, got "
                  << *maxPositions;
  func.walk([&](flightllm::llm::AttentionOp att) {
    windowedAttention |= att.getWindow().has_value();
  });
  return success();
}

FailureOr<std::unique_ptr<Session>>
Session::create(ModuleOp module, StringRef funcName,
                InterpreterOptions options) {
  std::unique_ptr<Session> session(new Session());
  session->func = module.lookupSymbol<func::FuncOp>(funcName);
  if (!session->func)
    return emitError(module.getLoc())
           << "no func.func @" << funcName
           << " in the module: not an llm program";
  if (failed(session->checkContract(module)))
    return failure();
  FailureOr<std::unique_ptr<Interpreter>> interpreter =
      Interpreter::create(session->func, options);
  if (failed(interpreter))
    return failure();
  session->interpreter = std::move(*interpreter);
  session->reset();
  return session;
}

void Session::reset() {
  contextLength = 0;
  cache.clear();
  for (Type type : func.getFunctionType().getInputs().drop_front()) {
    auto past = cast<RankedTensorType>(type);
    cache.emplace_back(*reference::getElementKind(past.getElementType()),
                       ArrayRef<int64_t>{1, past.getDimSize(1), 0,
                                         past.getDimSize(3)});
  }
}

FailureOr<HostTensor> Session::step(ArrayRef<int64_t> tokens) {
  if (tokens.empty())
    return func.emitError() << "no tokens to run";
  for (int64_t token : tokens)
    if (token < 0 || token >= vocabSize)
      return func.emitError() << "token " << token
                              << " is outside the vocabulary [0, "
                              << vocabSize << ")";
  int64_t numS = int64_t(tokens.size());
  if (maxPositions && contextLength + numS > *maxPositions)
    return func.emitError()
           << "the context would grow to " << contextLength + numS
           << " tokens, beyond llm.max_positions = " << *maxPositions;

  SmallVector<HostTensor> args;
  args.push_back(HostTensor::get<int64_t>({1, numS}, tokens).castTo(idsKind));
  args.append(cache.begin(), cache.end());
  FailureOr<SmallVector<HostTensor>> results = interpreter->run(args);
  if (failed(results))
    return failure();

  for (unsigned i = 1; i < results->size(); ++i) {
    const HostTensor &present = (*results)[i];
    if (present.getDim(2) != contextLength + numS)
      return func.emitError()
             << "result #" << i << " (" << contractName(true, i) << ") holds "
             << present.getDim(2) << " positions, expected "
             << contextLength + numS;
  }
  HostTensor logits = (*results)[0].castTo(ElementKind::F32);
  for (unsigned i = 1; i < results->size(); ++i)
    cache[i - 1] = std::move((*results)[i]);
  contextLength += numS;
  return logits.reshaped({numS, vocabSize});
}

FailureOr<HostTensor> Session::prefill(ArrayRef<int64_t> tokens) {
  return step(tokens);
}

FailureOr<HostTensor> Session::decodeStep(int64_t token) {
  FailureOr<HostTensor> logits = step(ArrayRef<int64_t>(token));
  if (failed(logits))
    return failure();
  return logits->reshaped({vocabSize});
}
