"""Raises every graph of every HF-style export once (flightllm-compile
--emit=llm) and runs each reference case on it (flightllm-run --case).

Usage: hf-exports.test.py FIXTURES_HF WORK_DIR
"""
import json
import os
import subprocess
import sys

root, work = sys.argv[1], sys.argv[2]
passed = refused = failed = 0
for export in sorted(os.listdir(root)):
    record_path = os.path.join(root, export, "export.json")
    if not os.path.exists(record_path):
        continue
    record = json.load(open(record_path))
    programs = {}
    for case in record["cases"]:
        graph = case["model"]
        if graph not in programs:
            program = os.path.join(work, f"{export}-{graph}.mlir")
            run = subprocess.run(["flightllm-compile", os.path.join(root, export, graph),
                                  "--emit=llm", "-o", program], capture_output=True, text=True)
            programs[graph] = program if run.returncode == 0 else None
            if run.returncode:
                print(f"RAISE FAIL {export}/{graph}\n{run.stderr}")
        program = programs[graph]
        run = subprocess.run(
            ["flightllm-run", program, "--case", os.path.join(root, export, "ref", case["name"]),
             "--atol", str(record["atol"])], capture_output=True, text=True) if program else None
        padded = bool(case["left_padding"])
        if padded and run and run.returncode and "than the program assumes" in run.stderr:
            refused += 1
        elif not padded and run and run.returncode == 0:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {export}/{graph} {case['name']}\n{run.stdout + run.stderr if run else ''}")
print(f"{passed} passed, {refused} refused (padded), {failed} failed")
