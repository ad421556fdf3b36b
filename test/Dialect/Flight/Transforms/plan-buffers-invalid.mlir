// RUN: flightllm-opt %s -split-input-file --flight-plan-buffers -verify-diagnostics

flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{on-chip weight buffer exhausted: 20000 rows of 128 bytes do not fit (16384 rows)}}
  %w = flight.buf_alloc <temporary> : !flight.buffer<20000x128xi8, weight>
}

// -----

flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %a : !flight.buffer<1x128xi8, act>
  // expected-error @+1 {{'flight.buf_misc' op uses a buffer that is not allocated here (a flight.buf_alloc before it, not yet deallocated)}}
  flight.buf_misc "silu" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
}

// -----

flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{'flight.sync' op is not a buffer-level op flight-plan-buffers places}}
  flight.sync
}

// -----

flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  %h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<128xi8, hbm>
  %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  // expected-error @+1 {{the model exceeds an ISA limit: }}
  flight.tile_load %h[0] -> %a[0] length 32 base <B1> param <P> stride 1099511627776 : !flight.buffer<128xi8, hbm>, !flight.buffer<1x128xi8, act>
}

// -----

// Core 2 runs an op, so the bucket has three cores; the exchange names two.
flight.bucket @decode_32 stage <decode> min_length = 17 max_length = 32 {
  %y = flight.buf_alloc <value> {flight.core = 2 : i64} : !flight.buffer<2x128xi8, act>
  // expected-error @+1 {{'flight.buf_exchange' op has the slices of 2 cores in a bucket of 3}}
  flight.buf_exchange %y tokens 1 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, act>
}

// -----

flight.bucket @decode_48 stage <decode> min_length = 33 max_length = 48 {
  // expected-error @+1 {{'flight.buf_alloc' op runs on core -1 of a bucket of 1 cores}}
  %y = flight.buf_alloc <value> {flight.core = -1 : i64} : !flight.buffer<2x128xi8, act>
}

// -----

// Regions get their places from flight-hbm-layout.
flight.bucket @decode_16 stage <decode> min_length = 1 max_length = 16 {
  // expected-error @below {{'flight.hbm_region' op has no place in HBM (run flight-hbm-layout before flight-plan-buffers)}}
  %w = flight.hbm_region "w" holds <params> : !flight.buffer<1024xi8, hbm>
  %t = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  flight.tile_load %w[0] -> %t[0] length 1024 : !flight.buffer<1024xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %t : !flight.buffer<8x128xi8, weight>
}
