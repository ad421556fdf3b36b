#!/usr/bin/env bash
# The main job on the bundled example: import the trained byte-level Llama
# and summarise it. (Later stages extend this to compile and run it.)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=examples/tiny-llama-bytes/decoder_model.onnx
"$build/bin/flightllm-compile" "$model" --emit=summary
