// RUN: flightllm-opt %s -split-input-file --flight-fuse | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --flight-fuse=relu=false | FileCheck %s --check-prefix=OFF

// A ReLU in place over what two MV tiles wrote side by side becomes their
// relu flag.
// CHECK-LABEL: flight.bucket @tiles
// CHECK: flight.buf_mv {{.*}} -> %[[Y:.*]][0] {k_blocks = 2 : i64, n = 64 : i64, out_stride = 2 : i64, relu}
// CHECK: flight.buf_mv {{.*}} -> %[[Y]][1] {k_blocks = 2 : i64, n = 64 : i64, out_stride = 2 : i64, relu}
// CHECK-NOT: "relu"
// OFF-LABEL: flight.bucket @tiles
// OFF-NOT: relu}
// OFF: flight.buf_misc "relu"
flight.bucket @tiles stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 2 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[1] {k_blocks = 2 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<2x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "relu" %y[0] -> %y[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}

// -----

// In a prefill tile the ReLU must cover the tile's tokens.
// CHECK-LABEL: flight.bucket @prefill
// CHECK: flight.buf_mm {{.*}}relu}
// CHECK-NOT: "relu"
flight.bucket @prefill stage <prefill> min_length = 1 max_length = 128 {
  flight.prefill_tile index = 0 tokens = 128 {
    %x = flight.buf_alloc <value> : !flight.buffer<128x128xi8, act>
    %w = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, weight>
    %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
    %y = flight.buf_alloc <value> : !flight.buffer<128x128xi8, act>
    flight.buf_mm %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<128x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<128x128xi8, act>
    flight.buf_misc "relu" %y[0] -> %y[0] {k = 64 : i64, rows = 128 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<128x128xi8, act> -> !flight.buffer<128x128xi8, act>
  }
}

// -----

// Not fused: the ReLU covers fewer elements than the product wrote.
// CHECK-LABEL: flight.bucket @partial
// CHECK-NOT: relu}
// CHECK: flight.buf_misc "relu"
flight.bucket @partial stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_misc "relu" %y[0] -> %y[0] {k = 32 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
}

// -----

// Not fused: the ReLU writes another buffer (its operand lives on).
// CHECK-LABEL: flight.bucket @not_in_place
// CHECK-NOT: relu}
// CHECK: flight.buf_misc "relu"
flight.bucket @not_in_place stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %z = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_misc "relu" %y[0] -> %z[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
}

// -----

// Not fused: another op reads the product's rows before the ReLU.
// CHECK-LABEL: flight.bucket @read_between
// CHECK-NOT: relu}
// CHECK: flight.buf_misc "relu"
flight.bucket @read_between stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_mv %x, %w, %s[0] -> %y[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_misc "copy" %y[0] -> %x[0] {k = 128 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_misc "relu" %y[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
}
