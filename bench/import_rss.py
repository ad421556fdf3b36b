#!/usr/bin/env python3
"""Peak memory of importing a model with ~1 GB of weights.

Generates (once, into a scratch directory) an MLP-stack ONNX model whose
weights total --gigabytes GB, stored as external data, and measures the peak
RSS of `flightllm-compile MODEL --emit=summary` (import + verify + summary).
Baselines measured in the same run: the weight bytes themselves, and
`onnx.load` of the same model (which reads the weights into memory).

Usage: /usr/bin/python3 bench/import_rss.py --build build [--gigabytes 1.0]
       [--workdir /tmp/flightllm-bench] [--embedded]
"""
import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def generate(path, gigabytes, embedded):
    d = 4096
    layer_bytes = d * d * 4
    layers = max(1, int(round(gigabytes * (1 << 30) / layer_bytes)))
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "X"
    for i in range(layers):
        w = f"layers.{i}.weight"
        inits.append(numpy_helper.from_array(
            rng.standard_normal((d, d), dtype=np.float32) * 0.01, w))
        y = f"h{i}"
        nodes.append(helper.make_node("MatMul", [x, w], [y], name=f"/layers.{i}/MatMul"))
        x = y
    nodes.append(helper.make_node("Relu", [x], ["Y"], name="/out/Relu"))
    g = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", d])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", d])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if embedded:
        onnx.save(m, path)
    else:
        onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                  location="weights.bin", size_threshold=0)
    return layers * layer_bytes


def peak_rss_of(cmd):
    """Runs cmd in a fresh child; returns (peak RSS bytes, seconds)."""
    pid = os.fork()
    if pid == 0:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        os.execvp(cmd[0], cmd)
    t0 = time.time()
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}")
    return usage.ru_maxrss * 1024, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--gigabytes", type=float, default=1.0)
    ap.add_argument("--workdir", default="/tmp/flightllm-bench")
    ap.add_argument("--embedded", action="store_true",
                    help="weights inside the protobuf instead of external data")
    args = ap.parse_args()

    kind = "embedded" if args.embedded else "external"
    model = os.path.join(args.workdir, f"mlp-{args.gigabytes:g}g-{kind}", "model.onnx")
    marker = model + ".bytes"
    if not os.path.exists(marker):
        print(f"generating {model} ...", flush=True)
        weight_bytes = generate(model, args.gigabytes, args.embedded)
        open(marker, "w").write(str(weight_bytes))
    weight_bytes = int(open(marker).read())

    compiler = os.path.join(args.build, "bin", "flightllm-compile")
    ours, ours_s = peak_rss_of([compiler, model, "--emit=summary"])
    py = "/usr/bin/python3"
    base, base_s = peak_rss_of([py, "-c", f"import onnx; onnx.load({model!r})"])

    mb = 1 << 20
    print(f"model: {model} ({kind} weights)")
    print(f"weights:                 {weight_bytes / mb:9.1f} MiB")
    print(f"flightllm-compile peak:  {ours / mb:9.1f} MiB  {ours_s:6.2f} s  "
          f"= {ours / weight_bytes:.3f} x weights")
    print(f"onnx.load peak (python): {base / mb:9.1f} MiB  {base_s:6.2f} s  "
          f"= {base / weight_bytes:.3f} x weights")
    print(f"ratio flightllm-compile / onnx.load: {ours / base:.3f}")


if __name__ == "__main__":
    main()
