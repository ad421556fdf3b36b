#!/usr/bin/python3
"""Serving many users on 1-16 simulated U280 cards (issue 13, the NorthPole row).

A Granite-3B-shaped model as IBM's NorthPole appliance ran it (FACTS.md: 14
layers, hidden 4096, FFN 14336, 32 heads, 8 KV heads, vocab 49152) is generated
with python/gen_large_model.py --sizes-only (every weight zero, file holes: the
simulator runs timing only, where values do not matter), then for each card
count N

    flightllm-compile MODEL [--system=u280xN] [--batch=B] --calibration=none \
        --no-verify-raising --max-context=PROMPT+GENERATE --kv-slots=USERS \
        -o WORK/granite-xN-bB.flb
    flightllm-run WORK/granite-xN-bB.flb --timing-only --users USERS \
        --prompt-length PROMPT --max-new-tokens GENERATE --json

and prints NorthPole's metrics (flightllm-run --users, docs/cli.md): system
tokens/s (generated tokens / total time, prefill included), ms per output
token per user, watts (every card's static power included), tokens/s/W and
per-card tokens/s, with the 1-card run of the same invocation as the baseline
(ratios) and NorthPole's published figures beside them. "bound" names what
limits each row: the busiest card's busy share of the total time (near 100%:
that stage bounds the pipeline) and the card-to-card transfer time.

Each user has its own KV-cache slot, so n = USERS requests are served at
once; --batch B (a list: one row per value) decodes micro-batches of B
sequences in one run per card (m = ceil(n / B) micro-batches; B = 1 is the
compiler's default, m = n). NorthPole ran n = 28 in m = 14 micro-batches of
2: `--batch 2`. Card counts without a preset (e.g. 14, one layer per card)
get a system file with the presets' PCIe Gen3 x8 links.

    /usr/bin/python3 bench/serve_pipeline.py --build build --batch 1 2
    /usr/bin/python3 bench/serve_pipeline.py --build build --cards 1 2 4 8 14 --batch 2
    /usr/bin/python3 bench/serve_pipeline.py --build build --cards 1 2 4 --users 4 --prompt 128 --generate 32
    /usr/bin/python3 bench/serve_pipeline.py --build build --width-divisor 4 --prompt 128 --generate 64

Binaries (~3.3 GB each) are deleted after their run unless --keep.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path("/tmp/flightllm-bench")
def granite(divisor: int):
    """NorthPole's Granite-3B shape; widths / divisor (1: full size)."""
    return ["--family", "llama", "--layers", "14", "--hidden", str(4096 // divisor),
            "--heads", str(32 // divisor), "--kv-heads", str(max(1, 8 // divisor)),
            "--ffn", str(14336 // divisor), "--vocab", str(49152 // divisor),
            "--max-positions", "2048"]
# NorthPole appliance (Modha et al., HPEC 2024; FACTS.md): 16 cards, 28 users,
# 1024 + 1024 tokens.
NORTHPOLE = {"cards": 16, "tokens_per_s": 28356.0, "ms_per_token": 1.0, "watts": 672.0}


def run(cmd, log):
    t0 = time.perf_counter()
    with open(log, "w") as f:
        p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=f, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:3]))}... failed ({p.returncode}); see {log}")
    return p.stdout, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--work", default="/tmp/flightllm-bench/serve")
    ap.add_argument("--cards", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--batch", type=int, nargs="+", default=[1],
                    help="sequences per decode run (flightllm-compile --batch): one row each")
    ap.add_argument("--users", type=int, default=28)
    ap.add_argument("--prompt", type=int, default=1024)
    ap.add_argument("--generate", type=int, default=1024)
    ap.add_argument("--width-divisor", type=int, default=1, choices=(1, 2, 4, 8),
                    help="divide hidden, FFN, heads, KV heads and vocabulary by this "
                         "(14 layers kept): the full-size compile needs ~18 GB of RAM")
    ap.add_argument("--model", help="another decoder_model.onnx instead of the generated one "
                    "(e.g. examples/tiny-llama-bytes, served functionally: no --timing-only)")
    ap.add_argument("--model-dir", help="where the generated model goes (default under "
                    f"{SHARED})")
    ap.add_argument("--also-generate", type=int, default=0,
                    help="also serve the same users with this many generated tokens on the "
                         "same binary: the difference of the two runs is the steady decode "
                         "rate, prefill excluded (columns 'decode tokens/s', 'decode ms')")
    ap.add_argument("--keep", action="store_true", help="keep the binaries")
    ap.add_argument("--json", help="write every figure here")
    args = ap.parse_args()
    bin_dir = Path(args.build).resolve() / "bin"
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model_dir = Path(args.model_dir) if args.model_dir else \
        SHARED / ("granite-3b-sizes" + (f"-w{args.width_divisor}" if args.width_divisor > 1 else ""))
    model = Path(args.model) if args.model else model_dir / "decoder_model.onnx"
    if not model.exists():
        print(f"generating the Granite-3B-shaped model (sizes only) in {model_dir}", flush=True)
        subprocess.run(["/usr/bin/python3", REPO / "python" / "gen_large_model.py",
                        *granite(args.width_divisor),
                        "--sizes-only", "--quiet", "--out", model_dir], check=True)
    context = args.prompt + args.generate
    rows = []
    for n, batch in [(n, b) for b in args.batch for n in args.cards]:
        flb = work / f"granite-x{n}-b{batch}.flb"
        system = []
        if n > 1:
            name = f"u280x{n}"
            if n not in (2, 4, 8, 16):  # the presets' links (docs/targets.md)
                link = {"raw_gbps": 7.877, "efficiency": 0.8, "latency_us": 2.0}
                desc = work / f"{name}.json"
                desc.write_text(json.dumps({"name": name, "target": "u280", "cards": n,
                                            "card_link": link, "host_link": link}))
                name = desc
            system = [f"--system={name}"]
        try:
            _, compile_s = run([bin_dir / "flightllm-compile", model, *system,
                                *([f"--batch={batch}"] if batch > 1 else []),
                                *([] if args.model else ["--calibration=none"]),
                                "--no-verify-raising", f"--max-context={context}",
                                f"--kv-slots={args.users}", "--quiet", "-o", flb],
                               work / f"compile-x{n}-b{batch}.log")
            timing = [] if args.model else ["--timing-only"]
            out, run_s = run([bin_dir / "flightllm-run", flb, *timing, "--users",
                              args.users, "--prompt-length", args.prompt, "--max-new-tokens",
                              args.generate, "--json", "--quiet"], work / f"run-x{n}-b{batch}.log")
            r = json.loads(out)
            r.update(compile_s=compile_s, run_s=run_s)
            if 0 < args.also_generate < args.generate:
                out2, _ = run([bin_dir / "flightllm-run", flb, *timing, "--users", args.users,
                               "--prompt-length", args.prompt, "--max-new-tokens",
                               args.also_generate, "--json", "--quiet"],
                              work / f"run-x{n}-b{batch}-g{args.also_generate}.log")
                r2 = json.loads(out2)
                extra = args.generate - args.also_generate
                dt = r["seconds"] - r2["seconds"]
                # Every user got `extra` more tokens in `dt` more seconds.
                r.update(short_run={k: v for k, v in r2.items() if k != "user_tokens"},
                         decode_tokens_per_s=min(r["users"], r["kv_slots"]) * extra / dt,
                         decode_ms_per_token_per_user=1e3 * dt / extra)
        except RuntimeError as e:
            r = {"cards": n, "decode_batch": batch, "error": str(e)}
        finally:
            if not args.keep and flb.exists():
                flb.unlink()
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "user_tokens"}), flush=True)

    shape = "Granite-3B-shaped" + (f" (widths / {args.width_divisor})" if args.width_divisor > 1 else "")
    if args.model:
        shape = str(model)
    print(f"\n{shape} model, {args.users} users, prompt {args.prompt}, "
          f"{args.generate} generated, greedy, {'functional' if args.model else 'timing-only'} "
          "simulation of u280 cards")
    head = ("cards", "B", "n", "m", "tokens/s", "x 1 card", "ms/token/user", "W", "tokens/s/W",
            "tokens/s/card", "busiest card", "links ms", "decode tokens/s", "decode ms")
    print(" | ".join(head))
    for r in rows:
        if "error" in r:
            print(f"{r['cards']} | {r['decode_batch']} | failed: {r['error']}")
            continue
        # The baseline: one card at the same batch, in this run.
        base = next((b for b in rows if b.get("cards") == 1 and "error" not in b
                     and b["decode_batch"] == r["decode_batch"]), None)
        ratio = r["system_tokens_per_s"] / base["system_tokens_per_s"] if base else float("nan")
        busy = r["card_busy_seconds"]
        busiest = max(busy) / r["seconds"] if r["seconds"] else 0
        n_at_once = min(r["users"], r["kv_slots"])
        print(f"{r['cards']} | {r['decode_batch']} | {n_at_once} | {r['micro_batches']} | "
              f"{r['system_tokens_per_s']:.1f} | {ratio:.2f} | "
              f"{r['ms_per_token_per_user']:.2f} | {r['watts']:.0f} | "
              f"{r['tokens_per_s_per_w']:.3f} | {r['per_card_tokens_per_s']:.1f} | "
              f"card {busy.index(max(busy))} {100 * busiest:.0f}% busy | "
              f"{1e3 * r['link_seconds']:.2f} | "
              f"{r.get('decode_tokens_per_s', float('nan')):.1f} | "
              f"{r.get('decode_ms_per_token_per_user', float('nan')):.2f}")
    np = NORTHPOLE
    print(f"NorthPole 16 | 2 | 28 | 14 | {np['tokens_per_s']:.0f} | - | <{np['ms_per_token']:.0f} | "
          f"{np['watts']:.0f} | {np['tokens_per_s'] / np['watts']:.1f} | "
          f"{np['tokens_per_s'] / np['cards']:.0f} | weights and KV on chip | -")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
