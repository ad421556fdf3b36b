// RUN: flightllm-opt %s --pass-pipeline='builtin.module(flight.bucket(flight-share-layers{share-layers=false}))' --verify-diagnostics

// Unrolling needs the layout's base origins.
// expected-error @below {{'flight.bucket' op needs the module's flight.bases (origin) to unroll its layers (run flight-hbm-layout first)}}
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  flight.layer_body layers = 2 weight_stride = 40 kv_stride = 512 {
  }
}
