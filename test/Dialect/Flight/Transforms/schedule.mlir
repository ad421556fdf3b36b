// RUN: flightllm-opt %s -split-input-file --flight-schedule | FileCheck %s
// RUN: flightllm-opt %s -split-input-file --flight-schedule=attention=false | FileCheck %s --check-prefix=PLAIN

// Two heads' stages in plain order (A0 B0 C0 D0 A1 B1 C1 D1, one SFU op
// per stage here) become A0 B0 A1 C0 B1 D0 C1 D1; the tags go.
// CHECK-LABEL: flight.bucket @two_heads
// CHECK: flight.buf_misc "silu" %{{.*}}[0] -> %{{.*}}[0] {a_step = 1 : i64, k = 64 : i64, out_step = 1 : i64, rows = 1 : i64}
// CHECK-NEXT: flight.buf_misc "gelu" %{{.*}}[0] -> %{{.*}}[0]
// CHECK-NEXT: flight.buf_misc "silu" %{{.*}}[1] -> %{{.*}}[1]
// CHECK-NEXT: flight.buf_misc "relu" %{{.*}}[0] -> %{{.*}}[0]
// CHECK-NEXT: flight.buf_misc "gelu" %{{.*}}[1] -> %{{.*}}[1]
// CHECK-NEXT: flight.buf_misc "copy" %{{.*}}[0] -> %{{.*}}[0]
// CHECK-NEXT: flight.buf_misc "relu" %{{.*}}[1] -> %{{.*}}[1]
// CHECK-NEXT: flight.buf_misc "copy" %{{.*}}[1] -> %{{.*}}[1]
// CHECK-NEXT: flight.buf_dealloc
// CHECK-NOT: flight.attention_stage
// PLAIN-LABEL: flight.bucket @two_heads
// PLAIN: flight.buf_misc "silu" %{{.*}}[0]
// PLAIN-NEXT: flight.buf_misc "gelu" %{{.*}}[0]
// PLAIN-NEXT: flight.buf_misc "relu" %{{.*}}[0]
// PLAIN-NEXT: flight.buf_misc "copy" %{{.*}}[0]
// PLAIN-NEXT: flight.buf_misc "silu" %{{.*}}[1]
// PLAIN-NOT: flight.attention_stage
flight.bucket @two_heads stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  flight.buf_misc "silu" %x[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 0, 0>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "gelu" %x[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 0, 1>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "relu" %x[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 0, 2>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "copy" %x[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 0, 3>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "silu" %x[1] -> %x[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 1, 0>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "gelu" %x[1] -> %x[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 1, 1>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "relu" %x[1] -> %x[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 1, 2>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_misc "copy" %x[1] -> %x[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 3, 1, 3>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %x : !flight.buffer<2x128xi8, act>
}

// -----

// A stage moves whole (its allocation, ops and deallocation together);
// untagged ops after the run stay where they are.
// CHECK-LABEL: flight.bucket @whole_stages
// CHECK: %[[T0:.*]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_misc "silu" %{{.*}}[0] -> %[[T0]][0]
// CHECK-NEXT: %[[T1:.*]] = flight.buf_alloc <temporary> : !flight.buffer<1x128xi8, act>
// CHECK-NEXT: flight.buf_misc "silu" %{{.*}}[1] -> %[[T1]][0]
// CHECK-NEXT: flight.buf_misc "gelu" %[[T0]][0]
// CHECK-NEXT: flight.buf_dealloc %[[T0]]
// CHECK-NEXT: flight.buf_misc "gelu" %[[T1]][0]
// CHECK-NEXT: flight.buf_dealloc %[[T1]]
// CHECK-NEXT: flight.buf_misc "copy"
// CHECK-NOT: flight.attention_stage
flight.bucket @whole_stages stage <decode> min_length = 1 max_length = 16 {
  %x = flight.buf_alloc <value> : !flight.buffer<2x128xi8, act>
  %t0 = flight.buf_alloc <temporary> {flight.attention_stage = array<i64: 1, 0, 0>} : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %x[0] -> %t0[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 1, 0, 0>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_misc "gelu" %t0[0] -> %x[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 1, 0, 2>} : !flight.buffer<1x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %t0 {flight.attention_stage = array<i64: 1, 0, 2>} : !flight.buffer<1x128xi8, act>
  %t1 = flight.buf_alloc <temporary> {flight.attention_stage = array<i64: 1, 1, 0>} : !flight.buffer<1x128xi8, act>
  flight.buf_misc "silu" %x[1] -> %t1[0] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 1, 1, 0>} : !flight.buffer<2x128xi8, act> -> !flight.buffer<1x128xi8, act>
  flight.buf_misc "gelu" %t1[0] -> %x[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64, flight.attention_stage = array<i64: 1, 1, 2>} : !flight.buffer<1x128xi8, act> -> !flight.buffer<2x128xi8, act>
  flight.buf_dealloc %t1 {flight.attention_stage = array<i64: 1, 1, 2>} : !flight.buffer<1x128xi8, act>
  flight.buf_misc "copy" %x[0] -> %x[1] {k = 64 : i64, rows = 1 : i64, a_step = 1 : i64, out_step = 1 : i64} : !flight.buffer<2x128xi8, act> -> !flight.buffer<2x128xi8, act>
}
