//===- BPE.cpp - Byte-pair encoding of one pre-tokenized word -------------===//
//
// The merge loop of Hugging Face's BPE model: the adjacent pair with the
// lowest merge rank is merged first, the leftmost among equal ranks, until
// no adjacent pair has a merge.
//===----------------------------------------------------------------------===//

#include "Pipeline.h"

#include "flightllm/Tokenizer/Unicode.h"

#include <array>
#include <queue>

using namespace flightllm::tokenizer;
using llvm::StringRef;

namespace {

/// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
/// the others for 256, 257, ... in byte order.
struct ByteMap {
  std::array<char32_t, 256> toChar;
  ByteMap() {
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      toChar[b] = printable ? b : next++;
    }
  }
};

const ByteMap &byteMap() {
  static const ByteMap map;
  return map;
}

struct Symbol {
  int32_t id;
  int prev, next; // -1 at the ends
  bool alive;
};

struct Candidate {
  uint32_t rank;
  int pos;
  int32_t mergedId;
  bool operator>(const Candidate &o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

} // namespace

char32_t flightllm::tokenizer::byteToChar(uint8_t byte) {
  return byteMap().toChar[byte];
}

int flightllm::tokenizer::byteOfChar(char32_t cp) {
  if (cp < 256)
    return byteMap().toChar[cp] == cp ? static_cast<int>(cp) : -1;
  if (cp < 256 + 256)
    for (unsigned b = 0; b < 256; ++b)
      if (byteMap().toChar[b] == cp)
        return static_cast<int>(b);
  return -1;
}

bool flightllm::tokenizer::encodeWord(const BPEModel &model, StringRef word,
                                      std::vector<int32_t> &out) {
  if (model.ignoreMerges) {
    auto it = model.vocab.find(word);
    if (it != model.vocab.end()) {
      out.push_back(it->second);
      return true;
    }
  }
  // Initial symbols: one per character, or its bytes' <0xXX> tokens, or the
  // unknown token (consecutive unknowns fused when fuse_unk).
  std::vector<Symbol> symbols;
  bool lastWasUnk = false;
  for (size_t i = 0; i < word.size();) {
    size_t length = utf8SequenceLength(static_cast<uint8_t>(word[i]));
    StringRef ch = word.substr(i, length);
    i += length;
    auto it = model.vocab.find(ch);
    if (it != model.vocab.end()) {
      symbols.push_back({it->second, -1, -1, true});
      lastWasUnk = false;
      continue;
    }
    if (model.byteFallback) {
      bool all = true;
      for (char c : ch)
        all &= model.byteTokens[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        for (char c : ch)
          symbols.push_back(
              {model.byteTokens[static_cast<unsigned char>(c)], -1, -1, true});
        lastWasUnk = false;
        continue;
      }
    }
    if (!model.unkId)
      return false;
    if (!(model.fuseUnk && lastWasUnk))
      symbols.push_back({*model.unkId, -1, -1, true});
    lastWasUnk = true;
  }
  int n = static_cast<int>(symbols.size());
  for (int k = 0; k < n; ++k) {
    symbols[k].prev = k - 1;
    symbols[k].next = k + 1 < n ? k + 1 : -1;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int pos) {
    int next = symbols[pos].next;
    if (next < 0)
      return;
    auto it = model.merges.find({symbols[pos].id, symbols[next].id});
    if (it != model.merges.end())
      queue.push({it->second.first, pos, it->second.second});
  };
  for (int k = 0; k + 1 < n; ++k)
    consider(k);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (!left.alive || left.next < 0)
      continue;
    // Stale when either side changed since the candidate was queued.
    auto it = model.merges.find({left.id, symbols[left.next].id});
    if (it == model.merges.end() || it->second.second != top.mergedId ||
        it->second.first != top.rank)
      continue;
    Symbol &right = symbols[left.next];
    right.alive = false;
    left.id = top.mergedId;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      consider(left.prev);
    consider(top.pos);
  }
  for (int k = n > 0 ? 0 : -1; k >= 0; k = symbols[k].next)
    out.push_back(symbols[k].id);
  return true;
}
