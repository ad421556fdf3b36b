#!/usr/bin/env python3
"""What batched decode buys: a LLaMA2-7B-shaped model on one u280 at batch 1, 4, 16.

For each batch B, compiles sizes-only models of LLaMA2-7B's width with 1 and 2 layers
(python/gen_large_model.py --sizes-only: zero weights as file holes; timing does not
depend on weight values; shared with bench/simulate_7b.py --per-layer)

    flightllm-compile MODEL --target=u280 --max-context=CTX --calibration=none \
        --batch=B --buckets=... -o WORK/llama-L{1,2}-b{B}.flb --quiet

and serves B users with prompts of PREFILL tokens, DECODE generated each

    flightllm-run FLB --timing-only --users B --prompt-length PREFILL \
        --max-new-tokens DECODE --json

(batch 1: the ordinary binary, one user). Every simulated time is extrapolated linearly
to the 32 layers of LLaMA2-7B, v(32) = v(1) + 31 * (v(2) - v(1)) (the streams loop over
one layer body with a barrier per iteration; bench/simulate_7b.py checks the linearity).

Printed per batch: the decode latency per output token (ms per token per user: the mean
over users of the time between their tokens), decode tokens/s per user (1000 / that) and
for the system (B x that), the system throughput with prefill included (NorthPole's
definition: generated tokens / total time), and the ratios to batch 1 measured in the
same run.

    nice /usr/bin/python3 bench/batch_decode.py --build build
    nice /usr/bin/python3 bench/batch_decode.py --build build --cores 3   # all three u280 cores
    /usr/bin/python3 bench/batch_decode.py --build build --batches 1 4 --prefill 16 --decode 16 --small

Only the buckets the run uses are compiled (--buckets: the prefill bucket of the
prompt, the decode buckets of the contexts PREFILL+1 .. PREFILL+DECODE), one 7B-width
compile at a time.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from simulate_7b import MODELS, per_layer_model  # noqa: E402  (the same sizes-only models)

FULL_LAYERS = 32
# flightllm-run --users --json figures that grow linearly with the depth
LINEAR = ["seconds", "ms_per_token_per_user", "energy_j"]


def buckets(prefill, decode, prefill_width=128, decode_width=16):
    """--buckets for a run of one prompt of `prefill` tokens and `decode` generated
    (the context is prefill + decode: the last buckets end there)."""
    end = prefill + decode
    out = [f"prefill:{min(end, -(-prefill // prefill_width) * prefill_width)}"]
    for ctx in range(prefill + 1, end + 1):
        b = f"decode:{min(end, -(-ctx // decode_width) * decode_width)}"
        if b not in out:
            out.append(b)
    return out


def small_model(layers, work):
    """A hidden-256 model with `layers` layers (a smoke test of the script)."""
    d = Path(work) / f"small-L{layers}"
    if not (d / "decoder_model.onnx").exists():
        subprocess.run([sys.executable, str(REPO / "python" / "gen_large_model.py"), "--family", "llama",
                        "--layers", str(layers), "--hidden", "256", "--heads", "4", "--ffn", "688",
                        "--vocab", "4000", "--max-positions", "2048", "--out", str(d), "--quiet"],
                       check=True)
    return d


def run(cmd, what):
    t0 = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{what}: exit {p.returncode}: {p.stderr.strip()[-1500:]}")
    return p.stdout, time.perf_counter() - t0


def measure(batch, layers, args):
    model = small_model(layers, args.work) if args.small else per_layer_model("llama", layers, args)
    flb = Path(args.work) / f"llama-L{layers}-b{batch}-c{args.cores}.flb"
    ctx = args.prefill + args.decode
    flags = [f"--max-context={ctx}", "--calibration=none", "--target=u280", "--quiet",
             f"--buckets={','.join(buckets(args.prefill, args.decode))}"]
    if batch > 1:
        flags.append(f"--batch={batch}")
    if args.cores != 1:
        flags.append(f"--cores={args.cores}")
    _, compile_s = run(["nice", "-n", "5", args.bin / "flightllm-compile", model, "-o", flb, *flags],
                       f"compile batch {batch}, {layers} layers")
    out, run_s = run([args.bin / "flightllm-run", flb, "--timing-only", "--users", batch,
                      "--prompt-length", args.prefill, "--max-new-tokens", args.decode, "--json"],
                     f"serve batch {batch}, {layers} layers")
    flb.unlink(missing_ok=True)
    r = json.loads(out)
    print(f"  batch {batch:2d}, {layers} layer(s): compile {compile_s:.0f} s, run {run_s:.0f} s, "
          f"{r['ms_per_token_per_user']:.4f} ms/token/user, decode_batch {r['decode_batch']}", flush=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--work", default="/tmp/flightllm-batch", help="binaries (deleted after each run)")
    ap.add_argument("--shared", default="/tmp/flightllm-bench", help="the sizes-only models")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--cores", type=int, default=1,
                    help="flightllm-compile --cores (0: all of the target's; default 1)")
    ap.add_argument("--small", action="store_true", help="hidden-256 models (a smoke test)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    args.bin = Path(args.build) / "bin"
    Path(args.work).mkdir(parents=True, exist_ok=True)
    label = "hidden-256 Llama" if args.small else MODELS["llama"]["label"]

    rows = []
    for batch in args.batches:
        r1, r2 = measure(batch, 1, args), measure(batch, 2, args)
        full = {k: r1[k] + (FULL_LAYERS - 1) * (r2[k] - r1[k]) for k in LINEAR}
        ms = full["ms_per_token_per_user"]
        rows.append({"batch": batch, "users": batch, "decode_batch": r2["decode_batch"],
                     "ms_per_token_per_user": ms,
                     "user_tokens_per_s": 1e3 / ms,
                     "system_decode_tokens_per_s": batch * 1e3 / ms,
                     "system_tokens_per_s": r2["generated_tokens"] / full["seconds"],
                     "joules_per_token": full["energy_j"] / r2["generated_tokens"],
                     "seconds": full["seconds"]})
    base = next((r for r in rows if r["batch"] == 1), rows[0])
    cores = "all cores" if args.cores == 0 else f"{args.cores} core{'s' if args.cores > 1 else ''}"
    print(f"\n{label} on 1 u280 card ({cores}), prompt {args.prefill}, {args.decode} generated per user, "
          f"{FULL_LAYERS} layers extrapolated from 1 and 2 (simulated, timing only)")
    head = ["batch", "ms/token/user", "tokens/s/user", "decode tokens/s", "x batch 1",
            "tokens/s (prefill incl.)", "x batch 1", "J/token"]
    print("  ".join(f"{h:>14}" for h in head))
    for r in rows:
        cells = [r["batch"], f"{r['ms_per_token_per_user']:.3f}", f"{r['user_tokens_per_s']:.1f}",
                 f"{r['system_decode_tokens_per_s']:.1f}",
                 f"{r['system_decode_tokens_per_s'] / base['system_decode_tokens_per_s']:.2f}",
                 f"{r['system_tokens_per_s']:.1f}",
                 f"{r['system_tokens_per_s'] / base['system_tokens_per_s']:.2f}",
                 f"{r['joules_per_token']:.3f}"]
        print("  ".join(f"{c:>14}" for c in cells))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": label, "cores": args.cores, "prefill": args.prefill,
                                               "decode": args.decode, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
