//===- SystemDescription.cpp - Read system descriptions -------------------===//

#include "flightllm/System/SystemDescription.h"
#include "flightllm/Support/BoundedJSON.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

using namespace flightllm::system;
using llvm::StringRef;

namespace {

/// PCIe Gen3 x8: 8 GT/s per lane, 8 lanes, 128b/130b encoding:
/// 8e9 * 8 * 128/130 / 8 bits = 7.877 GB/s raw per direction (PCI-SIG
/// PCIe 3.0 base specification). The efficiency (TLP headers, flow control,
/// DMA setup) and the latency are assumptions (docs/targets.md).
std::string presetJSON(unsigned cards) {
  std::string link =
      R"({"raw_gbps": 7.877, "efficiency": 0.8, "latency_us": 2.0})";
  return "{\"name\": \"u280x" + std::to_string(cards) +
         "\", \"target\": \"u280\", \"cards\": " + std::to_string(cards) +
         ", \"card_link\": " + link + ", \"host_link\": " + link + "}";
}
constexpr unsigned kPresetCards[] = {2, 4, 8, 16};
const StringRef kPresetNames[] = {"u280x2", "u280x4", "u280x8", "u280x16"};

std::optional<std::string> presetText(StringRef name) {
  for (size_t i = 0; i < std::size(kPresetNames); ++i)
    if (name == kPresetNames[i])
      return presetJSON(kPresetCards[i]);
  return std::nullopt;
}

class Problems {
public:
  explicit Problems(StringRef source) : source(source) {}
  void add(const llvm::Twine &path, const llvm::Twine &message) {
    text.push_back((source + ": " + path + ": " + message).str());
  }
  bool empty() const { return text.empty(); }
  llvm::Error take() {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   llvm::join(text, "\n"));
  }

private:
  std::string source;
  std::vector<std::string> text;
};

/// A number at `path` in [lo, hi], reported otherwise.
std::optional<double> number(const llvm::json::Object &o, StringRef key,
                             StringRef path, double lo, double hi,
                             Problems &problems) {
  const llvm::json::Value *v = o.get(key);
  if (!v) {
    problems.add(path, "missing");
    return std::nullopt;
  }
  std::optional<double> x = v->getAsNumber();
  if (!x || !std::isfinite(*x) || *x < lo || *x > hi) {
    char text[96];
    std::snprintf(text, sizeof(text), "expected a number in [%g, %g]", lo, hi);
    problems.add(path, text);
    return std::nullopt;
  }
  return x;
}

void readLink(const llvm::json::Object &root, StringRef key,
              LinkDescription &link, Problems &problems) {
  const llvm::json::Value *v = root.get(key);
  if (!v) {
    problems.add(key, "missing");
    return;
  }
  const llvm::json::Object *o = v->getAsObject();
  if (!o) {
    problems.add(key, "expected an object");
    return;
  }
  for (const auto &entry : *o)
    if (entry.first != "raw_gbps" && entry.first != "efficiency" &&
        entry.first != "latency_us")
      problems.add(key + "." + StringRef(entry.first), "unknown field");
  std::string base = key.str() + ".";
  if (auto x = number(*o, "raw_gbps", base + "raw_gbps", 1e-3, 1e6, problems))
    link.rawGBps = *x;
  if (auto x = number(*o, "efficiency", base + "efficiency", 0.01, 1, problems))
    link.efficiency = *x;
  if (auto x = number(*o, "latency_us", base + "latency_us", 0, 1e6, problems))
    link.latencyUs = *x;
}

} // namespace

llvm::Expected<SystemDescription>
flightllm::system::parseSystem(StringRef json, StringRef source) {
  Problems problems(source);
  llvm::Expected<llvm::json::Value> parsed = parseBoundedJSON(json);
  if (!parsed) {
    problems.add("(file)", llvm::toString(parsed.takeError()));
    return problems.take();
  }
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root) {
    problems.add("(root)", "expected an object");
    return problems.take();
  }
  SystemDescription s;
  for (const auto &entry : *root) {
    StringRef k = entry.first;
    if (k != "name" && k != "target" && k != "cards" && k != "card_link" &&
        k != "host_link")
      problems.add(k, "unknown field");
  }
  if (const llvm::json::Value *v = root->get("name")) {
    if (auto text = v->getAsString())
      s.name = text->str();
    else
      problems.add("name", "expected a string");
  } else {
    problems.add("name", "missing");
  }
  if (const llvm::json::Value *v = root->get("cards")) {
    std::optional<int64_t> n = v->getAsInteger();
    if (!n || *n < 1 || *n > int64_t(kMaxCards))
      problems.add("cards", "expected an integer in [1, " +
                                std::to_string(kMaxCards) + "]");
    else
      s.cards = unsigned(*n);
  } else {
    problems.add("cards", "missing");
  }
  readLink(*root, "card_link", s.cardLink, problems);
  readLink(*root, "host_link", s.hostLink, problems);
  if (const llvm::json::Value *v = root->get("target")) {
    if (auto text = v->getAsString()) {
      s.targetName = text->str();
      llvm::Expected<target::TargetDescription> t =
          target::loadTarget(s.targetName);
      if (t)
        s.target = std::move(*t);
      else
        problems.add("target", llvm::toString(t.takeError()));
    } else {
      problems.add("target", "expected a string (a target preset or path)");
    }
  } else {
    problems.add("target", "missing");
  }
  if (!problems.empty())
    return problems.take();
  return s;
}

llvm::Expected<SystemDescription>
flightllm::system::loadSystem(StringRef nameOrPath) {
  bool isPath = nameOrPath.contains('/') || nameOrPath.ends_with(".json");
  if (!isPath)
    if (std::optional<std::string> json = presetText(nameOrPath))
      return parseSystem(*json, ("preset '" + nameOrPath + "'").str());
  auto buffer = llvm::MemoryBuffer::getFile(nameOrPath, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(
        buffer.getError(),
        "unknown system '%s': not a preset (%s) and not a readable file: %s",
        nameOrPath.str().c_str(),
        llvm::join(systemPresetNames(), ", ").c_str(),
        buffer.getError().message().c_str());
  return parseSystem((*buffer)->getBuffer(), nameOrPath);
}

llvm::ArrayRef<StringRef> flightllm::system::systemPresetNames() {
  return kPresetNames;
}
