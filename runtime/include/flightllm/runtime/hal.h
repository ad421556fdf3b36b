/*===- hal.h - The accelerator hardware abstraction layer ---------*- C -*-===*
 *
 * The only way the embedded runtime talks to the accelerator: device memory
 * reads/writes, register reads/writes and "run the loaded stream to its SYS
 * end". A board support package implements it over AXI/PCIe; the simulator
 * (lib/Simulator) implements it in software. docs/execution-model.md section 4.
 *
 *===----------------------------------------------------------------------===*/
#ifndef FLIGHTLLM_RUNTIME_HAL_H
#define FLIGHTLLM_RUNTIME_HAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Off-chip memories (the ISA's Memory enumeration). */
enum { FLIGHT_MEM_HBM = 0, FLIGHT_MEM_DDR = 1 };

/* Accelerator registers. Off-chip origins and strides are in 32-byte units. */
enum flight_reg {
  FLIGHT_REG_P = 0,          /* past length (tokens already in the KV cache) */
  FLIGHT_REG_S = 1,          /* new tokens of this run */
  FLIGHT_REG_L = 2,          /* layer register */
  FLIGHT_REG_B1_ORIGIN = 3,
  FLIGHT_REG_B2_ORIGIN = 4,
  FLIGHT_REG_B3_ORIGIN = 5,
  FLIGHT_REG_B1_STRIDE = 6,
  FLIGHT_REG_B2_STRIDE = 7,
  FLIGHT_REG_B3_STRIDE = 8,
  FLIGHT_REG_STREAM_OFFSET = 9, /* byte offset of the stream in DDR channel 0
                                   (of core CORE_SELECT) */
  FLIGHT_REG_STREAM_WORDS = 10, /* length of the stream in 32-bit words
                                   (of core CORE_SELECT) */
  FLIGHT_REG_STATUS = 11,       /* read only: 0 ok, else a fault code */
  FLIGHT_REG_CYCLES_LO = 12,    /* read only: cycles of the last run */
  FLIGHT_REG_CYCLES_HI = 13,
  FLIGHT_REG_CORES = 14,        /* cores run starts: 0 or 1 = core 0 only */
  FLIGHT_REG_CORE_SELECT = 15,  /* the core whose STREAM_OFFSET/STREAM_WORDS
                                   are read and written */
  /* Batched decode (SYS select_seq, docs/isa.md): sequence b's past length
     and the B2 origin of its KV-cache slot, b < FLIGHT_MAX_BATCH. */
  FLIGHT_REG_SEQ_P0 = 16,
  FLIGHT_REG_SEQ_B2_ORIGIN0 = 32,
  FLIGHT_REG_COUNT = 48
};

/* Sequences one batched decode run serves (the ISA's MaxBatch). */
#define FLIGHT_MAX_BATCH 16

typedef struct flight_hal {
  void *ctx;
  /* mem: FLIGHT_MEM_*. Return 0 on success. */
  int (*mem_write)(void *ctx, uint32_t mem, uint32_t channel, uint64_t offset,
                   const void *src, uint64_t bytes);
  int (*mem_read)(void *ctx, uint32_t mem, uint32_t channel, uint64_t offset,
                  void *dst, uint64_t bytes);
  int (*reg_write)(void *ctx, uint32_t reg, uint32_t value);
  int (*reg_read)(void *ctx, uint32_t reg, uint32_t *value);
  /* Start the stream at STREAM_OFFSET (on each of the first CORES cores, its
     own stream) and wait until every core executes SYS end or one faults.
     Returns 0 when all ended normally (STATUS then reads 0). */
  int (*run)(void *ctx);
} flight_hal;

#ifdef __cplusplus
}
#endif

#endif /* FLIGHTLLM_RUNTIME_HAL_H */
