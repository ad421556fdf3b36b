// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

// One split per verifier error of the buffer-level ops.

%a = flight.buffer : !flight.buffer<4x8xi8, act>
// expected-error @+1 {{'flight.tile_load' op the source must be in hbm or ddr, not act}}
%r = flight.tile_load %a : !flight.buffer<4x8xi8, act> -> !flight.buffer<4x8xi8, weight>

// -----

%h = flight.buffer : !flight.buffer<4x8xi8, hbm>
// expected-error @+1 {{'flight.tile_load' op the result must be in act or weight or meta, not acc}}
%r = flight.tile_load %h : !flight.buffer<4x8xi8, hbm> -> !flight.buffer<4x8xi8, acc>

// -----

%h = flight.buffer : !flight.buffer<4x8xi8, hbm>
// expected-error @+1 {{'flight.tile_load' op the element types differ: 'i8' off chip, 'f16' on chip}}
%r = flight.tile_load %h : !flight.buffer<4x8xi8, hbm> -> !flight.buffer<4x4xf16, weight>

// -----

%h = flight.buffer : !flight.buffer<4x8xi8, hbm>
// expected-error @+1 {{'flight.tile_load' op moves 256 bits off chip but 512 on chip}}
%r = flight.tile_load %h : !flight.buffer<4x8xi8, hbm> -> !flight.buffer<8x8xi8, weight>

// -----

%v = flight.buffer : !flight.buffer<4x8xi8, weight>
%h = flight.buffer : !flight.buffer<4x8xi8, hbm>
// expected-error @+1 {{'flight.tile_store' op the stored value must be in act or acc, not weight}}
flight.tile_store %v, %h : !flight.buffer<4x8xi8, weight>, !flight.buffer<4x8xi8, hbm>

// -----

%v = flight.buffer : !flight.buffer<4x8xi8, act>
%h = flight.buffer : !flight.buffer<4x8xi8, act>
// expected-error @+1 {{'flight.tile_store' op the destination must be in hbm or ddr, not act}}
flight.tile_store %v, %h : !flight.buffer<4x8xi8, act>, !flight.buffer<4x8xi8, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, meta>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op x must be in act, not meta}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, meta>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xf16, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op x must hold 'i8', not 'f16'}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xf16, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op x must have rank 2, not 1}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, act>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op w must be in weight, not act}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, act>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<2x16x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op w must have rank 2, not 3}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<2x16x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, act>
// expected-error @+1 {{'flight.buf_mm' op scales must be in meta, not act}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, act> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf16, meta>
// expected-error @+1 {{'flight.buf_mm' op scales must hold 'f32', not 'f16'}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf16, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<1x32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op scales must have rank 1, not 2}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<1x32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op the result must be in act, not acc}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, acc>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op the result must have rank 2, not 1}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<128xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op w must hold i4 for precision w4a8, not 'i8'}}
%r = flight.buf_mm %x, %w, %s {precision = #flight.precision<w4a8>} : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op the result must hold f16 or f32, not 'i32'}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xi32, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mv' op computes one token: x must be 1xK, not 4x64}}
%r = flight.buf_mv %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op x has K = 64 but w has K = 32 (K-major)}}
%r = flight.buf_mm %x, %w, %s {b_kmajor} : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x40xi8, act>
%w = flight.buffer : !flight.buffer<32x40xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op N:16 sparsity needs K a multiple of 16, not 40}}
%r = flight.buf_mm %x, %w, %s {sparsity = #flight.sparsity<n2>} : !flight.buffer<4x40xi8, act>, !flight.buffer<32x40xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<16xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op needs one scale per output channel (32), not 16}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<16xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
%b = flight.buffer : !flight.buffer<32xf32, act>
// expected-error @+1 {{'flight.buf_mm' op bias must be in meta, not act}}
%r = flight.buf_mm %x, %w, %s bias %b : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta>, !flight.buffer<32xf32, act> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
%b = flight.buffer : !flight.buffer<32xf16, meta>
// expected-error @+1 {{'flight.buf_mm' op bias must hold 'f32', not 'f16'}}
%r = flight.buf_mm %x, %w, %s bias %b : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta>, !flight.buffer<32xf16, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
%b = flight.buffer : !flight.buffer<16xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op needs one bias per output channel (32)}}
%r = flight.buf_mm %x, %w, %s bias %b : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta>, !flight.buffer<16xf32, meta> -> !flight.buffer<4x32xf16, act>

// -----

%x = flight.buffer : !flight.buffer<4x64xi8, act>
%w = flight.buffer : !flight.buffer<32x64xi8, weight>
%s = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_mm' op the result must be 4x32, not 4x16}}
%r = flight.buf_mm %x, %w, %s : !flight.buffer<4x64xi8, act>, !flight.buffer<32x64xi8, weight>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x16xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op unknown MISC kind 'tanh'}}
%r = flight.buf_misc "tanh" %a : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, meta>
// expected-error @+1 {{'flight.buf_misc' op a must be in act, not meta}}
%r = flight.buf_misc "relu" %a : !flight.buffer<4x32xf16, meta> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xi32, act>
%b = flight.buffer : !flight.buffer<32xf32, meta>
// expected-error @+1 {{'flight.buf_misc' op a must be in acc, not act}}
%r = flight.buf_misc "dequantize" %a, %b : !flight.buffer<4x32xi32, act>, !flight.buffer<32xf32, meta> -> !flight.buffer<4x32xf32, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op the result must be in act, not meta}}
%r = flight.buf_misc "relu" %a : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, meta>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op the result must have a's shape}}
%r = flight.buf_misc "relu" %a : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x16xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op the result must hold 'i8', not 'f16'}}
%r = flight.buf_misc "quantize_dynamic" %a : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
%b = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op 'relu' takes no operand b}}
%r = flight.buf_misc "relu" %a, %b : !flight.buffer<4x32xf16, act>, !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op 'add' needs operand b}}
%r = flight.buf_misc "add" %a : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op 'rmsnorm' needs operand b (its parameters)}}
%r = flight.buf_misc "rmsnorm" %a : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
%b = flight.buffer : !flight.buffer<4x32xf16, meta>
// expected-error @+1 {{'flight.buf_misc' op b must be in act, not meta}}
%r = flight.buf_misc "mul" %a, %b : !flight.buffer<4x32xf16, act>, !flight.buffer<4x32xf16, meta> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
%b = flight.buffer : !flight.buffer<4x16xf16, act>
// expected-error @+1 {{'flight.buf_misc' op b must have a's shape}}
%r = flight.buf_misc "swiglu" %a, %b : !flight.buffer<4x32xf16, act>, !flight.buffer<4x16xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
%b = flight.buffer : !flight.buffer<2x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op b must be in meta, not act}}
%r = flight.buf_misc "layernorm" %a, %b : !flight.buffer<4x32xf16, act>, !flight.buffer<2x32xf16, act> -> !flight.buffer<4x32xf16, act>

// -----

%a = flight.buffer : !flight.buffer<4x32xf16, act>
// expected-error @+1 {{'flight.buf_misc' op only softmax is masked}}
%r = flight.buf_misc "relu" %a {masked} : !flight.buffer<4x32xf16, act> -> !flight.buffer<4x32xf16, act>

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

// expected-error @+1 {{'flight.layer_body' op expects parent op to be one of 'flight.bucket, flight.prefill_tile'}}
flight.layer_body layers = 2 weight_stride = 1 kv_stride = 1 {
}
