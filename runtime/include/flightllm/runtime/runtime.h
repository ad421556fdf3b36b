/*===- runtime.h - The FlightLLM embedded runtime: C API -----------*- C -*-===*
 *
 * Runs a compiled model (.flb) on the accelerator through the HAL (hal.h):
 * flight_open validates the binary and loads the instruction streams and the
 * weight image, flight_prefill / flight_decode_step pick a length bucket,
 * write the token embeddings and the registers, start the accelerator and
 * read the logits back. docs/runtime.md describes the API, the arena, the
 * error codes and the protocol; docs/execution-model.md section 4 is the
 * contract with the compiler and the hardware.
 *
 * The runtime allocates nothing: all of its state lives in the arena the
 * caller hands to flight_open (flight_runtime_arena_bytes() bytes, any
 * alignment). It keeps a pointer to the .flb bytes, which must stay valid
 * and unchanged until flight_close. It uses no exceptions, RTTI or library
 * function except memcpy/memset, and is not thread safe (one caller at a
 * time per runtime; separate runtimes are independent).
 *
 *===----------------------------------------------------------------------===*/
#ifndef FLIGHTLLM_RUNTIME_RUNTIME_H
#define FLIGHTLLM_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "flightllm/runtime/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time limits (override with -D when building the runtime).
 * FLIGHT_RUNTIME_MAX_STREAMS: the most instruction streams a binary may hold
 *   (their DDR offsets are remembered in the arena).
 * FLIGHT_RUNTIME_ERROR_BYTES: the size of the last-error message buffer. */
#ifndef FLIGHT_RUNTIME_MAX_STREAMS
#define FLIGHT_RUNTIME_MAX_STREAMS 1024
#endif
#ifndef FLIGHT_RUNTIME_ERROR_BYTES
#define FLIGHT_RUNTIME_ERROR_BYTES 160
#endif
/* FLIGHT_RUNTIME_MAX_SLOTS: the most KV-cache slots (sequences) a binary
 *   may have (each slot's context length is kept in the arena). */
#ifndef FLIGHT_RUNTIME_MAX_SLOTS
#define FLIGHT_RUNTIME_MAX_SLOTS 64
#endif

typedef struct flight_runtime flight_runtime; /* opaque, inside the arena */

typedef struct flight_model_info {
  uint32_t family, num_layers, hidden_size, num_heads, num_kv_heads, head_dim,
      vocab_size, max_context, prefill_bucket_width, decode_bucket_width;
  uint64_t target_fingerprint;
  uint32_t kv_slots; /* sequences with their own KV cache (>= 1) */
  uint32_t batch;    /* sequences one decode run serves (>= 1; --batch) */
} flight_model_info;

enum {
  FLIGHT_OK = 0,
  FLIGHT_ERR_INVALID_ARGUMENT, /* a NULL pointer, an empty prompt */
  FLIGHT_ERR_BAD_BINARY,       /* the .flb fails validation or lacks a part */
  FLIGHT_ERR_TARGET_MISMATCH,  /* compiled for another target fingerprint */
  FLIGHT_ERR_ARENA_TOO_SMALL,
  FLIGHT_ERR_NO_BUCKET,     /* no bucket holds the prompt/context length */
  FLIGHT_ERR_CONTEXT_FULL,  /* the context would exceed max_context */
  FLIGHT_ERR_BAD_TOKEN,     /* a token outside [0, vocab_size) */
  FLIGHT_ERR_HAL,           /* a HAL call returned non-zero */
  FLIGHT_ERR_DEVICE_FAULT,  /* the accelerator reported a fault (STATUS) */
  FLIGHT_ERR_STATE          /* not open, or prefill on a non-empty context */
};

/* flight_open flags. */
enum { FLIGHT_OPEN_SKIP_WEIGHTS = 1 /* do not write the weight image */ };

/* Bytes of arena the runtime needs (compile-time limits above). */
size_t flight_runtime_arena_bytes(void);

/* Validates the binary (magic, version, checksums, bounds; the target
 * fingerprint unless expected_fingerprint is 0), checks that it has the
 * metadata, bucket table and device map the runtime needs, writes every
 * instruction stream to DDR channel 0 and every weight image to its HBM
 * channel. On success *rt is the open runtime. On failure *rt is the failed
 * runtime when the arena could hold it (for flight_last_error and
 * flight_close only), else NULL. */
int flight_open(flight_runtime **rt, void *arena, size_t arena_bytes,
                const void *flb, size_t flb_bytes, const flight_hal *hal,
                uint64_t expected_fingerprint, uint32_t flags);

int flight_model(const flight_runtime *rt, flight_model_info *info);

/* Runs the prompt (the context must be empty) and writes the next-token
 * logits after its last token (vocab_size floats) to `logits`. */
int flight_prefill(flight_runtime *rt, const int32_t *tokens, uint32_t count,
                   float *logits);
/* Appends one token to the context and writes the next-token logits. */
int flight_decode_step(flight_runtime *rt, int32_t token, float *logits);

/* P: the tokens in the context (0 when not open). */
uint32_t flight_context_length(const flight_runtime *rt);
/* Empties the context (P = 0). */
int flight_reset(flight_runtime *rt);

/* KV-cache slots (flightllm-compile --kv-slots=N): each slot is a sequence
 * with its own KV cache and context length. flight_prefill,
 * flight_decode_step, flight_reset and flight_context_length act on the
 * selected slot (0 after open), so a finished sequence's slot is reused by
 * flight_reset and a new prefill while the others keep their contexts. */
int flight_select_slot(flight_runtime *rt, uint32_t slot);
/* Batched decode: sequence i (KV-cache slot slots[i], distinct, each at its
 * own context length) appends tokens[i]; its next-token logits go to
 * logits + i * vocab_size. A binary compiled with --batch=B runs up to B
 * sequences in one accelerator run (fewer are padded onto a free slot);
 * other binaries run them one after another. Prefill and reset stay per
 * slot (flight_select_slot). */
int flight_decode_batch(flight_runtime *rt, uint32_t count,
                        const int32_t *tokens, const uint32_t *slots,
                        float *logits);
/* Forgets the runtime; the arena may be reused afterwards. */
void flight_close(flight_runtime *rt);

/* The message of the last error (naming the section, bucket or HAL call),
 * "ok" when there was none; never NULL. */
const char *flight_last_error(const flight_runtime *rt);
/* "ok", "invalid-argument", "bad-binary", ... for a FLIGHT_* status. */
const char *flight_status_name(int status);

/* Optional observer, for the tools: called after each accelerator run with
 * the stage (0 prefill, 1 decode), bucket index and the cycles the device
 * reported (CYCLES_HI:CYCLES_LO). NULL removes it. */
typedef void (*flight_run_observer)(void *user, uint32_t stage, uint32_t bucket,
                                    uint64_t cycles);
void flight_set_observer(flight_runtime *rt, flight_run_observer fn,
                         void *user);

#ifdef __cplusplus
}
#endif

#endif /* FLIGHTLLM_RUNTIME_RUNTIME_H */
