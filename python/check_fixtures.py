#!/usr/bin/python3
"""Re-run onnxruntime on every committed reference case and compare with the stored outputs.

  * test/fixtures/MANIFEST.json: every fixture's graphs pass onnx.checker, carry
    the optimum input/output names, and every ref/<case>/inputs/*.npy run through
    onnxruntime reproduces ref/<case>/outputs/*.npy within the manifest's atol.
  * examples/tiny-llama-bytes (unless --no-examples): greedy.json's token ids are
    reproduced by prefill + KV-cache decoding, and the held-out perplexity matches
    metrics.json.

Exits non-zero on any mismatch; the last line reads "N passed, N failed".

    /usr/bin/python3 python/check_fixtures.py [--fixtures test/fixtures] [--no-examples]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from flightllm_models.export import input_names, output_names  # noqa: E402
from ortref import ort_run, ort_version  # noqa: E402


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, label: str, ok: bool, detail: str = ""):
        if ok:
            self.passed += 1
            print(f"PASS {label} {detail}".rstrip())
        else:
            self.failed.append(label)
            print(f"FAIL {label} {detail}".rstrip())


def check_graph_io(path: Path, num_layers: int, with_past: bool):
    m = onnx.load(str(path), load_external_data=False)
    ins = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    outs = [o.name for o in m.graph.output]
    return ins == input_names(num_layers, with_past) and outs == output_names(num_layers), ins, outs


def check_fixtures(root: Path, c: Checker):
    manifest = json.loads((root / "MANIFEST.json").read_text())
    atol = manifest["tolerance"]["atol"]
    print(f"onnxruntime-node {ort_version()} (fixtures made with {manifest['versions']['onnxruntime_node']})")
    for fx in manifest["fixtures"]:
        fdir = root / fx["dir"]
        L = fx["config"]["num_layers"]
        for name, with_past in (("decoder_model.onnx", False), ("decoder_with_past_model.onnx", True)):
            path = fdir / name
            try:
                onnx.checker.check_model(str(path))
                ok, ins, outs = check_graph_io(path, L, with_past)
                c.check(f"{fx['dir']}/{name}", ok, "" if ok else f"inputs {ins} outputs {outs}")
            except Exception as e:  # noqa: BLE001
                c.check(f"{fx['dir']}/{name}", False, repr(e))
        for case in fx["cases"]:
            cdir = fdir / "ref" / case["name"]
            label = f"{fx['dir']}/ref/{case['name']}"
            try:
                feeds = {p.stem: np.load(p) for p in sorted((cdir / "inputs").glob("*.npy"))}
                expect = {p.stem: np.load(p) for p in sorted((cdir / "outputs").glob("*.npy"))}
                got = ort_run(fdir / case["model"], feeds)
                if set(got) != set(expect):
                    c.check(label, False, f"outputs {sorted(got)} != {sorted(expect)}")
                    continue
                worst, where = -1.0, ""
                for k in expect:
                    if got[k].shape != expect[k].shape:
                        worst, where = float("inf"), f"{k} shape {got[k].shape} != {expect[k].shape}"
                        break
                    d = float(np.max(np.abs(got[k].astype(np.float64) - expect[k])))
                    if d > worst:
                        worst, where = d, k
                c.check(label, worst <= atol, f"max|diff|={worst:.2e} ({where})")
            except Exception as e:  # noqa: BLE001
                c.check(label, False, repr(e))


def check_example(out: Path, c: Checker):
    import train_tiny_llama as tt

    greedy = json.loads((out / "greedy.json").read_text())
    for i, case in enumerate(greedy["cases"]):
        gen, _ = tt.greedy_ort(out, case["prompt_ids"])
        same = gen == case["generated_ids"]
        first = next((j for j, (a, b) in enumerate(zip(gen, case["generated_ids"])) if a != b), None)
        c.check(f"{out.name}/greedy[{i}]", same, "" if same else f"first differing token at {first}")
    metrics = json.loads((out / "metrics.json").read_text())
    held = (out / "heldout.txt").read_bytes()
    ppl = tt.perplexity(tt.ort_logits(out / tt.PREFILL_FILE), held, metrics["heldout"]["window"])
    want = metrics["heldout"]["onnxruntime"]["perplexity_per_byte"]
    rel = abs(ppl["perplexity_per_byte"] - want) / want
    c.check(f"{out.name}/heldout-perplexity", rel <= 1e-5,
            f"{ppl['perplexity_per_byte']:.6f} vs stored {want:.6f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=str(HERE.parent / "test" / "fixtures"))
    ap.add_argument("--example", default=str(HERE.parent / "examples" / "tiny-llama-bytes"))
    ap.add_argument("--no-examples", action="store_true")
    args = ap.parse_args()
    c = Checker()
    check_fixtures(Path(args.fixtures), c)
    if not args.no_examples:
        ex = Path(args.example)
        if (ex / "greedy.json").exists():
            check_example(ex, c)
        else:
            c.check(f"{ex.name}", False, "greedy.json missing (run python/train_tiny_llama.py)")
    if c.failed:
        print("failed: " + ", ".join(c.failed))
    print(f"{c.passed} passed, {len(c.failed)} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
