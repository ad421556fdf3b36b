// RUN: flightllm-opt %s -split-input-file "-llm-calibrate=tokens=1,2,3" -verify-diagnostics

// A program that breaks the @forward contract cannot be calibrated.
// expected-error @+1 {{no func.func @forward in the module: not an llm program}}
module {
  func.func @other() { return }
}

