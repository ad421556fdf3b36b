#!/usr/bin/python3
"""Generate ONNX exports written the way HF transformers + optimum write them.

    /usr/bin/python3 python/gen_hf_exports.py --set fixtures            # test/fixtures-hf (committed)
    /usr/bin/python3 python/gen_hf_exports.py --set small --out DIR     # 22 small ones (ctest)
    /usr/bin/python3 python/gen_hf_exports.py --set matrix --out /work/hf-matrix [--seed 0]
    /usr/bin/python3 python/gen_hf_exports.py --set matrix --out DIR --only llama-431 op17 --list
    /usr/bin/python3 python/gen_hf_exports.py --set small --only llama-439-op14 --override num_layers=32 --out DIR

Each export directory holds the graphs of its optimum layout
(decoder_model.onnx + decoder_with_past_model.onnx [+ decoder_model_merged.onnx],
or model.onnx), config.json, generation_config.json, export.json (variant,
trace shapes, op histograms, per-case torch/onnxruntime differences) and
ref/<case>/{case.json, inputs/*.npy, outputs/*.npy}.  OUT/MANIFEST.json lists
the exports; writing a whole set removes export folders of other names (an
older generator's).  The output is a function of --set, --seed and --override
only.  See python/README.md, "HF-style exports".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import onnx  # noqa: E402
import torch  # noqa: E402

from hf_export.config import HFModelConfig  # noqa: E402
from hf_export.generate import ATOL, generate  # noqa: E402
from hf_export.variants import matrix, select, small_set  # noqa: E402
from ortref import ort_run, ort_version  # noqa: E402

DEFAULT_OUT = {"fixtures": HERE.parent / "test" / "fixtures-hf", "small": Path("/work/hf-small"),
               "matrix": Path("/work/hf-matrix")}


def with_overrides(v, overrides):
    """``v`` with HFModelConfig fields set from KEY=VALUE strings (JSON values)."""
    if not overrides:
        return v
    sizes = dict(v.sizes)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in HFModelConfig.__dataclass_fields__ or key in ("family", "code"):
            sys.exit(f"error: --override {item!r}: expected KEY=VALUE with KEY a model size field")
        try:
            sizes[key] = json.loads(value)
        except json.JSONDecodeError:
            sys.exit(f"error: --override {item!r}: VALUE must be a JSON value (number, true/false, null)")
    tag = "-".join([v.tag] * bool(v.tag) + [o.replace("=", "").replace("_", "") for o in overrides])
    return dataclasses.replace(v, sizes=sizes, tag=tag)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("fixtures", "small", "matrix"), default="fixtures",
                    help="fixtures: the committed ones (test/fixtures-hf); small: those and more at the "
                         "same sizes; matrix: a few hundred")
    ap.add_argument("--out", help="output folder (default: test/fixtures-hf or /work/hf-matrix)")
    ap.add_argument("--seed", type=int, default=0, help="matrix seed (sizes, options, weights)")
    ap.add_argument("--only", nargs="*", help="only variants whose name contains one of these")
    ap.add_argument("--list", action="store_true", help="print the variant names and exit")
    ap.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                    help="change model sizes of the selected variants (e.g. num_layers=32 hidden_size=256); "
                         "the names get the overrides appended")
    args = ap.parse_args()
    sets = {"fixtures": lambda: small_set(committed_only=True), "small": small_set, "matrix": lambda: matrix(args.seed)}
    variants = [with_overrides(v, args.override) for v in select(sets[args.set](), args.only)]
    if args.list:
        for v in variants:
            print(v.name)
        print(f"{len(variants)} variants")
        return 0
    out = Path(args.out) if args.out else DEFAULT_OUT[args.set]
    out.mkdir(parents=True, exist_ok=True)
    if not args.only and not args.override:
        # a whole set: exports an older generator wrote under other names go
        for stale in sorted(p.parent for p in out.glob("*/export.json")):
            if stale.name not in {v.name for v in variants}:
                print(f"removing {stale} (not in this set)")
                shutil.rmtree(stale)
    torch.set_num_threads(1)   # deterministic, and the machine is shared
    failed = []
    t0 = time.time()
    for i, v in enumerate(variants):
        t = time.time()
        try:
            rec = generate(v, out, ort_run)
            refs = [c["reference"] for c in rec["cases"]]
            worst = max(c["onnxruntime_vs_torch"] for c in rec["cases"] if c["reference"] == "onnxruntime")
            print(f"[{i + 1}/{len(variants)}] {v.name}: {len(refs)} cases, onnxruntime vs torch <= {worst:.1e}"
                  f"{', %d torch-referenced' % refs.count('torch') if 'torch' in refs else ''}"
                  f" ({time.time() - t:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001
            failed.append(v.name)
            print(f"[{i + 1}/{len(variants)}] {v.name}: FAILED {e}", flush=True)
            traceback.print_exc()
    manifest_path = out / "MANIFEST.json"
    entries = {}
    if manifest_path.exists() and args.only:
        entries = {e["name"]: e for e in json.loads(manifest_path.read_text())["exports"]}
    for v in variants:
        if v.name not in failed:
            entries[v.name] = v.to_dict()
    manifest = {"description": "ONNX exports written as HF transformers (4.31-4.40 code paths) + optimum write them; "
                               "regenerate with python/gen_hf_exports.py",
                "set": args.set, "seed": args.seed, "atol": ATOL,
                "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime_node": ort_version()},
                "exports": [entries[k] for k in sorted(entries)]}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(variants) - len(failed)} exported, {len(failed)} failed in {time.time() - t0:.0f} s -> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
