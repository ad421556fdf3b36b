// RUN: flightllm-opt %s --flight-insert-tokens=keep-accesses | FileCheck %s

// keep-accesses leaves the annotations on the instructions.
// CHECK-LABEL: flight.stream @keep {
// CHECK-NEXT: flight.ld release [misc] {{.*}} {flight.writes = [#flight.rows<act, 0, 1>]}
// CHECK-NEXT: flight.misc wait [load] {{.*}} {flight.reads = [#flight.rows<act, 0, 1>]}
flight.stream @keep {
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
  flight.misc kind = relu {flight.reads = [#flight.rows<act, 0, 1>]}
}
