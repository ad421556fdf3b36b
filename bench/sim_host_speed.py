#!/usr/bin/env python3
"""Host speed of the functional simulator against onnxruntime on the CPU.

On the trained byte-level model (examples/tiny-llama-bytes), compiled with

    flightllm-compile decoder_model.onnx --target=u280 \
        --calibration=/usr/share/common-licenses/Apache-2.0 -o WORK/tiny.flb --quiet

generates --tokens new tokens (default 64) for each prompt of greedy.json (3 prompts):

  simulator    flightllm-run WORK/tiny.flb --tokens IDS --max-new-tokens N --json
               (functional simulation: every instruction executed bit-exactly through the
               embedded runtime); timed by the tool's own `host_seconds` (prefill + decode
               steps, without loading the binary or starting the process); the process
               wall time is printed too.
  onnxruntime  greedy loop through python/ortref.py: decoder_model.onnx on the prompt, then
               decoder_with_past_model.onnx per new token (present.* fed back as
               past_key_values.*); timed by the wall time of session.run alone (`run_ms` of
               python/ort/run.mjs: single-threaded onnxruntime-node, no .npy exchange);
               one untimed warm-up generation first.

Prints generated tokens per host second for both, their ratio (simulator tokens/s over
onnxruntime tokens/s: above 1 the simulator is faster), and how many of the
generated tokens the two agree on (the simulator runs W8A8, onnxruntime fp32).

    /usr/bin/python3 bench/sim_host_speed.py --build build [--tokens 64] [--repeat 1]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))
from ortref import ort_last_run_ms, ort_run, ort_version  # noqa: E402

MODEL_DIR = REPO / "examples" / "tiny-llama-bytes"
CALIBRATION = "/usr/share/common-licenses/Apache-2.0"


def ort_generate(prompt_ids, n, model_dir):
    """Greedy generation with onnxruntime; returns (ids, seconds inside session.run)."""
    prefill = str(model_dir / "decoder_model.onnx")
    step = str(model_dir / "decoder_with_past_model.onnx")
    out = ort_run(prefill, {"input_ids": np.array([prompt_ids], dtype=np.int64)})
    seconds = ort_last_run_ms() / 1e3
    ids = []
    while True:
        ids.append(int(np.argmax(out["logits"][0, -1])))   # lowest id on ties
        if len(ids) == n:
            return ids, seconds
        feeds = {"input_ids": np.array([[ids[-1]]], dtype=np.int64)}
        for name, value in out.items():
            if name.startswith("present."):
                feeds["past_key_values." + name[len("present."):]] = value
        out = ort_run(step, feeds)
        seconds += ort_last_run_ms() / 1e3


def sim_generate(runner, flb, prompt_ids, n):
    cmd = [runner, str(flb), "--tokens", ",".join(map(str, prompt_ids)),
           "--max-new-tokens", str(n), "--json"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"flightllm-run failed (exit {p.returncode}): {p.stderr.strip()[-600:]}")
    return json.loads(p.stdout), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--work", default="/tmp/flightllm-sim-host-speed")
    ap.add_argument("--tokens", type=int, default=64, help="new tokens per prompt (64)")
    ap.add_argument("--repeat", type=int, default=1, help="generations per prompt and engine (1)")
    ap.add_argument("--target", default="u280")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    compiler = str(Path(args.build) / "bin" / "flightllm-compile")
    runner = str(Path(args.build) / "bin" / "flightllm-run")
    flb = work / "tiny-llama-bytes.flb"
    cmd = [compiler, str(MODEL_DIR / "decoder_model.onnx"), f"--target={args.target}",
           f"--calibration={CALIBRATION}", "-o", str(flb), "--quiet"]
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"flightllm-compile failed (exit {p.returncode}): {p.stderr.strip()[-600:]}")
    print(f"compiled in {time.perf_counter() - t0:.1f} s", flush=True)

    prompts = [c["prompt_ids"] for c in json.loads((MODEL_DIR / "greedy.json").read_text())["cases"]]
    n = args.tokens

    # onnxruntime: warm-up (session creation, first-run allocations), untimed
    ort_generate(prompts[0], min(n, 4), MODEL_DIR)
    sim = {"tokens": 0, "seconds": 0.0, "wall": 0.0, "instructions": 0}
    ort = {"tokens": 0, "seconds": 0.0}
    agree = total = 0
    rows = []
    for i, prompt in enumerate(prompts):
        for _ in range(args.repeat):
            r, wall = sim_generate(runner, flb, prompt, n)
            ort_ids, ort_s = ort_generate(prompt, n, MODEL_DIR)
            sim_ids = r["generated_tokens"]
            sim["tokens"] += len(sim_ids)
            sim["seconds"] += r["host_seconds"]
            sim["wall"] += wall
            sim["instructions"] += r.get("simulated_instructions") or 0
            ort["tokens"] += len(ort_ids)
            ort["seconds"] += ort_s
            same = sum(a == b for a, b in zip(sim_ids, ort_ids))
            agree += same
            total += len(ort_ids)
            rows.append(dict(prompt=i, sim_tokens=len(sim_ids), sim_host_seconds=r["host_seconds"],
                             sim_wall_seconds=wall, ort_tokens=len(ort_ids), ort_seconds=ort_s,
                             agree=same, simulated_tokens_per_s=r["tokens_per_s"]))
            print(f"prompt {i} ({len(prompt)} tokens): simulator {len(sim_ids)} tokens in "
                  f"{r['host_seconds']:.3f} host s (process {wall:.3f} s), onnxruntime {len(ort_ids)} "
                  f"in {ort_s:.4f} s of session.run; {same}/{len(ort_ids)} tokens agree", flush=True)

    sim_rate = sim["tokens"] / sim["seconds"]
    ort_rate = ort["tokens"] / ort["seconds"]
    print()
    print(f"model: {MODEL_DIR.relative_to(REPO)} (0.79M parameters, 4 layers, hidden 128), "
          f"{len(prompts)} prompts x {args.repeat} x {n} new tokens")
    print(f"functional simulator (flightllm-run {flb.name}, {args.target}): "
          f"{sim_rate:10.1f} generated tokens per host second "
          f"({sim['tokens']} tokens in {sim['seconds']:.3f} s; {sim['instructions']} instructions simulated, "
          f"{sim['instructions'] / sim['seconds'] / 1e6:.2f} M instructions/s; "
          f"incl. process start + load: {sim['tokens'] / sim['wall']:.1f} tokens/s)")
    print(f"onnxruntime-node {ort_version()} CPU, 1 thread, fp32: "
          f"{ort_rate:10.1f} generated tokens per host second "
          f"({ort['tokens']} tokens in {ort['seconds']:.3f} s of session.run)")
    ratio = sim_rate / ort_rate
    print(f"ratio: simulator tokens/s over onnxruntime tokens/s = {ratio:.3f} "
          f"(the simulator is {ratio if ratio >= 1 else 1 / ratio:.2f}x "
          f"{'faster' if ratio >= 1 else 'slower'} than onnxruntime)")
    print(f"greedy tokens agreeing (simulator W8A8 vs onnxruntime fp32): {agree}/{total}")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(
            simulator_tokens_per_host_s=sim_rate, onnxruntime_tokens_per_s=ort_rate,
            ratio_sim_over_ort=ratio, agree=agree, total=total, runs=rows), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
