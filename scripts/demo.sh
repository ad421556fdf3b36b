#!/usr/bin/env bash
# The main job on the bundled example, a byte-level Llama trained on Debian's
# license texts: import it, raise it to an llm program, generate text with the
# fp32 reference interpreter, then compile it for the accelerator (W8A8,
# calibrated on Apache-2.0) and generate the same continuation on the
# cycle-level simulator through the embedded runtime, with the simulated
# prefill latency, decode latency per token, tokens/s at the target clock and
# HBM bandwidth utilization.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=examples/tiny-llama-bytes/decoder_model.onnx
calibration=/usr/share/common-licenses/Apache-2.0
binary=$build/tiny-llama-bytes.flb
prompt="Licensed under the "

echo "== the ONNX model"
"$build/bin/flightllm-compile" "$model" --emit=summary
echo "== raised to an llm program"
"$build/bin/flightllm-compile" "$model" --emit=llm --elide-weights \
  | grep -E '^module|llm\.(attention|rope|rms_norm|swiglu|logits)' | sed -n '1,8p'
echo "== generating (reference interpreter, fp32, host)"
"$build/bin/flightllm-run" "$model" --prompt "$prompt" --max-new-tokens 64
echo "== compiled for the accelerator: $binary (W8A8, calibrated on $calibration)"
"$build/bin/flightllm-compile" "$model" -o "$binary" --calibration="$calibration"
echo "== generating on the accelerator (embedded runtime on the cycle-level simulator; latencies are simulated)"
"$build/bin/flightllm-run" "$binary" --prompt "$prompt" --max-new-tokens 64
