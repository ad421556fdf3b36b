#!/usr/bin/python3
"""Offloaded placements compiled and simulated (issue 14; docs/offloading.md).

For LLaMA2-13B-shaped W8A8 and OPT-30B-shaped W4A8 models on u280, a prompt of
512 and 32 generated tokens, this

1. plans the full-depth model with the planner in the mode the binary emits
   (`flightllm-compile --emit=offload-plan --plan-emitted`: KV cache in HBM,
   weights in HBM and DDR read in place, one block of up to 16 sequences),
   on a sizes-only model (python/gen_large_model.py --sizes-only: zero
   weights as holes of a sparse file, no disk);
2. compiles every placement of the table (the planner's, the baseline with
   every layer weight in DDR at batch 1, and hand-picked ones) for full-width
   sizes-only models of 1 and 2 layers (`--offload=H,D,100,0 --batch=B
   --calibration=none`), simulates them without data (`flightllm-run
   --timing-only`; `--users B` for B > 1) and extrapolates every time to the
   full depth as bench/simulate_7b.py does: v(L) = v(1) + (L - 1) (v(2) - v(1))
   (the layer loop is one body, each iteration starting from drained queues);
3. prints, per placement, the simulated generated tokens/s (block of B
   sequences: prefills and 32 decode steps) and the planner's prediction of
   the same placement, and the time of one decode step (one token per
   sequence) predicted vs simulated; for B > 1 the simulated step is the
   difference between runs of 32 and 2 generated tokens over 30 steps.

    /usr/bin/python3 bench/offload_run.py --build build [--work /tmp/offload2-run] [--keep]

`--check` is the ctest (`offload-agreement`): a small Llama-shaped model
(4 layers, hidden 1024), prompt 128, 16 generated, placements with 50% and
100% of the layer weights in DDR at batch 1; it compiles and simulates the
model itself (no extrapolation) and fails unless the planner's decode time
per token is within 15% of the simulated one.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MODELS = {
    "llama2-13b": {
        "label": "LLaMA2-13B-shaped W8A8",
        "gen": ["--family", "llama", "--layers", "40", "--hidden", "5120", "--heads", "40",
                "--ffn", "13824", "--vocab", "32000", "--max-positions", "4096"],
        "compile": [], "plan": []},
    "opt-30b": {
        "label": "OPT-30B-shaped W4A8",
        "gen": ["--family", "opt", "--layers", "48", "--hidden", "7168", "--heads", "56",
                "--ffn", "28672", "--vocab", "50272", "--max-positions", "2048"],
        "compile": ["--weight-bits=4", "--group-size=0"], "plan": ["--plan-weight-bits=4"]},
}
SMALL = {
    "label": "Llama-shaped 4 x 1024 W8A8",
    "gen": ["--family", "llama", "--layers", "4", "--hidden", "1024", "--heads", "8",
            "--ffn", "2816", "--vocab", "1000", "--max-positions", "1024"],
    "compile": [], "plan": []}


def flag(gen: list[str], name: str) -> int:
    return int(gen[gen.index(name) + 1])


def with_layers(gen: list[str], layers: int) -> list[str]:
    g = list(gen)
    g[g.index("--layers") + 1] = str(layers)
    return g


def generate(gen: list[str], out: Path) -> Path:
    if not (out / "decoder_model.onnx").exists():
        subprocess.run([sys.executable, str(ROOT / "python/gen_large_model.py"), *gen,
                        "--sizes-only", "--quiet", "--out", str(out)], check=True)
    return out / "decoder_model.onnx"


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


def last_line(r: subprocess.CompletedProcess) -> str:
    text = (r.stderr or r.stdout).strip()
    return text.splitlines()[-1] if text else f"exit {r.returncode}"


def plan(args, spec, model: Path, report: Path, extra=()) -> dict | str:
    r = run([args.build / "bin/flightllm-compile", model, "--emit=offload-plan", "--plan-emitted",
             "--no-verify-raising", f"--target={args.target}", f"--plan-prompt={args.prompt}",
             f"--plan-generate={args.generate}", f"--report={report}", "-o", "/dev/null",
             *spec["plan"], *extra])
    if r.returncode != 0:
        return last_line(r)
    return json.loads(report.read_text())


def percents(d: dict) -> tuple[int, int]:
    """The weights' HBM and DDR percentages --emit=bin emits for a plan."""
    ddr = math.ceil(100 * d["tiers"]["DDR"]["weights_fraction"] - 1e-6)
    return 100 - ddr, ddr


def context(args) -> int:
    return -(-(args.prompt + args.generate) // 128) * 128


def buckets(args) -> str:
    """The buckets the run uses: the prompt's prefill bucket and the decode
    buckets of contexts prompt + 1 .. prompt + generated (the others would
    only cost compile time)."""
    up = lambda v, m: -(-v // m) * m
    ends = sorted({up(c, 16) for c in range(args.prompt + 1, args.prompt + args.generate + 1)})
    return ",".join([f"prefill:{up(args.prompt, 128)}"] + [f"decode:{e}" for e in ends])


def simulate(args, spec, model: Path, flb: Path, hbm: int, ddr: int, batch: int) -> dict | str:
    """Compiles and simulates one placement; seconds of the block and, at
    batch 1, the decode seconds per token."""
    r = run([args.build / "bin/flightllm-compile", model, "--no-verify-raising", "--calibration=none",
             f"--target={args.target}", f"--max-context={context(args)}", f"--batch={batch}",
             f"--buckets={buckets(args)}", f"--offload={hbm},{ddr},100,0", "--quiet", "-o", flb,
             *spec["compile"]])
    if r.returncode != 0:
        return "compile: " + last_line(r)
    tokens = ",".join(str(1 + i % 500) for i in range(args.prompt))

    def simulate_run(generate: int) -> dict | str:
        if batch == 1:
            cmd = ["--tokens", tokens]
        else:
            cmd = ["--users", str(batch), "--prompt-length", str(args.prompt)]
        r = run([args.build / "bin/flightllm-run", flb, "--timing-only", "--json",
                 "--max-new-tokens", str(generate), *cmd])
        if r.returncode != 0:
            return "run: " + last_line(r)
        return json.loads(r.stdout)

    d = simulate_run(args.generate)
    if isinstance(d, str):
        return d
    if batch == 1:
        hz = d["clock_mhz"] * 1e6
        steps = d["decode_step_cycles"]
        return {"block_s": (d["prefill_cycles"] + sum(steps)) / hz,
                "decode_s": sum(steps) / len(steps) / hz if steps else 0.0}
    # A batch's decode step (one run for all its sequences): the difference
    # to a run that stops after the first decode step.
    short = simulate_run(2)
    if isinstance(short, str):
        return short
    return {"block_s": d["seconds"],
            "decode_s": (d["seconds"] - short["seconds"]) / (args.generate - 2)}


def extrapolate(one: dict, two: dict, layers: int) -> dict:
    out = {}
    for key in one:
        if one[key] is None:
            out[key] = None
        else:
            out[key] = one[key] + (layers - 1) * (two[key] - one[key])
    return out


def predicted(d: dict) -> dict:
    layers = d["model"]["layers"]
    return {"tokens_per_s": d["tokens_per_s"], "block_s": d["block_s"],
            "decode_s": layers * d["decode_per_layer"]["time_s"] + d["head_s_per_step"],
            "bound": d["decode_per_layer"]["bound"]}


def placement_row(args, spec, name: str, work: Path, layer_models, full: Path, layers: int,
                  hbm: int, ddr: int, batch: int) -> dict:
    row = {"placement": f"W {hbm}/{ddr}/0 KV 100/0/0", "batch": batch}
    p = plan(args, spec, full, work / f"{name}-plan-{hbm}-{batch}.json",
             [f"--offload={hbm},{ddr},100,0", f"--plan-batch={batch}", "--plan-batches=1"])
    if isinstance(p, str):
        row["error"] = "plan: " + p
        return row
    row["predicted"] = predicted(p)
    sims = []
    for n, model in layer_models:
        flb = work / f"{name}-{n}l-{hbm}-{batch}.flb"
        s = simulate(args, spec, model, flb, hbm, ddr, batch)
        flb.unlink(missing_ok=True)
        if isinstance(s, str):
            row["error"] = s
            return row
        sims.append(s)
    sim = sims[0] if len(sims) == 1 else extrapolate(sims[0], sims[1], layers)
    sim["tokens_per_s"] = batch * args.generate / sim["block_s"]
    row["simulated"] = sim
    if sim["decode_s"]:
        row["decode_ratio"] = row["predicted"]["decode_s"] / sim["decode_s"]
    row["tokens_ratio"] = row["predicted"]["tokens_per_s"] / sim["tokens_per_s"]
    return row


def print_row(label: str, row: dict) -> None:
    if "error" in row:
        print(f"  {label:<40} {row['placement']:<22} b={row['batch']:<3} {row['error']}")
        return
    s, p = row["simulated"], row["predicted"]
    dec = (f"decode step {1e3 * p['decode_s']:.2f} / {1e3 * s['decode_s']:.2f} ms "
           f"({row['decode_ratio']:.3f})" if s["decode_s"] else "")
    print(f"  {label:<40} {row['placement']:<22} b={row['batch']:<3} "
          f"sim {s['tokens_per_s']:7.2f} tok/s, predicted {p['tokens_per_s']:7.2f} "
          f"({row['tokens_ratio']:.3f}); {dec} [{p['bound']}-bound]")


def bench_model(args, key: str) -> dict:
    spec = MODELS[key]
    work = args.work / key
    work.mkdir(parents=True, exist_ok=True)
    layers = flag(spec["gen"], "--layers")
    full = generate(spec["gen"], work / "full")
    layer_models = [(n, generate(with_layers(spec["gen"], n), work / f"{n}layer")) for n in (1, 2)]
    best = plan(args, spec, full, work / "plan.json")
    print(f"{spec['label']}, {args.target}, prompt {args.prompt}, {args.generate} generated "
          "(simulated: 1- and 2-layer models extrapolated to "
          f"{layers} layers; predicted: the planner on the full model):")
    result = {"rows": {}}
    if isinstance(best, str):
        print("  planner failed:", best)
        result["error"] = best
        return result
    h, d = percents(best)
    b = best["batch"]
    rows = {"planner (LP, emitted mode)": (h, d, b),
            "baseline: all layer weights in DDR, b=1": (0, 100, 1),
            f"hand: planner's split at b=1": (h, d, 1),
            f"hand: 10 points more DDR at b={b}": (max(0, h - 10), min(100, d + 10), b)}
    other = 8 if b != 8 else 4
    rows[f"hand: planner's split at b={other}"] = (h, d, other)
    for label, (hh, dd, bb) in rows.items():
        t0 = time.perf_counter()
        row = placement_row(args, spec, key, work, layer_models, full, layers, hh, dd, bb)
        row["host_seconds"] = time.perf_counter() - t0
        print_row(label, row)
        result["rows"][label] = row
    hand = [r for l, r in result["rows"].items() if l.startswith("hand") and "simulated" in r]
    top = result["rows"]["planner (LP, emitted mode)"]
    base = result["rows"]["baseline: all layer weights in DDR, b=1"]
    if hand and "simulated" in top:
        best_hand = max(hand, key=lambda r: r["simulated"]["tokens_per_s"])
        print(f"  simulated: planner / best hand-picked {top['simulated']['tokens_per_s'] / best_hand['simulated']['tokens_per_s']:.3f}x"
              + (f", planner / all-DDR b=1 {top['simulated']['tokens_per_s'] / base['simulated']['tokens_per_s']:.2f}x"
                 if "simulated" in base else ""))
    return result


def check(args) -> int:
    spec = SMALL
    work = args.work / "small"
    work.mkdir(parents=True, exist_ok=True)
    model = generate(spec["gen"], work / "model")
    failures = 0
    for hbm, ddr in ((50, 50), (0, 100)):
        row = placement_row(args, spec, "small", work, [(4, model)], model, 4, hbm, ddr, 1)
        print_row(f"{hbm}% HBM, {ddr}% DDR", row)
        ratio = row.get("decode_ratio")
        if ratio is None or abs(ratio - 1) > args.tolerance:
            print(f"FAIL: predicted / simulated decode time per token {ratio} is not within "
                  f"{100 * args.tolerance:.0f}%")
            failures += 1
    return 1 if failures else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--work", type=Path, default=Path("/tmp/offload2-run"))
    ap.add_argument("--target", default="u280")
    ap.add_argument("--prompt", type=int)
    ap.add_argument("--generate", type=int)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--check", action="store_true", help="the small agreement check (ctest)")
    ap.add_argument("--tolerance", type=float, default=0.15)
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--keep", action="store_true", help="keep the generated models")
    args = ap.parse_args(argv)
    args.build = args.build.resolve()
    args.prompt = args.prompt or (128 if args.check else 512)
    args.generate = args.generate or (16 if args.check else 32)
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        if args.check:
            return check(args)
        results = {key: bench_model(args, key) for key in args.models}
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
