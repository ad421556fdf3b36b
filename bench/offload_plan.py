#!/usr/bin/python3
"""The offload planner on models larger than HBM (issue 14; docs/offloading.md).

Generates LLaMA2-13B- and OPT-30B-shaped models with python/gen_large_model.py
--sizes-only (zero weights as holes of a sparse file: no disk), plans them with
`flightllm-compile --emit=offload-plan --report` on u280 for a prompt of 512 and
32 generated tokens, and prints, in the same run, the planner's choice next to
two baselines evaluated by the same cost model: every weight streamed from DDR
at batch 1 (KV in HBM), and the best of a set of hand-picked placements at the
planner's block size. All figures are the cost model's predictions for the
FlexGen-style tiers (host memory, the KV cache off HBM, staging); the
placements the lowering emits (weights in HBM and DDR) are compiled and
simulated by bench/offload_run.py.

    /usr/bin/python3 bench/offload_plan.py --build build [--work /tmp/flightllm-bench/offload]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MODELS = {
    # name: (gen_large_model.py flags, FlexGen's precision label)
    "llama2-13b": (["--family", "llama", "--layers", "40", "--hidden", "5120", "--heads", "40",
                    "--ffn", "13824", "--vocab", "32000", "--max-positions", "4096"], "W8A8"),
    "opt-30b": (["--family", "opt", "--layers", "48", "--hidden", "7168", "--heads", "56",
                 "--ffn", "28672", "--vocab", "50272", "--max-positions", "2048"], "W8A8"),
}


def generate(name: str, work: Path) -> Path:
    out = work / name
    if not (out / "decoder_model.onnx").exists():
        flags, _ = MODELS[name]
        subprocess.run([sys.executable, str(ROOT / "python/gen_large_model.py"), *flags,
                        "--sizes-only", "--quiet", "--out", str(out)], check=True)
    return out / "decoder_model.onnx"


def plan(build: Path, model: Path, args, extra=()) -> dict | str:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "plan.json"
        cmd = [str(build / "bin/flightllm-compile"), str(model), "--emit=offload-plan",
               "--no-verify-raising", f"--target={args.target}", f"--plan-prompt={args.prompt}",
               f"--plan-generate={args.generate}", f"--report={report}", "-o", "/dev/null", *extra]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"
        d = json.loads(report.read_text())
        d["host_seconds"] = time.perf_counter() - t0
        return d


def percent_flags(d: dict) -> str:
    t = d["tiers"]
    return "{:.0f},{:.0f},{:.0f},{:.0f}".format(100 * t["HBM"]["weights_fraction"],
                                                100 * t["DDR"]["weights_fraction"],
                                                100 * t["HBM"]["kv_fraction"],
                                                100 * t["DDR"]["kv_fraction"])


def row(label: str, d) -> str:
    if isinstance(d, str):
        return f"  {label:<34} {'-':>9} {'':>22} {'':>8}  {d}"
    t = d["tiers"]
    where = "W {:.0f}/{:.0f}/{:.0f} KV {:.0f}/{:.0f}/{:.0f}".format(
        *(100 * t[k]["weights_fraction"] for k in ("HBM", "DDR", "host")),
        *(100 * t[k]["kv_fraction"] for k in ("HBM", "DDR", "host")))
    return (f"  {label:<34} {d['tokens_per_s']:9.2f} {where:>30} "
            f"{d['batches']:>3}x{d['batch']:<4} decode {d['decode_per_layer']['bound']}-bound")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--work", type=Path, default=Path("/tmp/flightllm-bench/offload"))
    ap.add_argument("--target", default="u280")
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--generate", type=int, default=32)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = {}
    failures = 0
    for name in args.models:
        model = generate(name, args.work)
        best = plan(args.build, model, args)
        print(f"{name} ({MODELS[name][1]}), {args.target}, prompt {args.prompt}, "
              f"{args.generate} generated; predicted generated tokens/s:")
        if isinstance(best, str):
            print("  planner failed:", best)
            failures += 1
            continue
        block = [f"--plan-batch={best['batch']}", f"--plan-batches={best['batches']}"]
        hbm_share = best["tiers"]["HBM"]["weights_fraction"]
        ddr_all = plan(args.build, model, args,
                       ["--offload=0,100,100,0", "--plan-batch=1", "--plan-batches=1"])
        hand = {}
        # The placements one would try by hand at the planner's block size (whose
        # KV cache of k x b sequences rarely fits HBM): weights filling HBM with the
        # rest in DDR or on the host, or split evenly, with the KV cache in DDR, on
        # the host, or where the planner put it.
        t = best["tiers"]
        kv = "{:.0f},{:.0f}".format(100 * t["HBM"]["kv_fraction"], 100 * t["DDR"]["kv_fraction"])
        h = int(100 * hbm_share)
        for label, pct in ((f"weights {h}% HBM rest DDR, KV in DDR", f"{h},{100 - h},0,100"),
                           (f"weights {h}% HBM rest host, KV in DDR", f"{h},0,0,100"),
                           (f"weights {h}% HBM rest DDR, KV on host", f"{h},{100 - h},0,0"),
                           ("weights half HBM half DDR, KV as planned", f"50,50,{kv}"),
                           ("weights in DDR, KV as planned", f"0,100,{kv}"),
                           (f"weights {max(0, h - 10)}% HBM rest DDR, KV as planned",
                            f"{max(0, h - 10)},{100 - max(0, h - 10)},{kv}")):
            hand[label] = plan(args.build, model, args, [f"--offload={pct}", *block])
        print(row("planner (LP, block searched)", best))
        print(row("baseline: all weights DDR, batch 1", ddr_all))
        for label, d in hand.items():
            print(row("hand: " + label, d))
        ok = [d for d in hand.values() if not isinstance(d, str)]
        if ok:
            h_best = max(ok, key=lambda d: d["tokens_per_s"])
            print(f"  planner / best hand-picked: {best['tokens_per_s'] / h_best['tokens_per_s']:.3f}x; "
                  f"planner / all-DDR batch 1: "
                  + (f"{best['tokens_per_s'] / ddr_all['tokens_per_s']:.1f}x" if not isinstance(ddr_all, str) else "-"))
        print(f"  plan took {best['host_seconds']:.1f} s (import + raising + LP search)")
        results[name] = {"planner": best, "all_ddr_batch1": ddr_all, "hand": hand}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print("Predicted by the planner's cost model, not simulated: bench/offload_run.py "
          "simulates the placements the lowering emits (docs/offloading.md).")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
