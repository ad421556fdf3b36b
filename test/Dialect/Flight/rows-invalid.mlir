// RUN: flightllm-opt %s -split-input-file -verify-diagnostics

flight.stream @s {
  // expected-error @+1 {{#flight.rows must name an on-chip buffer (act, weight, meta or acc), not 'hbm'}}
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<hbm, 0, 1>]}
}

// -----

flight.stream @s {
  // expected-error @+1 {{#flight.rows<act, 4294967295, 1> ends beyond row 2^32 - 1}}
  flight.ld length = 4, row_align = 0 {flight.writes = [#flight.rows<act, 4294967295, 1>]}
}
