// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-share-quantize))' | FileCheck %s

// Three linears (q, k, v) quantize one normed input each for themselves:
// the first copy serves all three and lives until the last of them.
// CHECK-LABEL: flight.bucket @qkv
// CHECK: %[[Q:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_misc "quantize_dynamic" %[[X:[0-9]+]][0] -> %[[Q]][0]
// CHECK-NEXT: flight.buf_mv %[[Q]], {{.*}} -> %[[A:[0-9]+]][0]
// CHECK-NOT: flight.buf_dealloc %[[Q]]
// CHECK-NOT: "quantize_dynamic"
// CHECK: flight.buf_mv %[[Q]], {{.*}} -> %[[B:[0-9]+]][0]
// CHECK: flight.buf_mv %[[Q]], {{.*}} -> %[[C:[0-9]+]][0]
// CHECK-NEXT: flight.buf_dealloc %[[X]]
// CHECK-NEXT: flight.buf_dealloc %[[Q]]
// CHECK-NOT: flight.buf_dealloc %[[Q]]
flight.bucket @qkv stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %w = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %q1 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q1[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_mv %q1, %w, %s[0] -> %a[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q1 : !flight.buffer<1x128xi8, act>
  %b = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %q2 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q2[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_mv %q2, %w, %s[0] -> %b[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q2 : !flight.buffer<1x128xi8, act>
  %c = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %q3 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q3[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_mv %q3, %w, %s[0] -> %c[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q3 : !flight.buffer<1x128xi8, act>
}

// -----

// Not shared: the input is written between the two copies.
// CHECK-LABEL: flight.bucket @written_between
// CHECK-COUNT-2: "quantize_dynamic"
flight.bucket @written_between stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %q1 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q1[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q1 : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %x[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %q2 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q2[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q2 : !flight.buffer<1x128xi8, act>
}

// -----

// Not shared: other rows (k) of the input, or the first copy was made in
// place (its fp16 rows are gone).
// CHECK-LABEL: flight.bucket @different
// CHECK-COUNT-4: "quantize_dynamic"
flight.bucket @different stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %q1 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q1[0] {k = 32 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q1 : !flight.buffer<1x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %y[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %q2 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %y[0] -> %q2[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q2 : !flight.buffer<1x128xi8, act>
  %q3 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q3[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q3 : !flight.buffer<1x128xi8, act>
}
