// RUN: flightllm-opt %s -split-input-file --flight-insert-tokens | FileCheck %s

// Read after write across queues: the load releases to the SFU, which waits.
// CHECK-LABEL: flight.stream @raw {
// CHECK-NEXT: flight.ld release [misc] onchip_addr = 0,
// CHECK-NOT: flight.reads
// CHECK-NEXT: flight.misc wait [load] kind = relu,
// CHECK-NOT: flight.
// CHECK: }
flight.stream @raw {
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
  flight.misc kind = relu, k = 64, rows = 1
      {flight.reads = [#flight.rows<act, 0, 1>], flight.writes = [#flight.rows<act, 8, 1>]}
}

// -----

// Write after read: the load into a weight slot waits for the matrix op that
// read the slot.
// CHECK-LABEL: flight.stream @war {
// CHECK-NEXT: flight.ld release [matrix] onchip_addr = 0, buf = weight
// CHECK-NEXT: flight.mm wait [load] release [load] k_blocks = 1
// CHECK-NEXT: flight.ld wait [matrix] onchip_addr = 0, buf = weight
flight.stream @war {
  flight.ld buf = weight, length = 4, row_align = 0 {flight.writes = [#flight.rows<weight, 0, 4>]}
  flight.mm k_blocks = 1, n = 16 {flight.reads = [#flight.rows<weight, 0, 4>],
                                  flight.writes = [#flight.rows<act, 0, 1>]}
  flight.ld buf = weight, length = 4, row_align = 0 {flight.writes = [#flight.rows<weight, 2, 1>]}
}

// -----

// Write after write on different queues.
// CHECK-LABEL: flight.stream @waw {
// CHECK-NEXT: flight.ld release [misc]
// CHECK-NEXT: flight.misc wait [load] kind = copy
flight.stream @waw {
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 4, 2>]}
  flight.misc kind = copy {flight.writes = [#flight.rows<act, 5, 1>]}
}

// -----

// The exact producer: the matrix op reads only the first tile's rows, so the
// first load releases to it, not the newest load.
// CHECK-LABEL: flight.stream @exact_producer {
// CHECK-NEXT: flight.ld release [matrix] onchip_addr = 0, buf = weight
// CHECK-NEXT: flight.ld onchip_addr = 16, buf = weight
// CHECK-NEXT: flight.mv wait [load] k_blocks = 2
flight.stream @exact_producer {
  flight.ld buf = weight, length = 64, row_align = 0 {flight.writes = [#flight.rows<weight, 0, 16>]}
  flight.ld buf = weight, onchip_addr = 16, length = 64, row_align = 0 {flight.writes = [#flight.rows<weight, 16, 16>]}
  flight.mv k_blocks = 2, n = 16 {flight.reads = [#flight.rows<weight, 0, 16>]}
}

// -----

// A token an earlier wait of the same queue pair took covers the producer:
// the second reader does not wait again. The next load into the rows waits
// for the newest reader only (the SFU runs in order).
// CHECK-LABEL: flight.stream @covered {
// CHECK-NEXT: flight.ld release [misc]
// CHECK-NEXT: flight.misc wait [load] kind = relu
// CHECK-NEXT: flight.misc release [load] kind = gelu
// CHECK-NEXT: flight.ld wait [misc] onchip_addr = 0
flight.stream @covered {
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
  flight.misc kind = relu {flight.reads = [#flight.rows<act, 0, 1>]}
  flight.misc kind = gelu {flight.reads = [#flight.rows<act, 0, 1>]}
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
}

// -----

// A write supersedes the accesses it contains: the matrix op that reads the
// rows the SFU rewrote waits for the SFU only, not for the load before it.
// CHECK-LABEL: flight.stream @superseded {
// CHECK-NEXT: flight.ld release [misc]
// CHECK-NEXT: flight.misc wait [load] release [matrix] kind = add
// CHECK-NEXT: flight.mm wait [misc] k_blocks = 1
flight.stream @superseded {
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
  flight.misc kind = add {flight.reads = [#flight.rows<act, 0, 1>], flight.writes = [#flight.rows<act, 0, 1>]}
  flight.mm k_blocks = 1 {flight.reads = [#flight.rows<act, 0, 1>]}
}

// -----

// A SYS barrier completes everything before it: no token crosses it.
// CHECK-LABEL: flight.stream @barrier {
// CHECK-NEXT: flight.ld onchip_addr = 0
// CHECK-NEXT: flight.sys {{.*}}kind = barrier
// CHECK-NEXT: flight.misc kind = relu
flight.stream @barrier {
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
  flight.sys kind = barrier
  flight.misc kind = relu {flight.reads = [#flight.rows<act, 0, 1>]}
}

// -----

// Off-chip data: the KV cache's store comes before the load that reads it
// back; different buffers and the logits are independent.
// CHECK-LABEL: flight.stream @kv_cache {
// CHECK-NEXT: flight.st release [load] onchip_addr = 0
// CHECK-NEXT: flight.st onchip_addr = 8
// CHECK-NEXT: flight.ld wait [store] onchip_addr = 0, buf = weight
flight.stream @kv_cache {
  flight.st length = 4 {flight.reads = [#flight.rows<act, 0, 1>], flight.hbm_write = #flight.offchip<kv_cache>}
  flight.st onchip_addr = 8, length = 4 {flight.reads = [#flight.rows<act, 8, 1>], flight.hbm_write = #flight.offchip<logits>}
  flight.ld buf = weight, length = 64, row_align = 0 {flight.writes = [#flight.rows<weight, 0, 16>], flight.hbm_read = #flight.offchip<kv_cache>}
}

// -----

// Instructions without annotations access nothing and get no tokens.
// CHECK-LABEL: flight.stream @unannotated {
// CHECK-NEXT: flight.ld onchip_addr = 0
// CHECK-NEXT: flight.misc kind = relu
flight.stream @unannotated {
  flight.ld length = 4, row_align = 0
  flight.misc kind = relu
}
