#!/usr/bin/env python3
"""Simulated decode speed-up of the 4-bit KV cache at long context.

A small random Llama whose KV cache outweighs its weights at long context
(hidden 512, 2 layers, 4 heads of 128 without grouping, SwiGLU 512, vocab
256, 2048 positions; python/flightllm_models, exported once per work
directory) is compiled twice in the same run, with the INT8 cache (the
baseline) and with --kv-bits=4,

    flightllm-compile MODEL --max-context=2048 [--kv-bits=4] -o M.flb --report=M.json

and each binary decodes on the simulator without data after a long prompt

    flightllm-run M.flb --timing-only --tokens 1,2,...,PROMPT --max-new-tokens N --json

Prints per cache: the KV bytes one token adds (report.json kv_bytes_per_token),
the KV bytes the decode buckets read per token and the total HBM bytes per
decode step (simulator counters), decode tokens/s, and KV4 over KV8.

    /usr/bin/python3 bench/kv4_decode.py --build build [--prompt 1920] [--new 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

CONTEXT = 2048


def export_model(work: Path) -> Path:
    from flightllm_models import DecoderConfig
    from flightllm_models.export import export_random_prefill

    config = DecoderConfig(family="llama", vocab_size=256, hidden_size=512, num_layers=2,
                           num_heads=4, num_kv_heads=4, intermediate_size=512,
                           max_positions=CONTEXT, mask_style="trilu", mask_apply="where")
    return export_random_prefill(config, work / "llama-kv-bound" / "decoder_model.onnx", 11)


def run(args, label):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{label}: exit {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--prompt", type=int, default=1920)
    ap.add_argument("--new", type=int, default=64)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="kv4-bench-"))
    model = export_model(work)
    tokens = ",".join(str(1 + i % 250) for i in range(args.prompt))
    rows = {}
    for bits in (8, 4):
        flb = work / f"kv{bits}.flb"
        report = work / f"kv{bits}.json"
        run([args.build / "bin" / "flightllm-compile", model, f"--max-context={CONTEXT}",
             f"--kv-bits={bits}", "-o", flb, f"--report={report}", "--quiet"],
            f"compile kv{bits}")
        r = json.loads(report.read_text())
        out = json.loads(run([args.build / "bin" / "flightllm-run", flb, "--timing-only",
                              "--tokens", tokens, "--max-new-tokens", str(args.new), "--json"],
                             f"run kv{bits}"))
        steps = out["decode_steps"]
        rows[bits] = {
            "kv_bytes_per_token": r["kv_bytes_per_token"],
            "decode_hbm_bytes_per_step": out["decode_hbm_bytes"] / steps,
            "tokens_per_s": out["tokens_per_s"],
        }
    print(f"model: {model} (hidden 512, 2 layers, 4 kv heads of 128), u280, "
          f"prompt {args.prompt}, {args.new} decode steps (context {args.prompt + 1}.."
          f"{args.prompt + args.new})")
    print(f"{'cache':6} {'KV B/token':>11} {'HBM B/step':>12} {'decode tok/s':>13}")
    for bits in (8, 4):
        r = rows[bits]
        print(f"KV{bits:<4} {r['kv_bytes_per_token']:>11} {r['decode_hbm_bytes_per_step']:>12.0f} "
              f"{r['tokens_per_s']:>13.1f}")
    print(f"KV4 / KV8: KV bytes per token {rows[4]['kv_bytes_per_token'] / rows[8]['kv_bytes_per_token']:.3f}, "
          f"HBM bytes per step {rows[4]['decode_hbm_bytes_per_step'] / rows[8]['decode_hbm_bytes_per_step']:.3f}, "
          f"decode speed-up {rows[4]['tokens_per_s'] / rows[8]['tokens_per_s']:.3f}x")
    (work / "kv4_decode.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
