// RUN: flightllm-opt %s -split-input-file --pass-pipeline='builtin.module(flight.bucket(flight-fuse-swiglu))' | FileCheck %s

// Two linears over one quantized input, two 64-channel tiles each, then a
// SwiGLU over their results: one tile loop, each tile's products into two
// one-row temporaries and the tile's SwiGLU into its columns of %h, which
// takes the place of the gate result; gate and up are gone.
// CHECK-LABEL: flight.bucket @decode
// CHECK: %[[X:[0-9]+]] = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: %[[H:[0-9]+]] = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
// CHECK-NEXT: %[[Q:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_misc "quantize_dynamic" %[[X]][0] -> %[[Q]][0]
// CHECK-NEXT: %[[GT:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: %[[UT:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: %[[WG:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
// CHECK-NEXT: %[[SG:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
// CHECK-NEXT: %[[WU:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
// CHECK-NEXT: %[[SU:[0-9]+]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
// CHECK-NEXT: flight.tile_load {{.*}} -> %[[WG]][0]
// CHECK-NEXT: flight.tile_load {{.*}} -> %[[SG]][0]
// CHECK-NEXT: flight.tile_load {{.*}} -> %[[WU]][0]
// CHECK-NEXT: flight.tile_load {{.*}} -> %[[SU]][0]
// CHECK-NEXT: flight.buf_mv %[[Q]], %[[WG]], %[[SG]][0] -> %[[GT]][0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64}
// CHECK-NEXT: flight.buf_mv %[[Q]], %[[WU]], %[[SU]][0] -> %[[UT]][0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 1 : i64}
// CHECK-NEXT: flight.buf_misc "swiglu" %[[GT]][0], %[[UT]][0] -> %[[H]][0] {a_step = 1 : i64, b_step = 1 : i64, k = 64 : i64, out_step = 2 : i64, rows = 1 : i64}
// CHECK-NEXT: flight.buf_dealloc %[[GT]]
// CHECK-NEXT: flight.buf_dealloc %[[UT]]
// CHECK-NEXT: flight.buf_dealloc %[[WG]]
// CHECK-NEXT: flight.buf_dealloc %[[WU]]
// CHECK-NEXT: flight.buf_dealloc %[[SG]]
// CHECK-NEXT: flight.buf_dealloc %[[SU]]
// CHECK: flight.buf_misc "swiglu" {{.*}} -> %[[H]][1] {a_step = 1 : i64, b_step = 1 : i64, k = 64 : i64, out_step = 2 : i64, rows = 1 : i64}
// CHECK: flight.buf_dealloc %[[Q]]
// CHECK-NEXT: flight.buf_dealloc %[[H]]
// CHECK-NOT: flight.buf_misc
flight.bucket @decode stage <decode> min_length = 1 max_length = 16 {
  %r = flight.hbm_region "w" holds <params> : !flight.buffer<8192xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %g0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g0w, %g0s[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g0s : !flight.buffer<1x128xi8, meta>
  %g1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g1w, %g1s[0] -> %g[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g1s : !flight.buffer<1x128xi8, meta>
  %u = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %u0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u0w, %u0s[0] -> %u[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u0s : !flight.buffer<1x128xi8, meta>
  %u1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u1w, %u1s[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u1s : !flight.buffer<1x128xi8, meta>
  flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q : !flight.buffer<1x128xi8, act>
  %h = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g : !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u : !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %h : !flight.buffer<2x128xi8, act>
}

// -----

// Each linear quantized its input itself (flight-share-quantize has not
// run): the two copies are of the same rows, so the first serves both.
// CHECK-LABEL: flight.bucket @own_copies
// CHECK-COUNT-1: "quantize_dynamic"
// CHECK-NOT: "quantize_dynamic"
// CHECK: flight.buf_mv %[[Q:[0-9]+]], %{{.*}} -> %[[GT:[0-9]+]][0]
// CHECK-NEXT: flight.buf_mv %[[Q]], %{{.*}} -> %[[UT:[0-9]+]][0]
// CHECK-NEXT: flight.buf_misc "swiglu" %[[GT]][0], %[[UT]][0]
flight.bucket @own_copies stage <decode> min_length = 1 max_length = 16 {
  %r = flight.hbm_region "w" holds <params> : !flight.buffer<8192xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q1 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q1[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %g0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q1, %g0w, %g0s[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g0s : !flight.buffer<1x128xi8, meta>
  %g1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q1, %g1w, %g1s[0] -> %g[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g1s : !flight.buffer<1x128xi8, meta>
  flight.buf_dealloc %q1 : !flight.buffer<1x128xi8, act>
  %u = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q2 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q2[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %u0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q2, %u0w, %u0s[0] -> %u[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u0s : !flight.buffer<1x128xi8, meta>
  %u1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q2, %u1w, %u1s[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u1s : !flight.buffer<1x128xi8, meta>
  flight.buf_dealloc %x : !flight.buffer<1x128xi8, act>
  flight.buf_dealloc %q2 : !flight.buffer<1x128xi8, act>
  %h = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g : !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u : !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %h : !flight.buffer<2x128xi8, act>
}

// -----

// Not fused: the two linears read different inputs.
// CHECK-LABEL: flight.bucket @other_input
// CHECK-COUNT-4: flight.buf_mv {{.*}} out_stride = 2 : i64}
// CHECK: flight.buf_misc "swiglu" %{{.*}}[0], %{{.*}}[0] -> %{{.*}}[0] {a_step = 2 : i64, b_step = 2 : i64, k = 128 : i64
flight.bucket @other_input stage <decode> min_length = 1 max_length = 16 {
  %r = flight.hbm_region "w" holds <params> : !flight.buffer<8192xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %y = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q1 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q1[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %g0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q1, %g0w, %g0s[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g0s : !flight.buffer<1x128xi8, meta>
  %g1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q1, %g1w, %g1s[0] -> %g[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g1s : !flight.buffer<1x128xi8, meta>
  %u = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q2 = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %y[0] -> %q2[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %u0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q2, %u0w, %u0s[0] -> %u[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u0s : !flight.buffer<1x128xi8, meta>
  %u1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q2, %u1w, %u1s[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u1s : !flight.buffer<1x128xi8, meta>
  %h = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}

// -----

// Not fused: another op reads the gate result.
// CHECK-LABEL: flight.bucket @gate_read
// CHECK-COUNT-4: flight.buf_mv {{.*}} out_stride = 2 : i64}
// CHECK: flight.buf_misc "swiglu" %{{.*}}[0], %{{.*}}[0] -> %{{.*}}[0] {a_step = 2 : i64, b_step = 2 : i64, k = 128 : i64
flight.bucket @gate_read stage <decode> min_length = 1 max_length = 16 {
  %r = flight.hbm_region "w" holds <params> : !flight.buffer<8192xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %g0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g0w, %g0s[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g0s : !flight.buffer<1x128xi8, meta>
  %g1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g1w, %g1s[0] -> %g[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g1s : !flight.buffer<1x128xi8, meta>
  %u = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %u0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u0w, %u0s[0] -> %u[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u0s : !flight.buffer<1x128xi8, meta>
  %u1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u1w, %u1s[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u1s : !flight.buffer<1x128xi8, meta>
  %c = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "silu" %g[0] -> %c[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  %h = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}

// -----

// Not fused: the SwiGLU covers fewer channels than the tiles wrote.
// CHECK-LABEL: flight.bucket @partial
// CHECK-COUNT-4: flight.buf_mv {{.*}} out_stride = 2 : i64}
// CHECK: flight.buf_misc "swiglu" %{{.*}}[0], %{{.*}}[0] -> %{{.*}}[0] {a_step = 2 : i64, b_step = 2 : i64, k = 96 : i64
flight.bucket @partial stage <decode> min_length = 1 max_length = 16 {
  %r = flight.hbm_region "w" holds <params> : !flight.buffer<8192xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %g0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g0w, %g0s[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g0s : !flight.buffer<1x128xi8, meta>
  %g1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %g1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g1w, %g1s[0] -> %g[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g1s : !flight.buffer<1x128xi8, meta>
  %u = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %u0w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u0s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u0w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u0s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u0w, %u0s[0] -> %u[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u0w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u0s : !flight.buffer<1x128xi8, meta>
  %u1w = flight.buf_alloc <temporary> : !flight.buffer<8x128xi8, weight>
  %u1s = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u1w[0] length 1024 : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u1s[0] length 128 : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u1w, %u1s[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u1w : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u1s : !flight.buffer<1x128xi8, meta>
  %h = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 96 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}

// -----

// Cores: each fused tile runs on its products' core; one exchange of the
// result remains, where the up linear's was.
// CHECK-LABEL: flight.bucket @cores
// CHECK: flight.buf_alloc <temporary> {flight.core = 0 : i64} : !flight.buffer<1x128xi8, act>
// CHECK: flight.buf_misc "swiglu" {{.*}} -> %[[H:[0-9]+]][0] {a_step = 1 : i64, b_step = 1 : i64, flight.core = 0 : i64
// CHECK: flight.buf_misc "swiglu" {{.*}} -> %[[H]][1] {a_step = 1 : i64, b_step = 1 : i64, flight.core = 1 : i64
// CHECK: flight.buf_exchange %[[H]] tokens 1 row_stride 2 slices [0, 128, 256]
// CHECK-NOT: flight.buf_exchange
flight.bucket @cores stage <decode> min_length = 1 max_length = 16 {
  %r = flight.hbm_region "w" holds <params> : !flight.buffer<8192xi8, hbm>
  %x = flight.buf_alloc <value> : !flight.buffer<1x128xi8, act>
  %g = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %q = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
  flight.buf_misc "quantize_dynamic" %x[0] -> %q[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<1x128xi8, act> -> !flight.buffer<1x128xi8, act>
  %g0w = flight.buf_alloc <temporary> {flight.core = 0 : i64} : !flight.buffer<8x128xi8, weight>
  %g0s = flight.buf_alloc <temporary> {flight.core = 0 : i64} : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g0w[0] length 1024 {flight.core = 0 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g0s[0] length 128 {flight.core = 0 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g0w, %g0s[0] -> %g[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64, flight.core = 0 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g0w {flight.core = 0 : i64} : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g0s {flight.core = 0 : i64} : !flight.buffer<1x128xi8, meta>
  %g1w = flight.buf_alloc <temporary> {flight.core = 1 : i64} : !flight.buffer<8x128xi8, weight>
  %g1s = flight.buf_alloc <temporary> {flight.core = 1 : i64} : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %g1w[0] length 1024 {flight.core = 1 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %g1s[0] length 128 {flight.core = 1 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %g1w, %g1s[0] -> %g[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64, flight.core = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %g1w {flight.core = 1 : i64} : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %g1s {flight.core = 1 : i64} : !flight.buffer<1x128xi8, meta>
  flight.buf_exchange %g tokens 1 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, act>
  %u = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %u0w = flight.buf_alloc <temporary> {flight.core = 0 : i64} : !flight.buffer<8x128xi8, weight>
  %u0s = flight.buf_alloc <temporary> {flight.core = 0 : i64} : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u0w[0] length 1024 {flight.core = 0 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u0s[0] length 128 {flight.core = 0 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u0w, %u0s[0] -> %u[0] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64, flight.core = 0 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u0w {flight.core = 0 : i64} : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u0s {flight.core = 0 : i64} : !flight.buffer<1x128xi8, meta>
  %u1w = flight.buf_alloc <temporary> {flight.core = 1 : i64} : !flight.buffer<8x128xi8, weight>
  %u1s = flight.buf_alloc <temporary> {flight.core = 1 : i64} : !flight.buffer<1x128xi8, meta>
  flight.tile_load %r[0] -> %u1w[0] length 1024 {flight.core = 1 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<8x128xi8, weight>
  flight.tile_load %r[1024] -> %u1s[0] length 128 {flight.core = 1 : i64} : !flight.buffer<8192xi8, hbm>, !flight.buffer<1x128xi8, meta>
  flight.buf_mv %q, %u1w, %u1s[0] -> %u[1] {k_blocks = 1 : i64, n = 64 : i64, out_stride = 2 : i64, flight.core = 1 : i64} : !flight.buffer<1x128xi8, act>, !flight.buffer<8x128xi8, weight>, !flight.buffer<1x128xi8, meta> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %u1w {flight.core = 1 : i64} : !flight.buffer<8x128xi8, weight>
  flight.buf_dealloc %u1s {flight.core = 1 : i64} : !flight.buffer<1x128xi8, meta>
  flight.buf_exchange %u tokens 1 row_stride 2 slices [0, 128, 256] : !flight.buffer<2x128xi8, act>
  %h = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "swiglu" %g[0], %u[0] -> %h[0] {k = 128 : i64, rows = 1 : i64, a_step = 2 : i64, b_step = 2 : i64, out_step = 2 : i64} : !flight.buffer<2x128xi8, act>, !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}
