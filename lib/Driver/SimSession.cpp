//===- SimSession.cpp - A compiled .flb on the simulator ------------------===//

#include "flightllm/Driver/SimSession.h"
#include "flightllm/Driver/TextCodec.h"

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/Reader.h"
#include "flightllm/ISA/ISA.h"
#include "flightllm/Support/Progress.h"

#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cmath>
#include <limits>

using namespace flightllm;

int64_t flightllm::argmaxToken(llvm::ArrayRef<float> row) {
  int64_t best = 0;
  float bestValue = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < row.size(); ++i)
    if (row[i] > bestValue) {
      bestValue = row[i];
      best = int64_t(i);
    }
  return best;
}

static std::string hex(uint64_t v) { return llvm::formatv("{0:x16}", v).str(); }

/// The target: `name`, else the preset whose fingerprint is the binary's.
static llvm::Expected<target::TargetDescription>
pickTarget(llvm::StringRef name, uint64_t fingerprint) {
  if (!name.empty())
    return target::loadTarget(name);
  std::string tried;
  for (llvm::StringRef preset : target::presetNames()) {
    llvm::Expected<target::TargetDescription> t = target::loadTarget(preset);
    if (!t)
      return t.takeError();
    if (t->fingerprint() == fingerprint)
      return t;
    tried += " " + preset.str() + " (0x" + hex(t->fingerprint()) + ")";
  }
  return llvm::createStringError(
      "the binary's target fingerprint 0x" + hex(fingerprint) +
      " matches no preset:" + tried + "; give --target=FILE.json");
}

llvm::Expected<std::unique_ptr<SimSession>>
SimSession::open(llvm::ArrayRef<uint8_t> flb, llvm::StringRef name,
                 llvm::StringRef target, const sim::Options &options) {
  if (flb.size() < binary::kHeaderSize)
    return llvm::createStringError("'" + name +
                                   "' is too short for a .flb header");
  std::unique_ptr<SimSession> session(new SimSession);
  session->flb = flb;
  binary::FileHeader header = binary::FileHeader::decode(session->flb.data());
  llvm::Expected<target::TargetDescription> t =
      pickTarget(target, header.targetFingerprint);
  if (!t)
    return t.takeError();
  session->targetDesc = std::move(*t);
  session->timingOnly = !options.functional;
  if (header.flags & binary::kFlagSystem) {
    if (llvm::Error e = session->openPipeline(options))
      return e;
    return session;
  }
  session->sims.push_back(
      std::make_unique<sim::Simulator>(*session->targetDesc, options));
  flight_hal hal = session->sims[0]->hal();
  session->arena.resize(flight_runtime_arena_bytes());
  int status = flight_open(&session->rt, session->arena.data(),
                           session->arena.size(), session->flb.data(),
                           session->flb.size(), &hal,
                           session->targetDesc->fingerprint(),
                           session->timingOnly ? FLIGHT_OPEN_SKIP_WEIGHTS : 0);
  if (status != FLIGHT_OK)
    return session->runtimeError("cannot open the binary", status);
  flight_model(session->rt, &session->modelInfo);
  session->observers.push_back({session.get(), 0});
  session->requestCardCycles.assign(1, 0);
  session->requestLinkCycles.assign(1, 0);
  flight_set_observer(
      session->rt,
      [](void *user, uint32_t stage, uint32_t, uint64_t cycles) {
        auto *self = static_cast<std::pair<SimSession *, unsigned> *>(user);
        self->first->stage = stage;
        self->first->requestCardCycles[0] += cycles;
        self->first->addCycles(cycles);
      },
      &session->observers[0]);
  return session;
}

llvm::Error SimSession::openPipeline(const sim::Options &options) {
  binary::BinaryView view;
  binary::Error err;
  binary::SectionEntry plan;
  if (view.open(flb.data(), flb.size(), err) != binary::Status::Ok)
    return llvm::createStringError(
        std::string("cannot open the system binary: ") +
        binary::statusName(err.status) + ": " + err.message + " (at byte " +
        std::to_string(err.offset) + ")");
  if (!view.findSection(binary::SectionKind::Pipeline, 0, plan) ||
      plan.size < binary::kPipelineHeaderSize)
    return llvm::createStringError(
        "cannot open the system binary: no pipeline section");
  uint32_t cards =
      binary::PipelineHeader::decode(view.sectionData(plan)).cardCount;
  if (cards == 0 || cards > FLIGHT_PIPELINE_MAX_CARDS)
    return llvm::createStringError("the system binary's pipeline has " +
                                   llvm::Twine(cards) + " cards (1 to " +
                                   llvm::Twine(FLIGHT_PIPELINE_MAX_CARDS) +
                                   " supported)");
  traceOut = options.trace;
  std::vector<flight_hal> hals;
  for (uint32_t c = 0; c < cards; ++c) {
    sim::Options card = options;
    if (traceOut) {
      cardTraceText.push_back(std::make_unique<std::string>());
      cardTraces.push_back(
          std::make_unique<llvm::raw_string_ostream>(*cardTraceText.back()));
      card.trace = cardTraces.back().get();
      card.traceCard = int(c);
    }
    sims.push_back(std::make_unique<sim::Simulator>(*targetDesc, card));
    hals.push_back(sims.back()->hal());
  }
  flight_link link{this, [](void *ctx, uint32_t src, uint32_t srcChannel,
                            uint64_t srcOffset, uint32_t dst,
                            uint32_t dstChannel, uint64_t dstOffset,
                            uint64_t bytes) {
                     return static_cast<SimSession *>(ctx)->linkCopy(
                         src, srcChannel, srcOffset, dst, dstChannel,
                         dstOffset, bytes);
                   }};
  arena.resize(flight_pipeline_arena_bytes());
  int status = flight_pipeline_open(
      &pl, arena.data(), arena.size(), flb.data(), flb.size(), hals.data(),
      cards, &link, targetDesc->fingerprint(),
      timingOnly ? FLIGHT_OPEN_SKIP_WEIGHTS : 0);
  if (status != FLIGHT_OK)
    return runtimeError("cannot open the system binary", status);
  flight_pipeline_info_get(pl, &plInfo);
  flight_model(flight_pipeline_card(pl, 0), &modelInfo);
  modelInfo.num_layers = plInfo.num_layers;
  observers.reserve(cards);
  requestCardCycles.assign(cards, 0);
  requestLinkCycles.assign(cards, 0);
  for (uint32_t c = 0; c < cards; ++c) {
    observers.push_back({this, c});
    flight_set_observer(
        flight_pipeline_card(pl, c),
        [](void *user, uint32_t stage, uint32_t, uint64_t cycles) {
          auto *self = static_cast<std::pair<SimSession *, unsigned> *>(user);
          self->first->stage = stage;
          self->first->requestCardCycles[self->second] += cycles;
          self->first->addCycles(cycles);
        },
        &observers.back());
  }
  return llvm::Error::success();
}

void SimSession::addCycles(uint64_t cycles) {
  (stage == 0 ? cycleCount.prefill : cycleCount.decode) += cycles;
  systemCycles += cycles;
  if (sims.size() > 1)
    for (auto &s : sims)
      s->setTraceTime(systemCycles);
}

int SimSession::linkCopy(uint32_t src, uint32_t srcChannel, uint64_t srcOffset,
                         uint32_t dst, uint32_t dstChannel, uint64_t dstOffset,
                         uint64_t bytes) {
  if (src >= sims.size() || dst >= sims.size())
    return 1;
  // The data: functional runs copy the rows; timing-only HBM reads zeros.
  std::vector<uint8_t> rows(bytes);
  if (sims[src]->memRead(FLIGHT_MEM_HBM, srcChannel, srcOffset, rows.data(),
                         bytes) != 0 ||
      sims[dst]->memWrite(FLIGHT_MEM_HBM, dstChannel, dstOffset, rows.data(),
                          bytes) != 0)
    return 2;
  // The time: the plan's card link (latency + bytes / bandwidth).
  double seconds = plInfo.link_latency_ns * 1e-9 +
                   (plInfo.link_mbps ? double(bytes) / (plInfo.link_mbps * 1e6)
                                     : 0.0);
  uint64_t cycles =
      uint64_t(std::ceil(seconds * targetDesc->clockMHz * 1e6));
  if (traceOut)
    linkTrace += llvm::formatv(
        ",\n{{\"name\":\"link card {0} -> card {1}, {2} bytes\",\"ph\":\"X\","
        "\"pid\":0,\"tid\":{0},\"ts\":{3:F4},\"dur\":{4:F4}}",
        src, dst, bytes, systemCycles / targetDesc->clockMHz,
        cycles / targetDesc->clockMHz).str();
  linkCycles[stage == 0 ? 0 : 1] += cycles;
  requestLinkCycles[src] += cycles;
  addCycles(cycles);
  return 0;
}

int SimSession::prefill(const int32_t *tokens, uint32_t count, float *logits) {
  stage = 0;
  return pl ? flight_pipeline_prefill(pl, tokens, count, logits)
            : flight_prefill(rt, tokens, count, logits);
}

int SimSession::decodeStep(int32_t token, float *logits) {
  stage = 1;
  return pl ? flight_pipeline_decode_step(pl, token, logits)
            : flight_decode_step(rt, token, logits);
}

int SimSession::decodeBatchStep(uint32_t count, const int32_t *tokens,
                                const uint32_t *slots, float *logits) {
  stage = 1;
  return pl ? flight_pipeline_decode_batch(pl, count, tokens, slots, logits)
            : flight_decode_batch(rt, count, tokens, slots, logits);
}

int SimSession::reset() {
  return pl ? flight_pipeline_reset(pl) : flight_reset(rt);
}

int SimSession::selectSlot(uint32_t slot) {
  return pl ? flight_pipeline_select_slot(pl, slot)
            : flight_select_slot(rt, slot);
}

double ServeResult::msPerTokenPerUser() const {
  double sum = 0;
  int counted = 0;
  for (const User &u : users)
    if (u.tokenSeconds.size() >= 2) {
      sum += (u.tokenSeconds.back() - u.tokenSeconds.front()) /
             double(u.tokenSeconds.size() - 1);
      ++counted;
    }
  return counted ? 1e3 * sum / counted : 0;
}

llvm::Expected<ServeResult>
SimSession::serve(llvm::ArrayRef<std::vector<int64_t>> prompts,
                  int maxNewTokens, const TextCodec &codec, bool keepLogits) {
  if (prompts.empty())
    return llvm::createStringError("no users to serve");
  for (const auto &[u, prompt] : llvm::enumerate(prompts))
    if (llvm::Error e = checkPrompt(prompt, maxNewTokens))
      return llvm::createStringError("user " + llvm::Twine(u) + ": " +
                                     llvm::toString(std::move(e)));
  if (maxNewTokens < 1)
    return llvm::createStringError("serving users needs --max-new-tokens >= 1");
  using Clock = std::chrono::steady_clock;
  Clock::time_point hostStart = Clock::now();
  ServeResult result;
  result.cards = cards();
  result.slots = modelInfo.kv_slots ? modelInfo.kv_slots : 1;
  result.users.resize(prompts.size());
  resetCycles();
  resetCounters();
  const unsigned n = cards();
  const double hz = targetDesc->clockMHz * 1e6;
  // The schedule, in cycles: when each card is next free, when each user's
  // next request may start (its previous token is back at the host).
  std::vector<uint64_t> cardFree(n, 0), cardBusy(n, 0);
  std::vector<uint64_t> userReady(prompts.size(), 0);
  uint64_t linkTotal = 0, end = 0, prefillEnd = 0;
  auto schedule = [&](size_t u) {
    uint64_t t = userReady[u];
    for (unsigned c = 0; c < n; ++c) {
      uint64_t start = std::max(t, cardFree[c]);
      cardFree[c] = start + requestCardCycles[c];
      cardBusy[c] += requestCardCycles[c];
      t = cardFree[c] + (c + 1 < n ? requestLinkCycles[c] : 0);
      linkTotal += c + 1 < n ? requestLinkCycles[c] : 0;
    }
    userReady[u] = t;
    end = std::max(end, t);
    return t;
  };
  auto clearRequest = [&] {
    std::fill(requestCardCycles.begin(), requestCardCycles.end(), 0);
    std::fill(requestLinkCycles.begin(), requestLinkCycles.end(), 0);
  };

  int64_t vocab = modelInfo.vocab_size;
  std::vector<float> logits(vocab);
  // Slot s serves user active[s] (-1: free); users start in order.
  std::vector<int64_t> active(result.slots, -1);
  size_t nextUser = 0, done = 0;
  auto emitRow = [&](size_t u, uint64_t at, llvm::ArrayRef<float> row) {
    ServeResult::User &user = result.users[u];
    user.tokens.push_back(timingOnly ? user.prompt.back() : argmaxToken(row));
    if (keepLogits)
      user.logits.insert(user.logits.end(), row.begin(), row.end());
    user.tokenSeconds.push_back(at / hz);
    ++result.generatedTokens;
    user.stoppedAtEOS = !timingOnly && codec.isEndOfSequence(user.tokens.back());
    return user.stoppedAtEOS || int64_t(user.tokens.size()) >= maxNewTokens;
  };
  auto emit = [&](size_t u, uint64_t at) { return emitRow(u, at, logits); };
  auto startUser = [&](uint32_t slot) -> llvm::Error {
    size_t u = nextUser++;
    active[slot] = int64_t(u);
    result.users[u].prompt = prompts[u];
    int status = selectSlot(slot);
    if (status == FLIGHT_OK)
      status = reset();
    if (status != FLIGHT_OK)
      return runtimeError("user " + std::to_string(u) + ": slot " +
                              std::to_string(slot),
                          status);
    std::vector<int32_t> p32(prompts[u].begin(), prompts[u].end());
    clearRequest();
    status = prefill(p32.data(), uint32_t(p32.size()), logits.data());
    if (status != FLIGHT_OK)
      return runtimeError("user " + std::to_string(u) + ": prefill failed",
                          status);
    // A user arriving in a later wave starts when its slot came free.
    uint64_t at = schedule(u);
    prefillEnd = std::max(prefillEnd, at);
    if (emit(u, at)) {
      active[slot] = -1;
      ++done;
    }
    return llvm::Error::success();
  };
  ProgressBar bar("serving", uint64_t(prompts.size()) * uint64_t(maxNewTokens));
  for (uint32_t s = 0; s < result.slots && nextUser < prompts.size(); ++s)
    if (llvm::Error e = startUser(s))
      return e;
  // A batched binary (flightllm-compile --batch) decodes its active users
  // together, up to its batch per run: one run's time serves them all.
  const uint32_t batch = decodeBatch();
  result.batch = batch;
  const size_t together = std::min<size_t>(prompts.size(), result.slots);
  result.microBatches = unsigned((together + batch - 1) / batch);
  std::vector<float> batchLogits(batch > 1 ? size_t(batch) * vocab : 0);
  while (batch > 1 && done < prompts.size()) {
    for (uint32_t s = 0; s < result.slots; ++s)
      if (active[s] < 0 && nextUser < prompts.size())
        if (llvm::Error e = startUser(s))
          return e;
    std::vector<uint32_t> slots;
    for (uint32_t s = 0; s < result.slots; ++s)
      if (active[s] >= 0)
        slots.push_back(s);
    for (size_t first = 0; first < slots.size(); first += batch) {
      size_t count = std::min<size_t>(batch, slots.size() - first);
      std::vector<int32_t> tokens;
      uint64_t ready = 0;
      for (size_t i = 0; i < count; ++i) {
        size_t u = size_t(active[slots[first + i]]);
        tokens.push_back(int32_t(result.users[u].tokens.back()));
        ready = std::max(ready, userReady[u]);
      }
      clearRequest();
      int status = decodeBatchStep(uint32_t(count), tokens.data(),
                                   slots.data() + first, batchLogits.data());
      if (status != FLIGHT_OK)
        return runtimeError("users in slots " +
                                std::to_string(slots[first]) + ".." +
                                std::to_string(slots[first + count - 1]) +
                                ": batched decode step failed",
                            status);
      // The run starts when its last user is ready and serves them all.
      for (size_t i = 0; i < count; ++i)
        userReady[size_t(active[slots[first + i]])] = ready;
      uint64_t at = 0;
      for (size_t i = 0; i < count; ++i) {
        size_t u = size_t(active[slots[first + i]]);
        if (i == 0) {
          at = schedule(u);
        } else {
          userReady[u] = at;
        }
        llvm::ArrayRef<float> row(batchLogits.data() + i * size_t(vocab),
                                  size_t(vocab));
        if (emitRow(u, at, row)) {
          active[slots[first + i]] = -1;
          ++done;
        }
        bar.advance();
      }
    }
  }
  while (done < prompts.size()) {
    for (uint32_t s = 0; s < result.slots; ++s) {
      if (active[s] < 0) {
        if (nextUser < prompts.size()) {
          // The finished user's slot goes to the next one, no earlier than
          // that user's last token.
          if (llvm::Error e = startUser(s))
            return e;
        }
        continue;
      }
      size_t u = size_t(active[s]);
      int status = selectSlot(s);
      clearRequest();
      if (status == FLIGHT_OK)
        status = decodeStep(int32_t(result.users[u].tokens.back()),
                            logits.data());
      if (status != FLIGHT_OK)
        return runtimeError("user " + std::to_string(u) +
                                ": decode step failed",
                            status);
      if (emit(u, schedule(u))) {
        active[s] = -1;
        ++done;
      }
      bar.advance();
    }
  }
  bar.finish();
  result.seconds = end / hz;
  result.prefillSeconds = prefillEnd / hz;
  result.linkSeconds = linkTotal / hz;
  for (unsigned c = 0; c < n; ++c) {
    result.cardBusySeconds.push_back(cardBusy[c] / hz);
    // Every card draws static power for the whole time.
    sim::Counters counters = sims[c]->total();
    counters.cycles = end;
    result.energyJoules += sims[c]->metrics(counters).energyJoules;
  }
  result.hostSeconds =
      std::chrono::duration<double>(Clock::now() - hostStart).count();
  flushTrace();
  return result;
}

sim::Counters SimSession::totalCounters(std::vector<sim::Counters> *perCard) const {
  sim::Counters sum = sims[0]->total();
  for (size_t c = 1; c < sims.size(); ++c)
    sum.add(sims[c]->total());
  if (perCard && sims.size() > 1)
    for (const auto &s : sims)
      perCard->push_back(s->total());
  return sum;
}

void SimSession::resetCounters() {
  for (auto &s : sims)
    s->resetCounters();
}

void SimSession::flushTrace() {
  if (!pl) {
    sims[0]->flushTrace();
    return;
  }
  if (!traceOut || traceWritten)
    return;
  for (auto &s : sims)
    s->flushTrace();
  *traceOut << "{\"traceEvents\":[\n{\"name\":\"process_name\",\"ph\":\"M\","
               "\"pid\":0,\"tid\":0,\"args\":{\"name\":\"card-to-card links\"}}"
            << linkTrace;
  for (auto &text : cardTraceText)
    *traceOut << *text;
  *traceOut << llvm::formatv(
      "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{{\"generator\":"
      "\"flightllm simulator\",\"clock_mhz\":{0},\"cards\":{1}}}\n",
      targetDesc->clockMHz, sims.size());
  traceOut->flush();
  traceWritten = true;
}

SimSession::~SimSession() {
  if (pl) {
    flushTrace();
    flight_pipeline_close(pl);
  }
  if (rt)
    flight_close(rt);
}

llvm::Error SimSession::runtimeError(llvm::StringRef what, int status) const {
  std::string message =
      what.str() + ": " + flight_status_name(status) + ": " +
      (pl   ? flight_pipeline_last_error(pl)
       : rt ? flight_last_error(rt)
            : "no runtime");
  for (size_t c = 0; c < sims.size(); ++c) {
    const sim::Simulator &s = *sims[c];
    std::string card = sims.size() > 1 ? " of card " + std::to_string(c) : "";
    if (s.fault() != sim::Fault::None)
      message += "\n  simulator fault" + card + " (" +
                 std::string(sim::faultName(s.fault())) +
                 "): " + s.faultMessage();
    if (!s.halError().empty())
      message += "\n  HAL" + card + ": " + s.halError();
  }
  return llvm::createStringError(message);
}

llvm::Error SimSession::checkPrompt(llvm::ArrayRef<int64_t> prompt,
                                    int maxNewTokens) const {
  if (prompt.empty())
    return llvm::createStringError("the prompt is empty");
  int64_t vocab = modelInfo.vocab_size;
  for (int64_t token : prompt)
    if (token < 0 || token >= vocab)
      return llvm::createStringError(
          "token " + llvm::Twine(token) +
          " is outside the model's vocabulary [0, " + llvm::Twine(vocab) + ")");
  if (maxNewTokens < 0)
    return llvm::createStringError("max_new_tokens must not be negative, got " +
                                   llvm::Twine(maxNewTokens));
  int64_t needed =
      int64_t(prompt.size()) + std::max<int64_t>(int64_t(maxNewTokens) - 1, 0);
  if (needed > int64_t(modelInfo.max_context))
    return llvm::createStringError(
        "context overflow: " + llvm::Twine(prompt.size()) +
        " prompt tokens and " + llvm::Twine(maxNewTokens) + " new ones need " +
        llvm::Twine(needed) + " positions, the binary has " +
        llvm::Twine(modelInfo.max_context));
  return llvm::Error::success();
}

llvm::Expected<SimGeneration>
SimSession::generate(llvm::ArrayRef<int64_t> prompt, int maxNewTokens,
                     const TextCodec &codec, TokenCallback onToken) {
  if (llvm::Error e = checkPrompt(prompt, maxNewTokens))
    return e;
  int status = reset();
  if (status != FLIGHT_OK)
    return runtimeError("reset failed", status);
  resetCycles();
  resetCounters();
  linkCycles[0] = linkCycles[1] = 0;
  using Clock = std::chrono::steady_clock;
  Clock::time_point hostStart = Clock::now();

  SimGeneration gen;
  gen.prompt.assign(prompt.begin(), prompt.end());
  gen.timingOnly = timingOnly;
  int64_t vocab = modelInfo.vocab_size;
  std::vector<int32_t> prompt32(prompt.begin(), prompt.end());
  std::vector<float> logits(vocab);
  bool stopped = false;
  // In timing-only mode the logits are zeros: decode feeds a fixed token
  // (the last prompt token) instead of the argmax.
  int64_t fixedToken = prompt.back();
  auto record = [&] {
    gen.logits.insert(gen.logits.end(), logits.begin(), logits.end());
    ++gen.steps;
    if (int64_t(gen.tokens.size()) < maxNewTokens) {
      gen.tokens.push_back(timingOnly ? fixedToken : argmaxToken(logits));
      gen.stoppedAtEOS = !timingOnly && codec.isEndOfSequence(gen.tokens.back());
      if (onToken && !onToken(int64_t(gen.tokens.size()) - 1, gen.tokens.back()))
        stopped = true;
    }
  };

  ProgressBar bar("simulating", uint64_t(std::max(maxNewTokens, 1)));
  status = prefill(prompt32.data(), uint32_t(prompt32.size()), logits.data());
  if (status != FLIGHT_OK)
    return runtimeError("prefill failed", status);
  record();
  bar.advance();
  gen.prefillCounters = totalCounters(&gen.cardPrefillCounters);
  resetCounters();
  while (int64_t(gen.tokens.size()) < maxNewTokens && !gen.stoppedAtEOS &&
         !stopped) {
    uint64_t before = cycleCount.decode;
    status = decodeStep(int32_t(gen.tokens.back()), logits.data());
    if (status != FLIGHT_OK)
      return runtimeError("decode step failed", status);
    gen.decodeStepCycles.push_back(cycleCount.decode - before);
    record();
    ++gen.decodeSteps;
    bar.advance();
  }
  bar.finish();
  gen.decodeCounters = totalCounters(&gen.cardDecodeCounters);
  gen.prefillCycles = cycleCount.prefill;
  gen.decodeCycles = cycleCount.decode;
  gen.prefillLinkCycles = linkCycles[0];
  gen.decodeLinkCycles = linkCycles[1];
  gen.hostSeconds =
      std::chrono::duration<double>(Clock::now() - hostStart).count();
  flushTrace();
  return gen;
}

sim::Metrics
SimSession::systemMetrics(const std::vector<sim::Counters> &perCard,
                          uint64_t wallCycles) const {
  sim::Metrics sum;
  for (size_t c = 0; c < perCard.size() && c < sims.size(); ++c) {
    sim::Counters counters = perCard[c];
    counters.cycles = wallCycles;
    sim::Metrics m = sims[c]->metrics(counters);
    sum.seconds = m.seconds;
    sum.hbmBandwidthUtilization += m.hbmBandwidthUtilization / perCard.size();
    sum.macUtilization += m.macUtilization / perCard.size();
    sum.hbmGBPerS += m.hbmGBPerS;
    sum.energyJoules += m.energyJoules;
    sum.staticJoules += m.staticJoules;
    sum.hbmJoules += m.hbmJoules;
    sum.ddrJoules += m.ddrJoules;
    sum.macJoules += m.macJoules;
    sum.sfuJoules += m.sfuJoules;
  }
  sum.averageWatts = sum.seconds > 0 ? sum.energyJoules / sum.seconds : 0;
  return sum;
}

SimFigures SimSession::figures(const SimGeneration &gen) const {
  SimFigures f;
  double hz = targetDesc->clockMHz * 1e6;
  if (sims.size() == 1) {
    f.prefill = sims[0]->metrics(gen.prefillCounters);
    f.decode = sims[0]->metrics(gen.decodeCounters);
  } else {
    // Every card draws its static power for the whole time, busy or not.
    f.prefill = systemMetrics(gen.cardPrefillCounters, gen.prefillCycles);
    f.decode = systemMetrics(gen.cardDecodeCounters, gen.decodeCycles);
  }
  f.prefillMs = gen.prefillCycles / hz * 1e3;
  f.decodeMs = gen.decodeCycles / hz * 1e3;
  f.decodeMsPerToken = gen.decodeSteps ? f.decodeMs / gen.decodeSteps : 0;
  f.tokensPerS = f.decodeMsPerToken > 0 ? 1000 / f.decodeMsPerToken : 0;
  f.decodeEnergyPerToken =
      gen.decodeSteps ? f.decode.energyJoules / gen.decodeSteps : 0;
  f.simulatedInstructions = gen.prefillCounters.totalInstructions() +
                            gen.decodeCounters.totalInstructions();
  return f;
}

void SimSession::writeMetrics(const SimGeneration &gen,
                              llvm::json::OStream &json) const {
  SimFigures f = figures(gen);
  json.attribute("clock_mhz", targetDesc->clockMHz);
  if (sims.size() > 1) {
    json.attribute("cards", int64_t(sims.size()));
    json.attribute("prefill_link_cycles", int64_t(gen.prefillLinkCycles));
    json.attribute("decode_link_cycles", int64_t(gen.decodeLinkCycles));
  }
  json.attribute("prefill_cycles", int64_t(gen.prefillCycles));
  json.attribute("prefill_ms", f.prefillMs);
  json.attribute("decode_steps", gen.decodeSteps);
  json.attribute("decode_cycles", int64_t(gen.decodeCycles));
  json.attribute("decode_ms_per_token", f.decodeMsPerToken);
  json.attribute("tokens_per_s", f.tokensPerS);
  json.attribute("prefill_hbm_bandwidth_utilization",
                 f.prefill.hbmBandwidthUtilization);
  json.attribute("prefill_mac_utilization", f.prefill.macUtilization);
  json.attribute("prefill_energy_j", f.prefill.energyJoules);
  json.attribute("decode_hbm_bandwidth_utilization",
                 f.decode.hbmBandwidthUtilization);
  json.attribute("decode_hbm_gb_per_s", f.decode.hbmGBPerS);
  json.attribute("decode_mac_utilization", f.decode.macUtilization);
  json.attribute("decode_energy_j_per_token", f.decodeEnergyPerToken);
  json.attribute("decode_average_w", f.decode.averageWatts);
  json.attribute("simulated_instructions", int64_t(f.simulatedInstructions));
  // What the report's plots need: where the time went per queue, and the
  // traffic and work for the roofline.
  for (auto [stage, counters] :
       {std::pair{"prefill", &gen.prefillCounters},
        std::pair{"decode", &gen.decodeCounters}}) {
    json.attributeObject((llvm::Twine(stage) + "_queue_busy_cycles").str(), [&] {
      for (unsigned q = 0; q < isa::kNumQueues; ++q) {
        const char *name = isa::enumValueName(isa::EnumId::Queue, q);
        json.attribute(name ? name : std::to_string(q),
                       int64_t(counters->queueBusyCycles[q]));
      }
    });
    json.attribute((llvm::Twine(stage) + "_hbm_bytes").str(),
                   int64_t(counters->hbmReadBytes + counters->hbmWriteBytes));
    json.attribute((llvm::Twine(stage) + "_macs").str(),
                   int64_t(counters->mmMacs + counters->mvMacs));
  }
  double steps = gen.decodeSteps ? double(gen.decodeSteps) : 1.0;
  json.attributeObject("decode_energy_j_per_token_by_source", [&] {
    json.attribute("static", f.decode.staticJoules / steps);
    json.attribute("hbm", f.decode.hbmJoules / steps);
    json.attribute("ddr", f.decode.ddrJoules / steps);
    json.attribute("mac", f.decode.macJoules / steps);
    json.attribute("sfu", f.decode.sfuJoules / steps);
  });
  json.attributeArray("decode_step_cycles", [&] {
    for (uint64_t c : gen.decodeStepCycles)
      json.value(int64_t(c));
  });
  json.attribute("host_seconds", gen.hostSeconds);
}
