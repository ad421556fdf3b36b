//===- DependencyTokensTest.cpp - The dependency tracker ------------------===//
//
// 1. The tracker gives exactly the tokens of the straightforward algorithm it
//    replaced (every tracked use scanned for every access; quadratic within
//    a layer body), on random streams.
// 2. Its work grows linearly with the stream: a layer body twice as long
//    (more tiles, more heads) costs at most a constant more per instruction,
//    while the straightforward algorithm's cost per instruction grows with
//    the stream.
//===----------------------------------------------------------------------===//

#include "flightllm/Dialect/Flight/Transforms/DependencyTokens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace flightllm;
using namespace flightllm::flight;

namespace {

/// The algorithm before flight-insert-tokens: lists of every use since the
/// last barrier, scanned in full for every access; a write drops the uses it
/// contains.
class ListTracker {
public:
  TokenNeeds add(uint32_t index, isa::Queue queue, const Access &a) {
    uint8_t q = static_cast<uint8_t>(queue);
    int64_t need[isa::kNumQueues] = {-1, -1, -1, -1, -1};
    auto raise = [&](const Use &u) {
      need[u.queue] = std::max<int64_t>(need[u.queue], u.index);
    };
    for (const OnChipRows &r : a.reads)
      for (const Use &w : writers)
        if (++work, w.rows.overlaps(r))
          raise(w);
    for (const OnChipRows &r : a.writes) {
      for (const Use &w : writers)
        if (++work, w.rows.overlaps(r))
          raise(w);
      for (const Use &rd : readers)
        if (++work, rd.rows.overlaps(r))
          raise(rd);
    }
    for (const OffUse &u : offChip) {
      if (a.offChipRead != OffChipData::None && u.write && u.what == a.offChipRead)
        need[u.queue] = std::max<int64_t>(need[u.queue], u.index);
      if (a.offChipWrite != OffChipData::None && u.what == a.offChipWrite)
        need[u.queue] = std::max<int64_t>(need[u.queue], u.index);
    }
    TokenNeeds result;
    for (unsigned p = 0; p < isa::kNumQueues; ++p) {
      result.producer[p] = -1;
      if (p == q || need[p] < 0 || covered[p][q] >= need[p])
        continue;
      result.producer[p] = need[p];
      covered[p][q] = need[p];
    }
    for (const OnChipRows &r : a.writes) {
      auto contained = [&](const Use &u) { return r.contains(u.rows); };
      writers.erase(std::remove_if(writers.begin(), writers.end(), contained),
                    writers.end());
      readers.erase(std::remove_if(readers.begin(), readers.end(), contained),
                    readers.end());
    }
    for (const OnChipRows &r : a.writes)
      writers.push_back({r, q, index});
    for (const OnChipRows &r : a.reads)
      readers.push_back({r, q, index});
    if (a.offChipRead != OffChipData::None)
      offChip.push_back({a.offChipRead, q, index, false});
    if (a.offChipWrite != OffChipData::None)
      offChip.push_back({a.offChipWrite, q, index, true});
    return result;
  }
  void barrier() {
    writers.clear();
    readers.clear();
    offChip.clear();
    for (auto &row : covered)
      for (int64_t &c : row)
        c = -1;
  }
  ListTracker() { barrier(); }
  uint64_t work = 0;

private:
  struct Use {
    OnChipRows rows;
    uint8_t queue;
    uint32_t index;
  };
  struct OffUse {
    OffChipData what;
    uint8_t queue;
    uint32_t index;
    bool write;
  };
  std::vector<Use> writers, readers;
  std::vector<OffUse> offChip;
  int64_t covered[isa::kNumQueues][isa::kNumQueues];
};

struct Inst {
  isa::Queue queue;
  Access access;
  bool barrier = false;
};

std::vector<Inst> randomStream(unsigned seed, unsigned n, uint32_t bufferRows) {
  std::mt19937 rng(seed);
  auto pick = [&](uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  };
  auto range = [&]() {
    // Mostly a few aligned sizes (as an allocator gives), sometimes any.
    uint32_t rows = pick(0, 3) ? (1u << pick(0, 4)) : pick(0, 9);
    uint32_t row = pick(0, 3) ? pick(0, bufferRows / 4) * 4 : pick(0, bufferRows);
    return OnChipRows{static_cast<isa::Buffer>(pick(0, 2)), row, rows};
  };
  std::vector<Inst> s;
  for (unsigned i = 0; i < n; ++i) {
    Inst inst;
    inst.queue = static_cast<isa::Queue>(pick(0, 3));
    if (pick(0, 99) == 0) {
      inst.barrier = true;
      s.push_back(inst);
      continue;
    }
    for (unsigned k = pick(0, 3); k; --k)
      inst.access.reads.push_back(range());
    for (unsigned k = pick(0, 2); k; --k)
      inst.access.writes.push_back(range());
    if (pick(0, 9) == 0)
      inst.access.offChipRead = static_cast<OffChipData>(pick(1, 3));
    if (pick(0, 9) == 0)
      inst.access.offChipWrite = static_cast<OffChipData>(pick(1, 3));
    s.push_back(inst);
  }
  return s;
}

TEST(DependencyTokens, SameTokensAsTheListAlgorithm) {
  for (unsigned seed = 0; seed < 200; ++seed) {
    std::vector<Inst> stream = randomStream(seed, 400, seed % 2 ? 64 : 512);
    DependencyTracker fast;
    ListTracker slow;
    for (uint32_t i = 0; i < stream.size(); ++i) {
      if (stream[i].barrier) {
        fast.barrier();
        slow.barrier();
        continue;
      }
      TokenNeeds a = fast.add(i, stream[i].queue, stream[i].access);
      TokenNeeds b = slow.add(i, stream[i].queue, stream[i].access);
      for (unsigned p = 0; p < isa::kNumQueues; ++p)
        ASSERT_EQ(a.producer[p], b.producer[p])
            << "seed " << seed << ", instruction " << i << ", producer queue "
            << p;
    }
  }
}

/// A layer body the way the lowering emits it: per weight tile, 8 stripe
/// loads into the next slot of the weight buffer (next-fit, wrapping), a
/// scale load into meta, a matrix op reading the quantized input and writing
/// its columns of the output; then per head an SFU op over the output.
std::vector<Inst> layerBody(unsigned tiles) {
  std::vector<Inst> s;
  const uint32_t weightRows = 32768, tileRows = 4096 + 512, metaRows = 2048;
  uint32_t wCursor = 0, mCursor = 0;
  auto next = [](uint32_t &cursor, uint32_t rows, uint32_t capacity) {
    if (cursor + rows > capacity)
      cursor = 0;
    uint32_t at = cursor;
    cursor += rows;
    return at;
  };
  OnChipRows xq{isa::Buffer::act, 0, 32};
  for (unsigned t = 0; t < tiles; ++t) {
    uint32_t w = next(wCursor, tileRows, weightRows);
    for (uint32_t st = 0; st < 8; ++st) {
      Inst ld{isa::Queue::load, {}};
      ld.access.writes = {{isa::Buffer::weight, w + st * tileRows / 8, tileRows / 8}};
      s.push_back(ld);
    }
    uint32_t m = next(mCursor, 4, metaRows);
    Inst ls{isa::Queue::load, {}};
    ls.access.writes = {{isa::Buffer::meta, m, 4}};
    s.push_back(ls);
    OnChipRows out{isa::Buffer::act, 64 + (t % 256) * 8, 8};
    Inst mm{isa::Queue::matrix, {}};
    mm.access.reads = {xq, {isa::Buffer::weight, w, tileRows}, {isa::Buffer::meta, m, 4}};
    mm.access.writes = {out};
    s.push_back(mm);
    Inst sfu{isa::Queue::misc, {}};
    sfu.access.reads = {out};
    sfu.access.writes = {{isa::Buffer::act, 4096 + (t % 64) * 8, 8}};
    s.push_back(sfu);
  }
  return s;
}

TEST(DependencyTokens, WorkIsLinearInTheStreamLength) {
  double fastPer[2], slowPer[2];
  unsigned sizes[2] = {256, 2048};
  for (int k = 0; k < 2; ++k) {
    std::vector<Inst> s = layerBody(sizes[k]);
    DependencyTracker fast;
    ListTracker slow;
    for (uint32_t i = 0; i < s.size(); ++i) {
      TokenNeeds a = fast.add(i, s[i].queue, s[i].access);
      TokenNeeds b = slow.add(i, s[i].queue, s[i].access);
      for (unsigned p = 0; p < isa::kNumQueues; ++p)
        ASSERT_EQ(a.producer[p], b.producer[p]) << "instruction " << i;
    }
    fastPer[k] = double(fast.work()) / double(s.size());
    slowPer[k] = double(slow.work) / double(s.size());
  }
  // 8x the instructions: the tracker's work per instruction stays put (it is
  // bounded by what the buffers can hold), the list algorithm's grows several times.
  EXPECT_LT(fastPer[1], 1.25 * fastPer[0])
      << fastPer[0] << " -> " << fastPer[1] << " ranges per instruction";
  EXPECT_GT(slowPer[1], 3 * slowPer[0]);
  EXPECT_LT(fastPer[1] * 20, slowPer[1]);
}

} // namespace
