//===- Pipeline.cpp - Several cards as one pipeline -----------------------===//
//
// The C API of pipeline.h: one runtime (Runtime.cpp) per card on its own
// HAL, the hidden-state rows moved between cards through the link callback.
// Freestanding like Runtime.cpp. docs/runtime.md, "Pipelines".
//===----------------------------------------------------------------------===//

#include "flightllm/runtime/pipeline.h"

#include "RuntimeInternal.h"

#include "flightllm/Binary/Format.h"
#include "flightllm/Binary/Reader.h"

#include <new> // placement new only (freestanding)

using namespace flightllm;
using namespace flightllm::binary;
using flightllm::runtime::StageIO;

static_assert(FLIGHT_PIPELINE_MAX_CARDS <= kMaxPipelineCards,
              "the format names at most kMaxPipelineCards cards");

namespace {
constexpr uint32_t kPipelineMagic = 0x4C505046u; // "FPPL"
constexpr uint32_t kClosedMagic = 0x4C504344u;
constexpr size_t kAlignment = 16;
} // namespace

struct flight_pipeline {
  uint32_t magic;
  bool open;
  uint32_t cards;
  flight_link link;
  flight_pipeline_info info;
  /// Sequences per decode run on every card (1 unless --batch), and the
  /// logits per sequence.
  uint32_t batch;
  uint32_t vocab;
  flight_runtime *rt[FLIGHT_PIPELINE_MAX_CARDS];
  StageIO io[FLIGHT_PIPELINE_MAX_CARDS];
  char error[FLIGHT_RUNTIME_ERROR_BYTES];
};

namespace {

size_t cardArenaBytes() {
  return (flight_runtime_arena_bytes() + kAlignment - 1) & ~(kAlignment - 1);
}

/// The pipeline's last-error buffer.
class Message : public runtime::ErrorWriter {
public:
  explicit Message(flight_pipeline *target)
      : ErrorWriter(target->error, sizeof(target->error)) {}
};

bool isLive(const flight_pipeline *pl) {
  return pl != nullptr && pl->magic == kPipelineMagic && pl->open;
}

int bad(flight_pipeline *pl, const char *what) {
  Message(pl) << "bad binary: " << what;
  return FLIGHT_ERR_BAD_BINARY;
}

/// Card c's failure `status`, its message prefixed with the card.
int cardFailed(flight_pipeline *pl, uint32_t card, int status) {
  Message(pl) << "card " << card << ": " << flight_last_error(pl->rt[card]);
  return status;
}

/// Reads and checks the plan: contiguous stages covering every layer, the
/// prologue on the first card, the epilogue on the last.
int readPlan(flight_pipeline *pl, const BinaryView &view) {
  SectionEntry s;
  if (!view.findSection(SectionKind::Pipeline, 0, s))
    return bad(pl, "system binary has no pipeline section");
  if (s.size < kPipelineHeaderSize)
    return bad(pl, "pipeline section shorter than its header");
  const uint8_t *p = view.sectionData(s);
  PipelineHeader h = PipelineHeader::decode(p);
  if (h.cardCount == 0 || h.cardCount > FLIGHT_PIPELINE_MAX_CARDS) {
    Message(pl) << "bad binary: pipeline of " << h.cardCount
                << " cards (1 to " << static_cast<uint32_t>(FLIGHT_PIPELINE_MAX_CARDS)
                << " supported)";
    return FLIGHT_ERR_BAD_BINARY;
  }
  if (h.entrySize < kPipelineStageSize || h.entrySize % 4 != 0 ||
      (s.size - kPipelineHeaderSize) / h.entrySize < h.cardCount)
    return bad(pl, "pipeline stage records out of the section");
  pl->cards = h.cardCount;
  flight_pipeline_info &info = pl->info;
  info.cards = h.cardCount;
  info.num_layers = h.numLayers;
  info.link_mbps = h.linkBandwidthMBps;
  info.link_latency_ns = h.linkLatencyNs;
  info.host_mbps = h.hostBandwidthMBps;
  info.host_latency_ns = h.hostLatencyNs;
  uint32_t next = 0;
  for (uint32_t c = 0; c < h.cardCount; ++c) {
    PipelineStage st = PipelineStage::decode(
        p + kPipelineHeaderSize + static_cast<uint64_t>(c) * h.entrySize);
    const uint32_t want = (c == 0 ? kStageOwnsPrologue : 0u) |
                          (c + 1 == h.cardCount ? kStageOwnsEpilogue : 0u);
    if (st.firstLayer != next || st.layerCount == 0 ||
        st.layerCount > h.numLayers - next || st.flags != want) {
      Message(pl) << "bad binary: pipeline stage " << c
                  << " is not the next run of layers after " << next
                  << " (with the embeddings on the first card and the "
                     "logits on the last)";
      return FLIGHT_ERR_BAD_BINARY;
    }
    info.first_layer[c] = st.firstLayer;
    info.layer_count[c] = st.layerCount;
    next += st.layerCount;
  }
  if (next != h.numLayers)
    return bad(pl, "pipeline stages do not cover every layer");
  return FLIGHT_OK;
}

/// Opens card c's stage binary and checks it against the plan.
int openCard(flight_pipeline *pl, const BinaryView &view, uint8_t *arena,
             uint32_t c, const flight_hal *hal, uint64_t fingerprint,
             uint32_t flags) {
  SectionEntry s;
  if (!view.findSection(SectionKind::Card, c, s)) {
    Message(pl) << "bad binary: no program for card " << c;
    return FLIGHT_ERR_BAD_BINARY;
  }
  int status = flight_open(&pl->rt[c], arena, cardArenaBytes(),
                           view.sectionData(s), static_cast<size_t>(s.size),
                           hal, fingerprint,
                           flags | runtime::kOpenPipelineStage);
  if (status != FLIGHT_OK)
    return pl->rt[c] ? cardFailed(pl, c, status) : status;
  StageIO &io = pl->io[c];
  runtime::stageIO(pl->rt[c], io);
  const uint32_t want = (c == 0 ? 0u : kStageHiddenInput) |
                        (c + 1 == pl->cards ? 0u : kStageHiddenOutput);
  if (io.stageFlags != want || io.numLayers != pl->info.layer_count[c]) {
    Message(pl) << "bad binary: card " << c
                << "'s program does not match its pipeline stage";
    return FLIGHT_ERR_BAD_BINARY;
  }
  flight_model_info info, first;
  flight_model(pl->rt[c], &info);
  flight_model(pl->rt[0], &first);
  if (info.kv_slots != first.kv_slots) {
    Message(pl) << "bad binary: card " << c << " has " << info.kv_slots
                << " KV-cache slots, card 0 " << first.kv_slots;
    return FLIGHT_ERR_BAD_BINARY;
  }
  // A micro-batch is the same B rows on every card.
  if (info.batch != first.batch) {
    Message(pl) << "bad binary: card " << c << " decodes " << info.batch
                << " sequences per run, card 0 " << first.batch;
    return FLIGHT_ERR_BAD_BINARY;
  }
  pl->batch = first.batch > 1 ? first.batch : 1;
  pl->vocab = info.vocab_size;
  if (c > 0 && (io.rowBytes != pl->io[c - 1].rowBytes ||
                io.inputRows > pl->io[c - 1].inputRows)) {
    Message(pl) << "bad binary: card " << c
                << "'s input rows differ from card " << (c - 1)
                << "'s output rows";
    return FLIGHT_ERR_BAD_BINARY;
  }
  return FLIGHT_OK;
}

/// Card c ran: its `count` output rows go to card c + 1's input rows.
int handOver(flight_pipeline *pl, uint32_t c, uint32_t count) {
  const StageIO &from = pl->io[c], &to = pl->io[c + 1];
  const uint64_t bytes = static_cast<uint64_t>(count) * from.rowBytes;
  int status = pl->link.copy(pl->link.ctx, c, from.outputChannel,
                             from.outputOffset, c + 1, to.inputChannel,
                             to.inputOffset, bytes);
  if (status != 0) {
    Message(pl) << "HAL: link copy from card " << c << " to card " << (c + 1)
                << " failed with " << static_cast<uint32_t>(status);
    return FLIGHT_ERR_HAL;
  }
  return FLIGHT_OK;
}

/// Runs `runCard` on every card in turn, handing `rows` output rows to the
/// next card after each run.
template <typename RunCard>
int throughCards(flight_pipeline *pl, uint32_t rows, bool prefill,
                 RunCard runCard) {
  for (uint32_t c = 0; c < pl->cards; ++c) {
    int status = runCard(pl->rt[c]);
    if (status != FLIGHT_OK) {
      // Keep the cards' contexts in step: a failed prefill leaves every
      // card where it was before the request.
      for (uint32_t d = 0; d < c; ++d)
        if (prefill)
          flight_reset(pl->rt[d]);
      if (!prefill && c > 0)
        Message(pl) << "card " << c << " failed after card 0 advanced; "
                    << "flight_pipeline_reset to start over: "
                    << flight_last_error(pl->rt[c]);
      else
        cardFailed(pl, c, status);
      return status;
    }
    if (c + 1 < pl->cards) {
      status = handOver(pl, c, rows);
      if (status != FLIGHT_OK)
        return status;
    }
  }
  Message(pl) << "ok";
  return FLIGHT_OK;
}

/// One request through every card. A batched decode run computes B rows
/// whatever the request (padding rows included), and hands them all on.
int step(flight_pipeline *pl, const int32_t *tokens, uint32_t count,
         float *logits, bool prefill) {
  return throughCards(pl, prefill ? count : pl->batch, prefill,
                      [&](flight_runtime *rt) {
                        return prefill
                                   ? flight_prefill(rt, tokens, count, logits)
                                   : flight_decode_step(rt, tokens[0], logits);
                      });
}

/// One micro-batch of `count` sequences (at most the batch) through every
/// card: each card's flight_decode_batch, then its B rows to the next card.
int microBatch(flight_pipeline *pl, uint32_t count, const int32_t *tokens,
               const uint32_t *slots, float *logits) {
  return throughCards(pl, pl->batch, false, [&](flight_runtime *rt) {
    return flight_decode_batch(rt, count, tokens, slots, logits);
  });
}

} // namespace

extern "C" {

size_t flight_pipeline_arena_bytes(void) {
  // Alignment padding in front of the state and after it.
  return sizeof(flight_pipeline) + 2 * kAlignment +
         FLIGHT_PIPELINE_MAX_CARDS * cardArenaBytes();
}

int flight_pipeline_open(flight_pipeline **out, void *arena, size_t arena_bytes,
                         const void *flb, size_t flb_bytes,
                         const flight_hal *hals, uint32_t hal_count,
                         const flight_link *link, uint64_t expected_fingerprint,
                         uint32_t flags) {
  if (out == nullptr)
    return FLIGHT_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  if (arena == nullptr)
    return FLIGHT_ERR_INVALID_ARGUMENT;
  if (arena_bytes < flight_pipeline_arena_bytes())
    return FLIGHT_ERR_ARENA_TOO_SMALL;
  const uintptr_t base = reinterpret_cast<uintptr_t>(arena);
  const size_t pad =
      static_cast<size_t>((kAlignment - base % kAlignment) % kAlignment);
  uint8_t *start = static_cast<uint8_t *>(arena) + pad;
  __builtin_memset(start, 0, sizeof(flight_pipeline));
  flight_pipeline *pl = new (start) flight_pipeline;
  pl->magic = kClosedMagic;
  Message(pl) << "ok";
  *out = pl;
  uint8_t *cardArenas =
      start + ((sizeof(flight_pipeline) + kAlignment - 1) & ~(kAlignment - 1));

  if (flb == nullptr || hals == nullptr || link == nullptr ||
      link->copy == nullptr) {
    Message(pl) << "flight_pipeline_open: NULL binary, HALs or link";
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  pl->link = *link;
  ValidateOptions options;
  options.checkTarget = expected_fingerprint != 0;
  options.expectedFingerprint = expected_fingerprint;
  Error err;
  BinaryView view;
  Status status = view.open(static_cast<const uint8_t *>(flb), flb_bytes, err,
                            options);
  if (status != Status::Ok) {
    Message(pl) << (status == Status::TargetMismatch ? "" : "bad binary: ")
                << statusName(status) << ": " << err.message << " (at byte "
                << err.offset << ")";
    return status == Status::TargetMismatch ? FLIGHT_ERR_TARGET_MISMATCH
                                            : FLIGHT_ERR_BAD_BINARY;
  }
  if ((view.header().flags & kFlagSystem) == 0)
    return bad(pl, "not a system binary (compile with --system; a one-card "
                   "binary runs with flight_open)");
  int result = readPlan(pl, view);
  if (result != FLIGHT_OK)
    return result;
  if (hal_count != pl->cards) {
    Message(pl) << "flight_pipeline_open: " << hal_count
                << " HALs for a pipeline of " << pl->cards << " cards";
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  for (uint32_t c = 0; c < pl->cards; ++c) {
    result = openCard(pl, view, cardArenas + c * cardArenaBytes(), c, &hals[c],
                      expected_fingerprint, flags);
    if (result != FLIGHT_OK)
      return result;
  }
  pl->info.batch = pl->batch;
  pl->magic = kPipelineMagic;
  pl->open = true;
  Message(pl) << "ok";
  return FLIGHT_OK;
}

int flight_pipeline_info_get(const flight_pipeline *pl,
                             flight_pipeline_info *info) {
  if (!isLive(pl) || info == nullptr)
    return pl == nullptr || info == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT
                                            : FLIGHT_ERR_STATE;
  *info = pl->info;
  return FLIGHT_OK;
}

flight_runtime *flight_pipeline_card(flight_pipeline *pl, uint32_t card) {
  return isLive(pl) && card < pl->cards ? pl->rt[card] : nullptr;
}

int flight_pipeline_prefill(flight_pipeline *pl, const int32_t *tokens,
                            uint32_t count, float *logits) {
  if (!isLive(pl))
    return pl == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : FLIGHT_ERR_STATE;
  return step(pl, tokens, count, logits, /*prefill=*/true);
}

int flight_pipeline_decode_step(flight_pipeline *pl, int32_t token,
                                float *logits) {
  if (!isLive(pl))
    return pl == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : FLIGHT_ERR_STATE;
  return step(pl, &token, 1, logits, /*prefill=*/false);
}

int flight_pipeline_decode_batch(flight_pipeline *pl, uint32_t count,
                                 const int32_t *tokens, const uint32_t *slots,
                                 float *logits) {
  if (!isLive(pl))
    return pl == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : FLIGHT_ERR_STATE;
  if (tokens == nullptr || slots == nullptr || logits == nullptr ||
      count == 0) {
    Message(pl) << "flight_pipeline_decode_batch: "
                << (count == 0 ? "no sequences"
                               : "NULL tokens, slots or logits");
    return FLIGHT_ERR_INVALID_ARGUMENT;
  }
  // Batched cards take the whole micro-batch in one run each (card 0
  // checks it first, before anything advances); unbatched ones take the
  // sequences one after another through the whole pipeline.
  if (pl->batch > 1)
    return microBatch(pl, count, tokens, slots, logits);
  for (uint32_t i = 0; i < count; ++i) {
    int status = microBatch(pl, 1, tokens + i, slots + i,
                            logits + static_cast<uint64_t>(i) * pl->vocab);
    if (status != FLIGHT_OK)
      return status;
  }
  return FLIGHT_OK;
}

uint32_t flight_pipeline_context_length(const flight_pipeline *pl) {
  return isLive(pl) ? flight_context_length(pl->rt[0]) : 0;
}

int flight_pipeline_select_slot(flight_pipeline *pl, uint32_t slot) {
  if (!isLive(pl))
    return pl == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : FLIGHT_ERR_STATE;
  for (uint32_t c = 0; c < pl->cards; ++c) {
    int status = flight_select_slot(pl->rt[c], slot);
    if (status != FLIGHT_OK)
      return cardFailed(pl, c, status);
  }
  Message(pl) << "ok";
  return FLIGHT_OK;
}

int flight_pipeline_reset(flight_pipeline *pl) {
  if (!isLive(pl))
    return pl == nullptr ? FLIGHT_ERR_INVALID_ARGUMENT : FLIGHT_ERR_STATE;
  for (uint32_t c = 0; c < pl->cards; ++c)
    flight_reset(pl->rt[c]);
  Message(pl) << "ok";
  return FLIGHT_OK;
}

void flight_pipeline_close(flight_pipeline *pl) {
  if (pl == nullptr ||
      (pl->magic != kPipelineMagic && pl->magic != kClosedMagic))
    return;
  for (uint32_t c = 0; c < FLIGHT_PIPELINE_MAX_CARDS; ++c)
    if (pl->rt[c] != nullptr)
      flight_close(pl->rt[c]);
  pl->magic = 0;
  pl->open = false;
}

const char *flight_pipeline_last_error(const flight_pipeline *pl) {
  if (pl == nullptr)
    return "no pipeline (flight_pipeline_open failed before it had an arena)";
  if (pl->magic != kPipelineMagic && pl->magic != kClosedMagic)
    return "not an open pipeline";
  return pl->error;
}

} // extern "C"
