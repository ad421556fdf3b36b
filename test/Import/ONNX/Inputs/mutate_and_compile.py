"""Mutates a model (byte flips, truncation, insertions) and checks that
flightllm-compile never crashes or hangs on it: exit 0 or 1 only.

Usage: mutate_and_compile.py MODEL SEED COUNT WORKDIR
"""
import os
import random
import subprocess
import sys

model, seed, count, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(work, exist_ok=True)
source = open(model, "rb").read()
rng = random.Random(seed)
bad = 0
for i in range(count):
    data = bytearray(source)
    kind = rng.random()
    if kind < 0.4:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind < 0.7:
        data = data[: rng.randrange(len(data))]
    else:
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    path = os.path.join(work, f"m{i}.onnx")
    open(path, "wb").write(data)
    for emit in ("onnx", "llm"):
        try:
            r = subprocess.run(["flightllm-compile", path, "--emit=" + emit, "-o",
                                os.path.join(work, "out.mlir")],
                               capture_output=True, timeout=120)
            ok = r.returncode in (0, 1)
        except subprocess.TimeoutExpired:
            ok = False
        if not ok:
            bad += 1
            print(f"{path} --emit={emit}: exit {r.returncode}")
print(f"{2 * count - bad} passed, {bad} failed")
