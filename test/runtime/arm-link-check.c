/* Links the runtime for the Cortex-R5 without any C library: this file
 * provides the only two functions the runtime may need (memcpy, memset) and
 * an entry point that reaches the whole API, so that an undefined reference
 * fails the link and --gc-sections keeps exactly the reachable code. */
#include "flightllm/runtime/runtime.h"

void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  while (n--)
    *d++ = *s++;
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  while (n--)
    *d++ = (unsigned char)c;
  return dst;
}

/* The binary in flash and the arena in RAM are placed by the linker
 * (--defsym), so that the image holds the runtime and nothing else big. */
extern const unsigned char flb[];
extern unsigned char arena[];
#define ARENA_BYTES (64 * 1024)
extern const flight_hal board_hal;
float logits[32];
volatile int sink;

void _start(void) {
  flight_runtime *rt = 0;
  int32_t prompt[2] = {1, 2};
  flight_model_info info;
  if (flight_runtime_arena_bytes() <= ARENA_BYTES &&
      flight_open(&rt, arena, ARENA_BYTES, flb, 4096, &board_hal, 0, 0) ==
          FLIGHT_OK) {
    flight_model(rt, &info);
    flight_set_observer(rt, 0, 0);
    sink = flight_prefill(rt, prompt, 2, logits);
    sink = flight_decode_step(rt, 3, logits);
    {
      int32_t next = 4;
      uint32_t slot = 0;
      sink = flight_decode_batch(rt, 1, &next, &slot, logits);
    }
    sink = (int)flight_context_length(rt);
    sink = flight_reset(rt);
  }
  sink = flight_status_name(sink)[0] + flight_last_error(rt)[0];
  flight_close(rt);
  for (;;) {
  }
}

/* Stand-ins for the board's HAL. */
static int hal_mem(void *c, uint32_t m, uint32_t ch, uint64_t o, const void *p,
                   uint64_t n) {
  (void)c; (void)m; (void)ch; (void)o; (void)p; (void)n;
  return 0;
}
static int hal_read(void *c, uint32_t m, uint32_t ch, uint64_t o, void *p,
                    uint64_t n) {
  (void)c; (void)m; (void)ch; (void)o; (void)p; (void)n;
  return 0;
}
static int hal_reg_write(void *c, uint32_t r, uint32_t v) {
  (void)c; (void)r; (void)v;
  return 0;
}
static int hal_reg_read(void *c, uint32_t r, uint32_t *v) {
  (void)c; (void)r;
  *v = 0;
  return 0;
}
static int hal_run(void *c) {
  (void)c;
  return 0;
}
const flight_hal board_hal = {0, hal_mem, hal_read, hal_reg_write,
                              hal_reg_read, hal_run};
