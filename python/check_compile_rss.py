#!/usr/bin/python3
"""Regression guard: the peak memory of a full compile stays near the weights.

Generates (python/gen_large_model.py, into --work) a Llama-shaped model with
about 230 MB of fp32 weights in external data and a tiny one of the same
family, compiles both to a binary exactly as bench/compile_7b.py does (raising
verified, within a small --verify-raising-budget so that the test stays fast)
and compares the compiler's peak RSS (ru_maxrss, from os.wait4):

    peak(large) - peak(tiny) <= BOUND x fp32 weight bytes

The tiny compile, in the same run, measures what does not grow with the
weights (the MLIR/LLVM libraries, the fixed-size tables and buffers).

Why BOUND = 1.75: the weights are mapped, not read; every fp32 page the
compile touches (raising checks, verification, quantization) stays in the RSS
(1.0x, file-backed), the int8 weights and scales and the binary's weight image
built from them add about 0.25x each (0.5x), and 0.25x is left for the
allocator and fragmentation. Before the evaluators borrowed the weights, the
ONNX evaluator and the reference interpreter each held an fp32 copy of every
weight (2x more, >= 3.0x in all): the bound fails then (measured 2026-12-02:
see the commit that added this file).

Exit status 1 with the figures when the bound is exceeded or a compile fails.
ASan's shadow memory breaks any such bound: the ctest carries the
`not-sanitized` label.

    /usr/bin/python3 python/check_compile_rss.py --build build --work /tmp/rss
"""
import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))
import gen_large_model as glm  # noqa: E402
from compile_7b import run_measured  # noqa: E402

BOUND = 1.75
MIB = 1 << 20

COMMON = ["--family", "llama", "--layers", "2", "--heads", "8", "--max-positions", "256",
          "--quiet"]
LARGE = COMMON + ["--hidden", "1024", "--ffn", "2816", "--vocab", "16000"]
TINY = COMMON + ["--hidden", "64", "--ffn", "176", "--vocab", "256"]


def compile_peak(compiler, model_dir, out_stem, budget):
    cmd = [compiler, str(model_dir / glm.PREFILL_FILE), "--target=u280", "--max-context=256",
           "--calibration=none", f"--verify-raising-budget={budget}", "-o", f"{out_stem}.flb",
           f"--report={out_stem}.json", "--quiet"]
    status, seconds, rss, sampled = run_measured(cmd, f"{out_stem}.log")
    if status != 0:
        print(f"error: {' '.join(cmd)} failed (exit {status}):")
        print(Path(f"{out_stem}.log").read_text()[-3000:])
        sys.exit(1)
    print(f"{model_dir.name}: {seconds:.1f} s, peak RSS {rss / MIB:.0f} MiB "
          f"(sampled anon {sampled['anon'] / MIB:.0f} MiB, file {sampled['file'] / MIB:.0f} MiB)")
    return rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--budget", type=float, default=5,
                    help="--verify-raising-budget in GFLOP (5: the two small sizes)")
    args = ap.parse_args()
    compiler = str(Path(args.build).resolve() / "bin" / "flightllm-compile")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    peaks, cfgs = {}, {}
    for name, flags in (("tiny", TINY), ("large", LARGE)):
        cfgs[name] = glm.generate(glm.parse_args(flags + ["--out", str(work / name)]))
        peaks[name] = compile_peak(compiler, work / name, work / f"{name}-out", args.budget)
    fp32 = cfgs["large"]["weight_bytes"] - cfgs["tiny"]["weight_bytes"]
    growth = peaks["large"] - peaks["tiny"]
    ratio = growth / fp32
    print(f"fp32 weights {fp32 / MIB:.0f} MiB more; peak RSS {growth / MIB:.0f} MiB more: "
          f"{ratio:.2f}x (bound {BOUND}x)")
    shutil.rmtree(work, ignore_errors=True)
    if ratio > BOUND:
        print(f"error: the compile's peak RSS grows {ratio:.2f}x the fp32 weight bytes, more "
              f"than {BOUND}x: something holds a copy of the weights")
        sys.exit(1)


if __name__ == "__main__":
    main()
