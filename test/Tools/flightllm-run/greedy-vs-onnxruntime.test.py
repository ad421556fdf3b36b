"""Compares flightllm-run's greedy generation with onnxruntime's (greedy.json)."""
import json
import os
import subprocess
import sys

model_dir, graph = sys.argv[1], sys.argv[2]
reference = json.load(open(os.path.join(model_dir, "greedy.json")))
passed = failed = 0
for case in reference["cases"]:
    n = len(case["generated_ids"])
    tokens = ",".join(str(t) for t in case["prompt_ids"])
    out = subprocess.run(
        ["flightllm-run", os.path.join(model_dir, graph), "--tokens", tokens,
         "--max-new-tokens", str(n), "--json"],
        check=True, capture_output=True, text=True).stdout
    got = json.loads(out)["generated_tokens"]
    if got == case["generated_ids"]:
        passed += 1
    else:
        first = next(i for i, (a, b) in enumerate(zip(got, case["generated_ids"])) if a != b)
        print(f"prompt {case['prompt']!r}: first difference at token {first}: "
              f"{got[first]} != {case['generated_ids'][first]}")
        failed += 1
print(f"{passed} passed, {failed} failed")
