/* runtime.h, pipeline.h and hal.h are C headers: this file compiles them as C (C99)
 * and takes the address of every function of the API. */
#include "flightllm/runtime/pipeline.h"
#include "flightllm/runtime/runtime.h"

int flightRuntimeCApiCompilesAsC(void) {
  flight_model_info info = {0};
  flight_run_observer observer = 0;
  flight_hal hal = {0};
  void *functions[] = {
      (void *)&flight_runtime_arena_bytes, (void *)&flight_open,
      (void *)&flight_model,               (void *)&flight_prefill,
      (void *)&flight_decode_step,         (void *)&flight_context_length,
      (void *)&flight_reset,               (void *)&flight_close,
      (void *)&flight_last_error,          (void *)&flight_status_name,
      (void *)&flight_set_observer,        (void *)&flight_select_slot,
      (void *)&flight_decode_batch,
      (void *)&flight_pipeline_arena_bytes, (void *)&flight_pipeline_open,
      (void *)&flight_pipeline_info_get,   (void *)&flight_pipeline_card,
      (void *)&flight_pipeline_prefill,    (void *)&flight_pipeline_decode_step,
      (void *)&flight_pipeline_decode_batch,
      (void *)&flight_pipeline_context_length,
      (void *)&flight_pipeline_select_slot, (void *)&flight_pipeline_reset,
      (void *)&flight_pipeline_close,      (void *)&flight_pipeline_last_error};
  unsigned i;
  (void)observer;
  (void)hal;
  for (i = 0; i < sizeof(functions) / sizeof(functions[0]); ++i)
    if (functions[i] == 0)
      return 1;
  return info.vocab_size == 0 && FLIGHT_ERR_STATE == 10 &&
                 FLIGHT_REG_COUNT == 48 && FLIGHT_MAX_BATCH == 16 &&
                 FLIGHT_OPEN_SKIP_WEIGHTS == 1
             ? 0
             : 1;
}
