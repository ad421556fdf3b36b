#!/usr/bin/env bash
# The main job on the bundled example, a byte-level Llama trained on Debian's
# license texts: import it, raise it to an llm program, and generate text with
# the reference interpreter. (Later stages compile it for the accelerator and
# run it on the simulator.)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=examples/tiny-llama-bytes/decoder_model.onnx

echo "== the ONNX model"
"$build/bin/flightllm-compile" "$model" --emit=summary
echo "== raised to an llm program"
"$build/bin/flightllm-compile" "$model" --emit=llm --elide-weights \
  | grep -E '^module|llm\.(attention|rope|rms_norm|swiglu|logits)' | sed -n '1,8p'
echo "== generating (reference interpreter, fp32)"
"$build/bin/flightllm-run" "$model" --prompt "GNU GENERAL PUBLIC LICENSE
" --max-new-tokens 64
