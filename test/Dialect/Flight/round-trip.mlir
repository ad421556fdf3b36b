// RUN: flightllm-opt %s | flightllm-opt | FileCheck %s
// RUN: flightllm-opt %s -mlir-print-op-generic | flightllm-opt | FileCheck %s

//===----------------------------------------------------------------------===//
// #flight.space
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func private @memory_spaces
// CHECK-SAME: acc = #flight.space<acc>
// CHECK-SAME: act = #flight.space<act>
// CHECK-SAME: ddr = #flight.space<ddr>
// CHECK-SAME: hbm = #flight.space<hbm>
// CHECK-SAME: meta = #flight.space<meta>
// CHECK-SAME: weight = #flight.space<weight>
func.func private @memory_spaces() attributes {
  hbm = #flight.space<hbm>, ddr = #flight.space<ddr>, act = #flight.space<act>,
  weight = #flight.space<weight>, meta = #flight.space<meta>,
  acc = #flight.space<acc>}

//===----------------------------------------------------------------------===//
// #flight.queue
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func private @queues
// CHECK-SAME: load = #flight.queue<load>
// CHECK-SAME: matrix = #flight.queue<matrix>
// CHECK-SAME: misc = #flight.queue<misc>
// CHECK-SAME: store = #flight.queue<store>
// CHECK-SAME: sys = #flight.queue<sys>
func.func private @queues() attributes {
  load = #flight.queue<load>, store = #flight.queue<store>,
  matrix = #flight.queue<matrix>, misc = #flight.queue<misc>,
  sys = #flight.queue<sys>}

//===----------------------------------------------------------------------===//
// !flight.buffer
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func private @buffer_spaces
// CHECK-SAME: !flight.buffer<4096x4096xi8, hbm>
// CHECK-SAME: !flight.buffer<1024xi8, ddr>
// CHECK-SAME: !flight.buffer<128x4096xi8, act>
// CHECK-SAME: !flight.buffer<64x128xi8, weight>
// CHECK-SAME: !flight.buffer<4096xf16, meta>
// CHECK-SAME: !flight.buffer<128x128xi32, acc>
func.func private @buffer_spaces(
  !flight.buffer<4096x4096xi8, hbm>, !flight.buffer<1024xi8, ddr>,
  !flight.buffer<128x4096xi8, act>, !flight.buffer<64x128xi8, weight>,
  !flight.buffer<4096xf16, meta>, !flight.buffer<128x128xi32, acc>)

// CHECK-LABEL: func private @buffer_element_types
// CHECK-SAME: !flight.buffer<64xi1, meta>
// CHECK-SAME: !flight.buffer<64xi2, hbm>
// CHECK-SAME: !flight.buffer<4096x4096xi4, hbm>
// CHECK-SAME: !flight.buffer<64xsi8, act>
// CHECK-SAME: !flight.buffer<64xui8, act>
// CHECK-SAME: !flight.buffer<64xi16, acc>
// CHECK-SAME: !flight.buffer<64xi64, ddr>
// CHECK-SAME: !flight.buffer<64xf4E2M1FN, hbm>
// CHECK-SAME: !flight.buffer<64xf8E4M3FN, hbm>
// CHECK-SAME: !flight.buffer<64xbf16, act>
// CHECK-SAME: !flight.buffer<64xf32, acc>
// CHECK-SAME: !flight.buffer<64xf64, ddr>
func.func private @buffer_element_types(
  !flight.buffer<64xi1, meta>, !flight.buffer<64xi2, hbm>,
  !flight.buffer<4096x4096xi4, hbm>, !flight.buffer<64xsi8, act>,
  !flight.buffer<64xui8, act>, !flight.buffer<64xi16, acc>,
  !flight.buffer<64xi64, ddr>, !flight.buffer<64xf4E2M1FN, hbm>,
  !flight.buffer<64xf8E4M3FN, hbm>, !flight.buffer<64xbf16, act>,
  !flight.buffer<64xf32, acc>, !flight.buffer<64xf64, ddr>)

// CHECK-LABEL: func private @buffer_ranks
// CHECK-SAME: !flight.buffer<1xi8, act>
// CHECK-SAME: !flight.buffer<2x16x128xi8, weight>
// CHECK-SAME: !flight.buffer<32x2x16x64xf16, hbm>
func.func private @buffer_ranks(!flight.buffer<1xi8, act>,
  !flight.buffer<2x16x128xi8, weight>, !flight.buffer<32x2x16x64xf16, hbm>)

//===----------------------------------------------------------------------===//
// flight.alloc
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func @alloc
func.func @alloc() -> (!flight.buffer<4096x4096xi4, hbm>,
    !flight.buffer<1024xi8, ddr>, !flight.buffer<128x4096xi8, act>,
    !flight.buffer<64x128xi8, weight>, !flight.buffer<4096xf16, meta>,
    !flight.buffer<128x128xi32, acc>) {
  // CHECK: %[[HBM:.*]] = flight.alloc hbm offset 1048576 : !flight.buffer<4096x4096xi4, hbm>
  %hbm = flight.alloc hbm offset 1048576 : !flight.buffer<4096x4096xi4, hbm>
  // CHECK: %[[DDR:.*]] = flight.alloc ddr offset 32 : !flight.buffer<1024xi8, ddr>
  %ddr = flight.alloc ddr offset 32 : !flight.buffer<1024xi8, ddr>
  // CHECK: %[[ACT:.*]] = flight.alloc act offset 0 : !flight.buffer<128x4096xi8, act>
  %act = flight.alloc act offset 0 : !flight.buffer<128x4096xi8, act>
  // CHECK: %[[WEIGHT:.*]] = flight.alloc weight offset 128 : !flight.buffer<64x128xi8, weight>
  %weight = flight.alloc weight offset 128 : !flight.buffer<64x128xi8, weight>
  // CHECK: %[[META:.*]] = flight.alloc meta offset 8192 : !flight.buffer<4096xf16, meta>
  %meta = flight.alloc meta offset 8192 : !flight.buffer<4096xf16, meta>
  // CHECK: %[[ACC:.*]] = flight.alloc acc offset 128 {note = "extra"} : !flight.buffer<128x128xi32, acc>
  %acc = flight.alloc acc offset 128 {note = "extra"} : !flight.buffer<128x128xi32, acc>
  // CHECK: return %[[HBM]], %[[DDR]], %[[ACT]], %[[WEIGHT]], %[[META]], %[[ACC]]
  return %hbm, %ddr, %act, %weight, %meta, %acc
      : !flight.buffer<4096x4096xi4, hbm>, !flight.buffer<1024xi8, ddr>,
        !flight.buffer<128x4096xi8, act>, !flight.buffer<64x128xi8, weight>,
        !flight.buffer<4096xf16, meta>, !flight.buffer<128x128xi32, acc>
}

//===----------------------------------------------------------------------===//
// flight.sync
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func @sync
func.func @sync() {
  // CHECK: flight.sync{{$}}
  flight.sync
  // CHECK: flight.sync {queue = #flight.queue<matrix>}
  flight.sync {queue = #flight.queue<matrix>}
  return
}
