#!/usr/bin/env python3
"""Raising time against model depth.

Exports Llama-family decoder-with-past graphs of increasing depth (small
hidden size, so the graph, not the weights, dominates) and times
`flightllm-compile --emit=llm` (import + raising) against
`flightllm-compile --emit=onnx` (import alone) in the same run, with the
raised program's verification against the graph (the default) and without
it (--no-verify-raising).

Usage: /usr/bin/python3 bench/raise_scaling.py --build build [--layers 4 8 16 32]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
import export_fixtures as fx  # noqa: E402
from flightllm_models import DecoderConfig, build_model, init_random_weights  # noqa: E402
from flightllm_models.export import export_decoder  # noqa: E402


def best_of(cmd, runs=3):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--layers", type=int, nargs="+", default=[4, 8, 16, 32])
    args = ap.parse_args()
    compiler = os.path.join(args.build, "bin", "flightllm-compile")
    work = Path(tempfile.mkdtemp(prefix="flightllm-raise-"))
    print(f"{'layers':>6} {'nodes':>6} {'import s':>9} {'raise+import s':>15} {'ratio':>6}"
          f" {'no-verify s':>12} {'ratio':>6}")
    for layers in args.layers:
        config = DecoderConfig(**dict(fx.BASE["llama"], family="llama", num_layers=layers,
                                      hidden_size=64, num_heads=4, num_kv_heads=2,
                                      intermediate_size=128, mask_style="range",
                                      mask_apply="add"))
        model = init_random_weights(build_model(config), 5).eval()
        path = work / f"llama-{layers}.onnx"
        m = export_decoder(model, path, 17, True, **fx.TRACE)
        imp = best_of([compiler, str(path), "--emit=onnx", "-o", os.devnull])
        rai = best_of([compiler, str(path), "--emit=llm", "-o", os.devnull])
        nov = best_of([compiler, str(path), "--emit=llm", "--no-verify-raising", "-o", os.devnull])
        print(f"{layers:>6} {len(m.graph.node):>6} {imp:>9.3f} {rai:>15.3f} {rai / imp:>6.1f}"
              f" {nov:>12.3f} {nov / imp:>6.1f}")


if __name__ == "__main__":
    main()
