// RUN: flightllm-opt %s "-llm-calibrate=tokens=1 activations=sometimes" -verify-diagnostics

// expected-error @+1 {{activations must be 'dynamic' or 'static', got 'sometimes'}}
module {
}
