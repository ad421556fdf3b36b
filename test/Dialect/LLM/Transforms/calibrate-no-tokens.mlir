// RUN: flightllm-opt %s -llm-calibrate -verify-diagnostics

// Without tokens there is nothing to calibrate with.
// expected-error @+1 {{calibration needs tokens (text-file= or tokens=) and a positive window}}
module {
}
