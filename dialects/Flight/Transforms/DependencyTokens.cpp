//===- DependencyTokens.cpp - Tokens between the accelerator's queues -----===//

#include "flightllm/Dialect/Flight/Transforms/DependencyTokens.h"

#include <algorithm>

using namespace flightllm;
using namespace flightllm::flight;

DependencyTracker::Uses &DependencyTracker::uses(Kind kind,
                                                 isa::Buffer buffer) {
  return tracked[kind][static_cast<unsigned>(buffer) % kBuffers];
}

void DependencyTracker::barrier() {
  for (auto &kind : tracked)
    for (Uses &u : kind)
      u.clear();
  for (auto &data : offChip)
    for (auto &queue : data)
      queue[0] = queue[1] = -1;
  for (auto &row : covered)
    for (int64_t &c : row)
      c = -1;
}

void DependencyTracker::collect(Uses &u, const OnChipRows &rows,
                                int64_t *need) {
  for (unsigned c = 0; c < kClasses; ++c) {
    if (!(u.nonEmpty >> c & 1))
      continue;
    // A use of class c overlapping `rows` starts before rows.end() and fewer
    // than 2^c rows before rows.row.
    uint32_t longest = c ? uint32_t((uint64_t(1) << c) - 1) : 0;
    uint32_t from = rows.row > longest ? rows.row - longest : 0;
    auto &m = u.byStart[c];
    for (auto it = m.lower_bound(from); it != m.end() && it->first < rows.end();
         ++it) {
      ++visited;
      if (it->second.end > rows.row)
        need[it->second.queue] =
            std::max<int64_t>(need[it->second.queue], it->second.index);
    }
  }
}

void DependencyTracker::forget(Uses &u, const OnChipRows &rows, int queue) {
  // Only classes whose shortest range fits in `rows` can be contained.
  for (unsigned c = 0; c <= lengthClass(rows.rows); ++c) {
    if (!(u.nonEmpty >> c & 1))
      continue;
    auto &m = u.byStart[c];
    for (auto it = m.lower_bound(rows.row);
         it != m.end() && it->first <= rows.end();) {
      ++visited;
      if (it->second.end <= rows.end() &&
          (queue < 0 || it->second.queue == queue))
        it = m.erase(it);
      else
        ++it;
    }
    if (m.empty())
      u.nonEmpty &= ~(uint64_t(1) << c);
  }
}

void DependencyTracker::track(Kind kind, const OnChipRows &rows, uint8_t queue,
                              uint32_t index, bool pruned) {
  Uses &u = uses(kind, rows.buffer);
  // An older use of the same queue inside `rows` never matters again: every
  // access overlapping it overlaps `rows`, whose index is newer, and a write
  // that forgets `rows` forgets it too.
  if (!pruned)
    forget(u, rows, queue);
  unsigned c = lengthClass(rows.rows);
  u.byStart[c].insert({rows.row, Use{rows.end(), queue, index}});
  u.nonEmpty |= uint64_t(1) << c;
}

TokenNeeds DependencyTracker::add(uint32_t index, isa::Queue queue,
                                  const Access &access) {
  uint8_t q = static_cast<uint8_t>(queue);
  int64_t need[isa::kNumQueues] = {-1, -1, -1, -1, -1};
  for (const OnChipRows &r : access.reads)
    collect(uses(Write, r.buffer), r, need);
  for (const OnChipRows &r : access.writes) {
    collect(uses(Write, r.buffer), r, need);
    collect(uses(Read, r.buffer), r, need);
  }
  for (unsigned p = 0; p < isa::kNumQueues; ++p) {
    if (access.offChipRead != OffChipData::None)
      need[p] = std::max(need[p],
                         offChip[unsigned(access.offChipRead)][p][Write]);
    if (access.offChipWrite != OffChipData::None)
      need[p] = std::max({need[p],
                          offChip[unsigned(access.offChipWrite)][p][Write],
                          offChip[unsigned(access.offChipWrite)][p][Read]});
  }

  TokenNeeds result;
  for (unsigned p = 0; p < isa::kNumQueues; ++p) {
    result.producer[p] = -1;
    // The same queue runs in order; a token the consumer queue already
    // waited for covers every older producer instruction.
    if (p == q || need[p] < 0 || covered[p][q] >= need[p])
      continue;
    result.producer[p] = need[p];
    covered[p][q] = need[p];
  }

  // A write supersedes the uses it covers: whatever touches those rows later
  // depends on this instruction, which waited for them.
  for (const OnChipRows &r : access.writes) {
    forget(uses(Write, r.buffer), r, -1);
    forget(uses(Read, r.buffer), r, -1);
  }
  // (The writes' own ranges were just forgotten: nothing to prune.)
  for (const OnChipRows &r : access.writes)
    track(Write, r, q, index, /*pruned=*/true);
  for (const OnChipRows &r : access.reads)
    track(Read, r, q, index, /*pruned=*/false);
  if (access.offChipRead != OffChipData::None)
    offChip[unsigned(access.offChipRead)][q][Read] = index;
  if (access.offChipWrite != OffChipData::None)
    offChip[unsigned(access.offChipWrite)][q][Write] = index;
  return result;
}
