#!/usr/bin/python3
"""Check python/gen_large_model.py at small sizes: the graphs raise and run like onnxruntime.

For each configuration (Llama with GQA and OPT, at opset 17 and 13 so that both
LayerNorm spellings appear) this generates a small model with both graphs and

  * checks the I/O names against the optimum convention (flightllm_models.export);
  * raises each graph (`flightllm-compile --emit=llm`) and counts one llm.attention
    and the norms per layer;
  * runs `flightllm-run GRAPH --engine=reference --tokens ... --max-new-tokens N
    --json --dump-logits` on each graph and compares the greedy tokens and every
    step's logits with onnxruntime's greedy loop (prefill with decoder_model.onnx,
    then one-token steps with decoder_with_past_model.onnx and its own cache).

Exits non-zero on any mismatch; the last line reads "N passed, N failed".

    /usr/bin/python3 python/check_gen_large_model.py --build build [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_large_model as glm  # noqa: E402
from flightllm_models.export import input_names, output_names  # noqa: E402
from ortref import ort_run  # noqa: E402

ATOL = 1e-4
PROMPT = [3, 1, 4, 1, 5, 9, 2]
NEW_TOKENS = 5

# Two configurations use larger weights (--std 0.2) so that attention and the
# greedy continuation are far from uniform.
CONFIGS = [
    ("llama-gqa-op17", ["--family", "llama", "--layers", "2", "--hidden", "64", "--heads", "4",
                        "--kv-heads", "2", "--ffn", "96", "--vocab", "100", "--max-positions", "64",
                        "--opset", "17", "--seed", "1", "--std", "0.2"]),
    ("llama-mha-op13", ["--family", "llama", "--layers", "2", "--hidden", "48", "--heads", "3",
                        "--ffn", "80", "--vocab", "90", "--max-positions", "48",
                        "--opset", "13", "--seed", "2"]),
    ("opt-op17", ["--family", "opt", "--layers", "2", "--hidden", "64", "--heads", "4",
                  "--ffn", "112", "--vocab", "110", "--max-positions", "40",
                  "--opset", "17", "--seed", "3"]),
    ("opt-op13", ["--family", "opt", "--layers", "3", "--hidden", "32", "--heads", "2",
                  "--ffn", "72", "--vocab", "70", "--max-positions", "32",
                  "--opset", "13", "--seed", "4", "--std", "0.2"]),
]


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, label, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed.append(label)
        print(f"{'PASS' if ok else 'FAIL'} {label} {detail}".rstrip(), flush=True)


def ort_greedy(d: Path, layers: int, prompt, steps: int):
    """Greedy tokens and per-step last-position logits, prefill + KV-cache decoding."""
    ids = np.array([prompt], dtype=np.int64)
    out = ort_run(d / glm.PREFILL_FILE, {"input_ids": ids})
    tokens, logits = [], []
    for step in range(steps):
        last = out["logits"][0, -1]
        logits.append(last)
        tok = int(np.argmax(last))
        tokens.append(tok)
        if step + 1 == steps:
            break
        feeds = {"input_ids": np.array([[tok]], dtype=np.int64)}
        for i in range(layers):
            for kind in ("key", "value"):
                feeds[f"past_key_values.{i}.{kind}"] = out[f"present.{i}.{kind}"]
        out = ort_run(d / glm.WITH_PAST_FILE, feeds)
    return tokens, np.stack(logits)


def check_config(name, argv, build: Path, root: Path, c: Checker):
    d = root / name
    cfg = glm.generate(glm.parse_args(argv + ["--with-past", "--out", str(d)]))
    layers = cfg["num_layers"]
    for graph, with_past in ((glm.PREFILL_FILE, False), (glm.WITH_PAST_FILE, True)):
        m = onnx.load(str(d / graph), load_external_data=False)
        inits = {t.name for t in m.graph.initializer}
        ins = [i.name for i in m.graph.input if i.name not in inits]
        outs = [o.name for o in m.graph.output]
        ok = ins == input_names(layers, with_past) and outs == output_names(layers)
        c.check(f"{name}/{graph} io", ok, "" if ok else f"inputs {ins} outputs {outs}")

    want_tokens, want_logits = ort_greedy(d, layers, PROMPT, NEW_TOKENS)
    norm = "llm.rms_norm" if cfg["family"] == "llama" else "llm.layer_norm"
    for graph in (glm.PREFILL_FILE, glm.WITH_PAST_FILE):
        r = subprocess.run([str(build / "bin" / "flightllm-compile"), str(d / graph), "--emit=llm",
                            "--elide-weights", "-o", "-"], capture_output=True, text=True)
        text = r.stdout
        counts = {op: text.count(op + " ") for op in ("llm.attention", norm)}
        ok = (r.returncode == 0 and counts["llm.attention"] == layers
              and counts[norm] == 2 * layers + 1)
        c.check(f"{name}/{graph} raises", ok,
                f"{counts}" if r.returncode == 0 else r.stderr.strip()[:800])

        dump = d / f"{graph}.logits.npy"
        r = subprocess.run([str(build / "bin" / "flightllm-run"), str(d / graph), "--engine=reference",
                            "--tokens", ",".join(map(str, PROMPT)), "--max-new-tokens", str(NEW_TOKENS),
                            "--json", "--dump-logits", str(dump)], capture_output=True, text=True)
        if r.returncode != 0:
            c.check(f"{name}/{graph} run", False, r.stderr.strip()[:800])
            continue
        got_tokens = json.loads(r.stdout)["generated_tokens"]
        got_logits = np.load(dump)
        c.check(f"{name}/{graph} greedy tokens", got_tokens == want_tokens,
                f"{got_tokens} vs onnxruntime {want_tokens}")
        diff = float(np.max(np.abs(got_logits - want_logits))) if got_logits.shape == want_logits.shape \
            else float("inf")
        c.check(f"{name}/{graph} logits", diff <= ATOL,
                f"max|diff|={diff:.2e} over {want_logits.shape} (logit std {float(want_logits.std()):.3f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    ap.add_argument("--keep", help="write the models here and keep them (default: a temporary directory)")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gen-large-"))
    c = Checker()
    try:
        for name, argv in CONFIGS:
            try:
                check_config(name, argv + ["--quiet"], Path(args.build), root, c)
            except Exception as e:  # noqa: BLE001
                c.check(name, False, repr(e))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if c.failed:
        print("failed: " + ", ".join(c.failed))
    print(f"{c.passed} passed, {len(c.failed)} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
