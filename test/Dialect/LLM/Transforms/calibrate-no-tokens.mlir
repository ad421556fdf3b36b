// RUN: flightllm-opt %s "-llm-calibrate=window=0" -verify-diagnostics

// A zero window leaves nothing to calibrate with.
// expected-error @+1 {{calibration needs tokens (text-file= or tokens=) and a positive window}}
module {
}

