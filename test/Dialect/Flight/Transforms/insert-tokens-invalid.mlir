// RUN: flightllm-opt %s -split-input-file -verify-diagnostics --flight-insert-tokens

flight.stream @s {
  // expected-error @+1 {{the instruction already has dependency tokens; flight-insert-tokens sets every token of a stream}}
  flight.ld release [misc] length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 0, 1>]}
}

// -----

flight.stream @s {
  // expected-error @+1 {{SYS instructions access no buffer (the dispatcher runs them)}}
  flight.sys kind = barrier {flight.reads = [#flight.rows<act, 0, 1>]}
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.reads' must be an array of #flight.rows}}
  flight.misc kind = relu {flight.reads = #flight.rows<act, 0, 1>}
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.writes' must be an array of #flight.rows, not 3 : i64}}
  flight.misc kind = relu {flight.writes = [3]}
}

// -----

flight.stream @s {
  // expected-error @+1 {{'flight.hbm_read' must be a #flight.offchip attribute}}
  flight.ld length = 4, row_align = 0 {flight.hbm_read = "kv_cache"}
}
