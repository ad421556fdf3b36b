//===- FormatChoice.cpp - Formats per projection under a bit budget -------===//

#include "FormatChoice.h"

#include <algorithm>
#include <numeric>
#include <queue>

using namespace flightllm::llm::format_choice;

double flightllm::llm::format_choice::floorBits(
    const std::vector<std::vector<Candidate>> &items) {
  double total = 0;
  for (const std::vector<Candidate> &c : items) {
    double least = c.front().bits;
    for (const Candidate &x : c)
      least = std::min(least, x.bits);
    total += least;
  }
  return total;
}

namespace {

/// The lower convex hull of a projection's candidates, as indices from the
/// least error (most bits) to the fewest bits.
std::vector<size_t> hull(const std::vector<Candidate> &c) {
  std::vector<size_t> order(c.size());
  std::iota(order.begin(), order.end(), 0);
  // Fewest bits first, then least error: a candidate is useful only if it
  // has less error than every cheaper one.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return c[a].bits < c[b].bits ||
           (c[a].bits == c[b].bits && c[a].error < c[b].error);
  });
  std::vector<size_t> frontier;
  for (size_t i : order)
    if (frontier.empty() || c[i].error < c[frontier.back()].error)
      frontier.push_back(i);
  // Lower convex hull (monotone chain) of the frontier, bits ascending.
  std::vector<size_t> h;
  auto cross = [&](size_t o, size_t a, size_t b) {
    return (c[a].bits - c[o].bits) * (c[b].error - c[o].error) -
           (c[a].error - c[o].error) * (c[b].bits - c[o].bits);
  };
  for (size_t i : frontier) {
    while (h.size() >= 2 && cross(h[h.size() - 2], h.back(), i) <= 0)
      h.pop_back();
    h.push_back(i);
  }
  std::reverse(h.begin(), h.end());
  return h;
}

} // namespace

std::optional<std::vector<size_t>> flightllm::llm::format_choice::choose(
    const std::vector<std::vector<Candidate>> &items, double budgetBits) {
  // Relative slack for the sums' rounding.
  double tolerance = 1e-12 * std::max(1.0, budgetBits);
  if (floorBits(items) > budgetBits + tolerance)
    return std::nullopt;
  std::vector<std::vector<size_t>> hulls;
  std::vector<size_t> position(items.size(), 0), chosen(items.size());
  double total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    hulls.push_back(hull(items[i]));
    chosen[i] = hulls[i].front();
    total += items[i][chosen[i]].bits;
  }

  // Steps down each hull, least error per saved bit first.
  struct Step {
    double slope;
    size_t item;
    bool operator>(const Step &o) const {
      return slope > o.slope || (slope == o.slope && item > o.item);
    }
  };
  std::priority_queue<Step, std::vector<Step>, std::greater<Step>> steps;
  auto push = [&](size_t i) {
    const std::vector<size_t> &h = hulls[i];
    if (position[i] + 1 >= h.size())
      return;
    const Candidate &from = items[i][h[position[i]]];
    const Candidate &to = items[i][h[position[i] + 1]];
    steps.push({(to.error - from.error) / (from.bits - to.bits), i});
  };
  for (size_t i = 0; i < items.size(); ++i)
    push(i);
  while (total > budgetBits + tolerance && !steps.empty()) {
    size_t i = steps.top().item;
    steps.pop();
    size_t next = hulls[i][++position[i]];
    total += items[i][next].bits - items[i][chosen[i]].bits;
    chosen[i] = next;
    push(i);
  }

  // Repair: spend the slack on the best single change that fits.
  for (;;) {
    double best = 0;
    size_t bestItem = 0, bestCandidate = 0;
    for (size_t i = 0; i < items.size(); ++i)
      for (size_t j = 0; j < items[i].size(); ++j) {
        const Candidate &now = items[i][chosen[i]], &alt = items[i][j];
        if (total + alt.bits - now.bits > budgetBits + tolerance)
          continue;
        double gain = now.error - alt.error;
        if (gain > best) {
          best = gain;
          bestItem = i;
          bestCandidate = j;
        }
      }
    if (best <= 0)
      break;
    total += items[bestItem][bestCandidate].bits -
             items[bestItem][chosen[bestItem]].bits;
    chosen[bestItem] = bestCandidate;
  }
  return chosen;
}
