"""Prefill of a prompt then one decode step gives the same logits as a
prefill of the prompt with the decoded token appended (flightllm-run
--engine=quantized on MODEL.mlir)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

model = sys.argv[1]
prompt = [84, 104, 101, 32, 113, 117, 105, 99, 107]
with tempfile.TemporaryDirectory() as d:
    def run(tokens, steps, name):
        path = os.path.join(d, name)
        out = subprocess.run(
            ["flightllm-run", model, "--engine=quantized", "--tokens",
             ",".join(map(str, tokens)), "--max-new-tokens", str(steps),
             "--dump-logits", path, "--json"],
            check=True, capture_output=True, text=True).stdout
        return json.loads(out), np.load(path)

    info, decoded = run(prompt, 2, "decode.npy")
    first = info["generated_tokens"][0]
    _, prefilled = run(prompt + [first], 1, "prefill.npy")
    same = np.array_equal(decoded[1], prefilled[0])
    print("decode equals prefill" if same else
          "decode differs from prefill by %g" %
          float(np.abs(decoded[1] - prefilled[0]).max()))
