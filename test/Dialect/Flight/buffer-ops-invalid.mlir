// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

// One split per verifier error of the buffer-level ops.

// expected-error @+1 {{'flight.buf_alloc' op the buffer must be in act or weight or meta, not hbm}}
%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, hbm>

// -----

// expected-error @+1 {{'flight.buf_alloc' op holds 512 bits, not whole rows of 128 bytes}}
%a = flight.buf_alloc <temporary> : !flight.buffer<64xi8, act>

// -----

%h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<128xi8, hbm>
// expected-error @+1 {{'flight.buf_dealloc' op the operand must be a flight.buf_alloc result}}
flight.buf_dealloc %h : !flight.buffer<128xi8, hbm>

// -----

// expected-error @+1 {{'flight.hbm_region' op the region must be in hbm or ddr, not act}}
%h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<128xi8, act>

// -----

// expected-error @+1 {{'flight.hbm_region' op needs a channel >= 0 and an offset >= 0 that is a multiple of 32 bytes}}
%h = flight.hbm_region "w" holds <params> channel 0 offset 16 : !flight.buffer<128xi8, hbm>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%b = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.tile_load' op the HBM side must be in hbm or ddr, not act}}
flight.tile_load %a[0] -> %b[0] length 128 : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act>

// -----

%h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<256xi8, hbm>
%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.tile_store' op the on-chip side must be in act, not weight}}
flight.tile_store %a[0] -> %h[0] length 128 : !flight.buffer<2x128xi8, weight>, !flight.buffer<256xi8, hbm>

// -----

%h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<256xi8, hbm>
%a = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.tile_load' op offset, length and stride must be multiples of 32 bytes (length > 0, the others >= 0)}}
flight.tile_load %h[0] -> %a[0] length 100 : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, weight>

// -----

%h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<256xi8, hbm>
%a = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.tile_load' op a run-time parameter needs a stride and a stride a parameter}}
flight.tile_load %h[0] -> %a[0] length 128 param <P> : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, weight>

// -----

%h = flight.hbm_region "w" holds <params> channel 0 offset 0 : !flight.buffer<512xi8, hbm>
%a = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.tile_load' op the on-chip side: rows [1, 4) are not within the buffer's 2 rows}}
flight.tile_load %h[0] -> %a[1] length 384 : !flight.buffer<512xi8, hbm>, !flight.buffer<2x128xi8, weight>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, meta>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mm' op x must be in act, not meta}}
flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, meta>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, act>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mv' op w must be in weight, not act}}
flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mm' op scales must be in meta, not act}}
flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.buf_mm' op out must be in act, not weight}}
flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, weight>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mm' op needs k_blocks >= 1, n >= 1, out_stride >= 0}}
flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 0 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mm' op out_format must be f16 or f32, not 'i32'}}
flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64, out_format = "i32"} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mm' op out: rows [2, 3) are not within the buffer's 2 rows}}
flight.buf_mm %x, %w, %s[0] -> %y[2] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mm' op scales: rows [1, 2) are not within the buffer's 1 rows}}
flight.buf_mm %x, %w, %s[1] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op unknown MISC kind 'tanh'}}
flight.buf_misc "tanh" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, meta>
// expected-error @+1 {{'flight.buf_misc' op a must be in act, not meta}}
flight.buf_misc "silu" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, meta> -> !flight.buffer<2x128xi8, meta>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op a must be in acc, not act}}
flight.buf_misc "dequantize" %a[0], %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%o = flight.buf_alloc <value> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.buf_misc' op out must be in act, not weight}}
flight.buf_misc "silu" %a[0] -> %o[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, weight>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op 'silu' takes no operand b}}
flight.buf_misc "silu" %a[0], %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op 'add' needs operand b}}
flight.buf_misc "add" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op 'rmsnorm' needs operand b (its parameters)}}
flight.buf_misc "rmsnorm" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op b must be in meta, not act}}
flight.buf_misc "rmsnorm" %a[0], %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%b = flight.buf_alloc <value> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.buf_misc' op b must be in act or meta, not weight}}
flight.buf_misc "add" %a[0], %b[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op only softmax and mul are masked}}
flight.buf_misc "silu" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, masked} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op 'quantize_value4' packs its rows itself: out_step must be 0}}
flight.buf_misc "quantize_value4" %a[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%h = flight.hbm_region "kv" holds <kv_cache> channel 0 offset 0 : !flight.buffer<256xi8, hbm>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
// expected-error @+1 {{'flight.tile_load' op chunk must be a multiple of 32 bytes that divides the length}}
flight.tile_load %h[0] -> %w[0] length 96 chunk 64 : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, weight>

// -----

%h = flight.hbm_region "kv" holds <kv_cache> channel 0 offset 0 : !flight.buffer<256xi8, hbm>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
// Three 32-byte chunks take a row each.
// expected-error @+1 {{'flight.tile_load' op the on-chip side: rows [0, 3) are not within the buffer's 2 rows}}
flight.tile_load %h[0] -> %w[0] length 96 chunk 32 : !flight.buffer<256xi8, hbm>, !flight.buffer<2x128xi8, weight>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op needs k >= 1, rows >= 1 and steps >= 0}}
flight.buf_misc "silu" %a[0] -> %a[0] {k = 64 : i64, rows = 0 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----

%a = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_misc' op a: rows [5, 6) are not within the buffer's 2 rows}}
flight.buf_misc "silu" %a[5] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>

// -----


// expected-error @+1 {{'flight.bucket' op lengths must satisfy 1 <= min_length <= max_length, not 33..32}}
flight.bucket @b stage <decode> min_length = 33 max_length = 32 {
}

// -----

flight.bucket @b stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{'flight.prefill_tile' op belongs in a prefill bucket}}
  flight.prefill_tile index = 0 tokens = 128 {
  }
}

// -----

flight.bucket @b stage <prefill> min_length = 1 max_length = 128 {
  // expected-error @+1 {{'flight.prefill_tile' op needs index >= 0 and tokens >= 1}}
  flight.prefill_tile index = 0 tokens = 0 {
  }
}

// -----

flight.bucket @b stage <prefill> min_length = 1 max_length = 128 {
  // expected-error @+1 {{'flight.prefill_tile' op tile 1 starts at token 128, beyond the bucket's 128 tokens}}
  flight.prefill_tile index = 1 tokens = 128 {
  }
}

// -----

// expected-error @+1 {{'flight.prefill_tile' op expects parent op 'flight.bucket'}}
flight.prefill_tile index = 0 tokens = 128 {
}

// -----

flight.bucket @b stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{'flight.layer_body' op runs at least one layer, not 0}}
  flight.layer_body layers = 0 weight_stride = 1 kv_stride = 1 {
  }
}

// -----

flight.bucket @b stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{'flight.layer_body' op base register strides must be >= 0}}
  flight.layer_body layers = 2 weight_stride = -1 kv_stride = 1 {
  }
}

// -----

flight.bucket @b stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{'flight.layer_body' op first_layer must be >= 0, not -1}}
  flight.layer_body layers = 2 first_layer = -1 weight_stride = 1 kv_stride = 1 {
  }
}

// -----

// expected-error @+1 {{'flight.layer_body' op expects parent op to be one of 'flight.bucket, flight.prefill_tile'}}
flight.layer_body layers = 2 weight_stride = 1 kv_stride = 1 {
}

// -----

%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, meta>
// expected-error @+1 {{'flight.buf_exchange' op buffer must be in act, not meta}}
flight.buf_exchange %y tokens 1 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, meta>

// -----

%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_exchange' op needs the slice bounds of at least two cores}}
flight.buf_exchange %y tokens 1 row_stride 2 slices [0, 256] : !flight.buffer<2x128xi8, act>

// -----

%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_exchange' op slice bound 100 is negative, not a multiple of 32, decreasing or beyond the token's 256 bytes}}
flight.buf_exchange %y tokens 1 row_stride 2 slices [0, 100, 256] : !flight.buffer<2x128xi8, act>

// -----

%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_exchange' op needs tokens >= 1 and row_stride >= 1}}
flight.buf_exchange %y tokens 0 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, act>

// -----

%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_exchange' op the last token's slices end beyond the buffer}}
flight.buf_exchange %y tokens 2 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, act>

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mv' op sparse or grouped weights must be channel-major (no b_kmajor)}}
flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64, b_kmajor, sparsity = #flight.sparsity<n4>} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

// expected-error @+1 {{'flight.select_seq' op sequence 16 is not below the ISA's 16 (MaxBatch)}}
flight.select_seq 16

// -----

%x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
%w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
%s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
%y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// expected-error @+1 {{'flight.buf_mv' op x: rows [2, 3) are not within the buffer's 2 rows}}
flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 2 : i64, out_stride = 1 : i64, x_row = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>

// -----

// The custom syntax takes the strides together; the generic form can give
// one without the other.
flight.bucket @b stage <decode> min_length = 1 max_length = 16 {
  // expected-error @+1 {{'flight.layer_body' op needs both base register strides, or neither}}
  "flight.layer_body"() <{layers = 2 : i64, weight_stride = 40 : i64}> ({
  ^bb0:
  }) : () -> ()
}

// -----

// A channel without an offset (generic form, as above).
// expected-error @+1 {{'flight.hbm_region' op needs both a channel and an offset, or neither}}
%h = "flight.hbm_region"() <{channel = 0 : i64, holds = #flight.holds<params>, name = "w"}> : () -> !flight.buffer<128xi8, hbm>
