/*===- pipeline.h - Several cards as one pipeline: C API ------------*- C -*-===*
 *
 * Runs a system binary (flightllm-compile --system, docs/binary-format.md
 * kinds 10 and 11) on N cards, one HAL per card: card c runs decoder layers
 * [first_c, first_c + count_c); card 0 also writes the token embeddings, the
 * last card computes the logits. After a card's run the hidden-state rows
 * of the new tokens go to the next card's input rows through the link
 * callback, card to card without the host. docs/runtime.md, "Pipelines".
 *
 * As runtime.h: no heap (the arena holds one runtime per card, up to
 * FLIGHT_PIPELINE_MAX_CARDS), the .flb bytes must outlive the pipeline.
 *
 *===----------------------------------------------------------------------===*/
#ifndef FLIGHTLLM_RUNTIME_PIPELINE_H
#define FLIGHTLLM_RUNTIME_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "flightllm/runtime/hal.h"
#include "flightllm/runtime/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FLIGHT_PIPELINE_MAX_CARDS
#define FLIGHT_PIPELINE_MAX_CARDS 16
#endif

typedef struct flight_link {
  void *ctx;
  /* Copies `bytes` from HBM of card src_card to HBM of card dst_card over
   * the card-to-card link (a peer-to-peer DMA; the host does not touch the
   * data). 0 = ok. */
  int (*copy)(void *ctx, uint32_t src_card, uint32_t src_channel,
              uint64_t src_offset, uint32_t dst_card, uint32_t dst_channel,
              uint64_t dst_offset, uint64_t bytes);
} flight_link;

typedef struct flight_pipeline flight_pipeline; /* opaque, inside the arena */

typedef struct flight_pipeline_info {
  uint32_t cards, num_layers;
  /* Sequences per decode run on every card (the micro-batch; 1 unless the
   * stages were compiled with --batch). */
  uint32_t batch;
  uint32_t first_layer[FLIGHT_PIPELINE_MAX_CARDS];
  uint32_t layer_count[FLIGHT_PIPELINE_MAX_CARDS];
  /* The plan's links: effective MB/s and ns per transfer. */
  uint32_t link_mbps, link_latency_ns, host_mbps, host_latency_ns;
} flight_pipeline_info;

size_t flight_pipeline_arena_bytes(void);

/* Validates the system binary and opens every card's stage binary on
 * hals[card] (hal_count must equal the plan's cards), as flight_open. */
int flight_pipeline_open(flight_pipeline **pl, void *arena, size_t arena_bytes,
                         const void *flb, size_t flb_bytes,
                         const flight_hal *hals, uint32_t hal_count,
                         const flight_link *link, uint64_t expected_fingerprint,
                         uint32_t flags);

int flight_pipeline_info_get(const flight_pipeline *pl,
                             flight_pipeline_info *info);
/* Card `card`'s runtime (flight_model, flight_set_observer); NULL when out
 * of range or not open. */
flight_runtime *flight_pipeline_card(flight_pipeline *pl, uint32_t card);

/* As flight_prefill / flight_decode_step, through every card. */
int flight_pipeline_prefill(flight_pipeline *pl, const int32_t *tokens,
                            uint32_t count, float *logits);
int flight_pipeline_decode_step(flight_pipeline *pl, int32_t token,
                                float *logits);
/* As flight_decode_batch, through every card: one micro-batch. On a
 * batched system binary (--batch=B with --system) each card decodes the
 * `count` sequences (count <= B, distinct slots) in one run and hands its
 * B hidden-state rows to the next card; otherwise the sequences go through
 * the pipeline one after another. A failure on a card after card 0 leaves
 * the cards out of step (flight_pipeline_reset). */
int flight_pipeline_decode_batch(flight_pipeline *pl, uint32_t count,
                                 const int32_t *tokens, const uint32_t *slots,
                                 float *logits);
uint32_t flight_pipeline_context_length(const flight_pipeline *pl);
/* flight_select_slot on every card. */
int flight_pipeline_select_slot(flight_pipeline *pl, uint32_t slot);
int flight_pipeline_reset(flight_pipeline *pl);
void flight_pipeline_close(flight_pipeline *pl);
/* "card 2: ..." for a card's failure; "ok" when there was none. */
const char *flight_pipeline_last_error(const flight_pipeline *pl);

#ifdef __cplusplus
}
#endif

#endif /* FLIGHTLLM_RUNTIME_PIPELINE_H */
