#!/usr/bin/env python3
"""Exports randomly configured GPT-2 / OPT / Llama models for robustness checks.

Each variant draws its sizes (layers, hidden, heads, KV heads, FFN, vocab,
positions), opset, mask style, mask application and activation from a seeded
generator, and is written like a fixture (both graphs and onnxruntime reference
cases), so `flightllm-run MODEL --case DIR` can check it. Nothing here is
committed output: the point is models the repository has never seen.

    /usr/bin/python3 python/export_variants.py --out /tmp/variants --count 12 --seed 7
"""
import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_fixtures as fx  # noqa: E402


def variant(rng: random.Random, index: int) -> dict:
    family = rng.choice(["gpt2", "opt", "llama"])
    opset = rng.choice([13, 14, 15, 16, 17])
    styles = ["buffer", "range"] + (["trilu"] if opset >= 14 else [])
    head_dim = rng.choice([4, 8, 16])
    heads = rng.choice([2, 3, 4, 6])
    kv_heads = heads
    if family == "llama":
        kv_heads = rng.choice([d for d in range(1, heads + 1) if heads % d == 0])
    base = dict(vocab_size=rng.randint(40, 300), hidden_size=head_dim * heads,
                num_layers=rng.randint(1, 3), num_heads=heads,
                intermediate_size=rng.choice([2, 3, 4]) * head_dim * heads,
                max_positions=rng.choice([32, 48, 128]))
    if family == "llama":
        base["num_kv_heads"] = kv_heads
    activation = rng.choice(["gelu", "gelu_new"]) if family == "gpt2" else None
    return dict(name=f"v{index:02d}-{family}-op{opset}", family=family, opset=opset,
                mask_style=rng.choice(styles), mask_apply=rng.choice(["add", "where"]),
                activation=activation, seed=rng.randint(1, 10**6),
                external_data=False, compact_names=rng.random() < 0.5, base=base)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(args.count):
        spec = variant(rng, i)
        base = spec.pop("base")
        saved = dict(fx.BASE[spec["family"]])
        fx.BASE[spec["family"]] = {**saved, **base}
        try:
            fx.build_fixture(spec, out)
        finally:
            fx.BASE[spec["family"]] = saved
        print(spec["name"], base, spec["mask_style"], spec["mask_apply"],
              spec["activation"], flush=True)


if __name__ == "__main__":
    main()
