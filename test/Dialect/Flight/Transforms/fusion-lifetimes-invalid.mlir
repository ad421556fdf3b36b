// The fusions move buffer lifetimes; they refuse IR whose lifetimes are not
// one alloc ... one dealloc in one block with every use between.
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-fuse-swiglu))' --verify-diagnostics
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-share-quantize))' --verify-diagnostics
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-fuse-in-place))' --verify-diagnostics

flight.bucket @use_after_dealloc stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %q = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  // expected-note @below {{deallocated here}}
  flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
  // expected-error-re @below {{'flight.buf_misc' op uses a buffer after its flight.buf_dealloc ({{flight-[a-z-]+}} needs uses within the lifetime)}}
  flight.buf_misc "quantize_dynamic" %x[0] -> %q[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q : !flight.buffer<1x128xi8, act>
}

// -----

flight.bucket @twice stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %x[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  // expected-note @below {{first deallocated here}}
  flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
  // expected-error-re @below {{'flight.buf_dealloc' op deallocates a buffer a second time ({{flight-[a-z-]+}} needs one lifetime per buffer)}}
  flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %y : !flight.buffer<1x128xi8, act>
}

// -----

flight.bucket @other_block stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.layer_body layers = 2 {
    %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "silu" %x[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    // expected-error-re @below {{'flight.buf_dealloc' op ends a buffer's lifetime outside the block of its flight.buf_alloc ({{flight-[a-z-]+}} needs both in one block)}}
    flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %y : !flight.buffer<1x128xi8, act>
  }
}
