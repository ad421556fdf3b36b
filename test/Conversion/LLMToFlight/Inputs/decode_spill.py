"""Compiles every fixture for u280 and prints each one's HBM activation bytes
per decode step from the JSON compile report (always-on-chip decode: 0)."""
import json
import os
import subprocess
import sys
import tempfile

fixtures = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    for name in sorted(os.listdir(fixtures)):
        model = os.path.join(fixtures, name, "decoder_model.onnx")
        if not os.path.exists(model):
            continue
        report = os.path.join(tmp, name + ".json")
        subprocess.run(["flightllm-compile", model, "--target=u280", "--quiet",
                        "-o", os.path.join(tmp, name + ".flb"),
                        "--report=" + report], check=True)
        r = json.load(open(report))
        decode = [b for b in r["buckets"] if b["stage"] == "decode"]
        print(f"{name}: decode buckets {len(decode)}, HBM activation bytes per "
              f"decode step {r['decode_hbm_activation_bytes_per_step']}, "
              f"largest decode spill {max(b['activation_store_bytes'] for b in decode)}")
