// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-fuse-in-place))' | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-fuse-in-place{element-wise=false}))' | FileCheck %s --check-prefix=NOELT
// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-fuse-in-place{quantize=false}))' | FileCheck %s --check-prefix=NOQ

// An element-wise op whose first operand dies there writes over it.
// CHECK-LABEL: flight.bucket @dies
// CHECK: %[[A:[0-9]+]] = flight.buf_alloc <value>
// CHECK-NEXT: %[[B:[0-9]+]] = flight.buf_alloc <value>
// CHECK-NEXT: flight.buf_misc "add" %[[A]][0], %[[B]][0] -> %[[A]][0]
// CHECK-NEXT: flight.buf_dealloc %[[B]]
// CHECK-NEXT: flight.buf_misc "silu" %[[A]][0] -> %[[A]][0]
// CHECK-NEXT: flight.buf_dealloc %[[A]]
// CHECK-NOT: flight.buf_dealloc
// NOELT-LABEL: flight.bucket @dies
// NOELT: flight.buf_misc "add" %[[A:[0-9]+]][0], %[[B:[0-9]+]][0] -> %[[Y:[0-9]+]][0]
// NOELT-NOT: -> %[[A]][0]
flight.bucket @dies stage <decode> min_length = 1 max_length = 16 {
  %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %b = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "add" %a[0], %b[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %a : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %b : !flight.buffer<1x128xi8, act>
  %z = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %y[0] -> %z[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %y : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %z : !flight.buffer<1x128xi8, act>
}

// -----

// The second operand, when the first lives on.
// CHECK-LABEL: flight.bucket @second
// CHECK: flight.buf_misc "mul" %[[A:[0-9]+]][0], %[[B:[0-9]+]][0] -> %[[B]][0]
flight.bucket @second stage <decode> min_length = 1 max_length = 16 {
  %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %b = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "mul" %a[0], %b[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %b : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %a[0] -> %y[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %a : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %y : !flight.buffer<1x128xi8, act>
}

// -----

// The residual stream: the layer's input (allocated outside the layer
// body, never deallocated) is dead from the first residual add until the
// copy that leaves the layer's output there, so both adds write into it and
// the copy goes.
// CHECK-LABEL: flight.bucket @residual
// CHECK: %[[X:[0-9]+]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK: flight.layer_body
// CHECK: flight.buf_misc "rmsnorm" %[[X]][0]
// CHECK: flight.buf_misc "add" %[[X]][0], %[[A:[0-9]+]][0] -> %[[X]][0]
// CHECK: flight.buf_misc "rmsnorm" %[[X]][0]
// CHECK: flight.buf_misc "add" %[[X]][0], %[[M:[0-9]+]][0] -> %[[X]][0]
// CHECK-NOT: flight.buf_dealloc %[[X]]
// CHECK-NOT: "copy"
// CHECK: }
// NOELT-LABEL: flight.bucket @residual
// NOELT: "copy"
flight.bucket @residual stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %p = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.layer_body layers = 2 {
    %n1 = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "rmsnorm" %x[0], %p[0] -> %n1[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
    %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "silu" %n1[0] -> %a[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %n1 : !flight.buffer<1x128xi8, act>
    %h = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "add" %x[0], %a[0] -> %h[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %a : !flight.buffer<1x128xi8, act>
    %n2 = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "rmsnorm" %h[0], %p[0] -> %n2[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
    %m = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "gelu" %n2[0] -> %m[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %n2 : !flight.buffer<1x128xi8, act>
    %o = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "add" %h[0], %m[0] -> %o[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %h : !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %m : !flight.buffer<1x128xi8, act>
    flight.buf_misc "copy" %o[0] -> %x[0] {k = 128 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  }
}

// -----

// Not in place over an input the block reads later without overwriting it
// whole first.
// CHECK-LABEL: flight.bucket @live_out
// CHECK: flight.buf_misc "add" %[[X:[0-9]+]][0], %[[A:[0-9]+]][0] -> %[[H:[0-9]+]][0]
// CHECK-NOT: "add" {{.*}} -> %[[X]][0]
flight.bucket @live_out stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %a = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  flight.layer_body layers = 2 {
    %h = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
    flight.buf_misc "add" %x[0], %a[0] -> %h[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, b_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_misc "copy" %h[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
    flight.buf_dealloc %h : !flight.buffer<1x128xi8, act>
  }
}

// -----

// quantize_dynamic over its operand when the operand dies there and the
// INT8 rows fit; not when the operand is read later, or a token's INT8 rows
// would reach past its fp16 rows.
// CHECK-LABEL: flight.bucket @quantize
// CHECK: %[[X:[0-9]+]] = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// CHECK-NEXT: flight.buf_misc "quantize_dynamic" %[[X]][0] -> %[[X]][0]
// CHECK-NEXT: flight.buf_mv %[[X]]
// CHECK-NEXT: flight.buf_dealloc %[[X]]
// CHECK-NOT: flight.buf_dealloc %[[X]]
// CHECK: %[[Y:[0-9]+]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK: flight.buf_misc "quantize_dynamic" %[[Y]][0] -> %[[QY:[0-9]+]][0]
// CHECK: %[[Z:[0-9]+]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK: flight.buf_misc "quantize_dynamic" %[[Z]][0] -> %[[QZ:[0-9]+]][0]
// NOQ-LABEL: flight.bucket @quantize
// NOQ: %[[Q:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, act>
// NOQ-NEXT: flight.buf_misc "quantize_dynamic" {{.*}} -> %[[Q]][0]
flight.bucket @quantize stage <decode> min_length = 1 max_length = 16 {
  %w = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, weight>
  %s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  %out = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_mv %q, %w, %s[0] -> %out[0] {k_blocks = 8 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %x : !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %q : !flight.buffer<2x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %qy = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %y[0] -> %qy[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_mv %qy, %w, %s[0] -> %out[0] {k_blocks = 4 : i64, n = 64 : i64, out_stride = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<1x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %qy : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %y[0] -> %out[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %y : !flight.buffer<1x128xi8, act>
  %z = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %qz = flight.buf_alloc <temporary> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "quantize_dynamic" %z[0] -> %qz[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 2 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %z : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %qz : !flight.buffer<2x128xi8, act>
}
