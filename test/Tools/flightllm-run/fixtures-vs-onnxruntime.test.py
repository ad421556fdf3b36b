"""Runs flightllm-run --case on every fixture case with both exports.

Usage: fixtures-vs-onnxruntime.test.py FIXTURES [--quick]
--quick (the sanitizer build): two cases per fixture instead of five, a
batch-2 case with past and a 7-token prefill (the others differ in shapes).
"""
import os
import subprocess
import sys

root = sys.argv[1]
QUICK_CASES = ("past_b2_p3_s2", "prefill_b1_s7")
quick = "--quick" in sys.argv[2:]
passed = failed = 0
for fixture in sorted(os.listdir(root)):
    ref = os.path.join(root, fixture, "ref")
    if not os.path.isdir(ref):
        continue
    for graph in ("decoder_model.onnx", "decoder_with_past_model.onnx"):
        for case in sorted(os.listdir(ref)):
            if quick and case not in QUICK_CASES:
                continue
            run = subprocess.run(
                ["flightllm-run", os.path.join(root, fixture, graph),
                 "--case", os.path.join(ref, case), "--atol", "1e-4"],
                capture_output=True, text=True)
            if run.returncode == 0:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {fixture}/{graph} {case}\n{run.stdout}{run.stderr}")
print(f"{passed} passed, {failed} failed")
