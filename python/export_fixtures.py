#!/usr/bin/python3
"""Export the small random GPT-2 / OPT / Llama test models and their reference data.

For every family and every opset 13..17 this writes test/fixtures/<family>-op<N>/
with the two graphs of the HF optimum convention

    decoder_model.onnx            input_ids -> logits, present.{i}.key, present.{i}.value
    decoder_with_past_model.onnx  input_ids, past_key_values.{i}.key/.value -> same outputs

and reference cases under ref/<case>/{case.json, inputs/*.npy, outputs/*.npy}
computed by onnxruntime (python/ort, Node binding).  Every case is also run
through the torch model and must agree with onnxruntime to ATOL.  One extra
fixture, llama-op17-extdata, stores its weights as ONNX external data.
test/fixtures/MANIFEST.json describes everything.

    /usr/bin/python3 python/export_fixtures.py [--out test/fixtures] [--only gpt2-op13 ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from flightllm_models import DecoderConfig, build_model, count_parameters, init_random_weights  # noqa: E402
from flightllm_models.export import (  # noqa: E402
    PREFILL_FILE, WITH_PAST_FILE, export_decoder, flatten_past, model_outputs_to_dict,
    op_histogram, save_with_external_data, compact_names)
from ortref import ort_run, ort_version  # noqa: E402

ATOL = 1e-4          # torch vs onnxruntime, and stored reference vs a re-run
OPSETS = (13, 14, 15, 16, 17)
TRACE = {"batch": 2, "seq_len": 5, "past_len": 4}   # shapes used when tracing the export

# Per-family base configuration.  Sizes are all different from one another
# (vocab != hidden != intermediate != max_positions) so that a transposed or
# mixed-up dimension cannot go unnoticed.
BASE = {
    "gpt2": dict(vocab_size=80, hidden_size=32, num_layers=2, num_heads=4,
                 intermediate_size=48, max_positions=64),
    "opt": dict(vocab_size=72, hidden_size=32, num_layers=2, num_heads=4,
                intermediate_size=40, max_positions=64),
    "llama": dict(vocab_size=68, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2,
                  intermediate_size=40, max_positions=64),
}

# (family, opset) -> mask style, mask application[, activation].  Trilu needs opset >= 14.
VARIANTS = {
    ("gpt2", 13): ("buffer", "where", "gelu_new"),
    ("gpt2", 14): ("trilu", "add", "gelu"),
    ("gpt2", 15): ("range", "where", "gelu_new"),
    ("gpt2", 16): ("buffer", "add", "gelu"),
    ("gpt2", 17): ("trilu", "where", "gelu_new"),
    ("opt", 13): ("range", "add", None),
    ("opt", 14): ("buffer", "add", None),
    ("opt", 15): ("trilu", "where", None),
    ("opt", 16): ("range", "where", None),
    ("opt", 17): ("buffer", "where", None),
    ("llama", 13): ("buffer", "add", None),
    ("llama", 14): ("trilu", "add", None),
    ("llama", 15): ("range", "where", None),
    ("llama", 16): ("buffer", "where", None),
    ("llama", 17): ("range", "add", None),
}

# (case name, graph, batch, new tokens S, past length P)
CASES = [
    ("prefill_b1_s7", PREFILL_FILE, 1, 7, 0),
    ("prefill_b3_s1", PREFILL_FILE, 3, 1, 0),
    ("past_b1_p6_s1", WITH_PAST_FILE, 1, 1, 6),
    ("past_b1_p6_s3", WITH_PAST_FILE, 1, 3, 6),
    ("past_b2_p3_s2", WITH_PAST_FILE, 2, 2, 3),
]


def fixture_specs():
    specs = []
    for fi, family in enumerate(("gpt2", "opt", "llama")):
        for opset in OPSETS:
            style, apply, act = VARIANTS[(family, opset)]
            specs.append(dict(name=f"{family}-op{opset}", family=family, opset=opset,
                              mask_style=style, mask_apply=apply, activation=act,
                              seed=1000 * (fi + 1) + opset, external_data=False,
                              # Below opset 17: no node names (optional in ONNX) and
                              # shortened tensor names -- smaller files, and the importer
                              # sees both kinds.  Opset 17 keeps torch's names verbatim.
                              compact_names=opset < 17))
    specs.append(dict(name="llama-op17-extdata", family="llama", opset=17, mask_style="trilu",
                      mask_apply="where", activation=None, seed=3917, external_data=True,
                      compact_names=False))
    return specs


def max_abs_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b), (sorted(a), sorted(b))
    worst = 0.0
    for k in a:
        if a[k].shape != b[k].shape:
            raise AssertionError(f"{k}: shape {a[k].shape} != {b[k].shape}")
        worst = max(worst, float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))))
    return worst


def write_case(case_dir: Path, meta: dict, feeds: dict, outputs: dict) -> None:
    (case_dir / "inputs").mkdir(parents=True)
    (case_dir / "outputs").mkdir(parents=True)
    for k, v in feeds.items():
        np.save(case_dir / "inputs" / f"{k}.npy", v)
    for k, v in outputs.items():
        np.save(case_dir / "outputs" / f"{k}.npy", v)
    meta = dict(meta)
    meta["inputs"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds.items()}
    meta["outputs"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in outputs.items()}
    (case_dir / "case.json").write_text(json.dumps(meta, indent=2) + "\n")


def build_fixture(spec: dict, out_root: Path) -> dict:
    family = spec["family"]
    kw = dict(BASE[family], family=family, mask_style=spec["mask_style"], mask_apply=spec["mask_apply"])
    if spec["activation"]:
        kw["activation"] = spec["activation"]
    config = DecoderConfig(**kw)
    torch.manual_seed(spec["seed"])
    model = init_random_weights(build_model(config), spec["seed"]).eval()

    fdir = out_root / spec["name"]
    if fdir.exists():
        shutil.rmtree(fdir)
    fdir.mkdir(parents=True)
    graphs = {}
    for fname, with_past in ((PREFILL_FILE, False), (WITH_PAST_FILE, True)):
        m = export_decoder(model, fdir / fname, spec["opset"], with_past, **TRACE)
        graphs[fname] = op_histogram(m)
        if spec["compact_names"]:
            onnx.save(compact_names(m), str(fdir / fname))
        if spec["external_data"]:
            save_with_external_data(fdir / fname, fname + ".data")

    # Reference cases.
    rng = np.random.default_rng(spec["seed"])
    cases, worst_torch, worst_kv = [], 0.0, 0.0
    for case_name, graph, batch, s, p in CASES:
        ids = rng.integers(0, config.vocab_size, size=(batch, p + s), dtype=np.int64)
        meta = {"name": case_name, "model": graph, "batch": batch, "seq_len": s, "past_len": p}
        with torch.no_grad():
            full_logits, full_presents = model(torch.from_numpy(ids))
            if p:
                _, past = model(torch.from_numpy(ids[:, :p]))
                logits, presents = model(torch.from_numpy(ids[:, p:]), past)
                feeds = {"input_ids": ids[:, p:], **flatten_past(past)}
                meta["prefix_input_ids"] = ids[:, :p].tolist()
                meta["note"] = ("past_key_values.* are the torch model's presents for prefix_input_ids "
                                "(= decoder_model.onnx on them, within atol); "
                                "the logits equal the prefill logits of the "
                                "concatenated sequence at positions P..P+S-1")
                # KV-cache consistency inside torch.
                kv = float(torch.max(torch.abs(logits - full_logits[:, p:])))
                worst_kv = max(worst_kv, kv)
                if kv > ATOL:
                    raise AssertionError(f"{spec['name']}/{case_name}: cached != full logits ({kv})")
            else:
                logits, presents = full_logits, full_presents
                feeds = {"input_ids": ids}
        expect = model_outputs_to_dict(logits, presents)
        got = ort_run(fdir / graph, feeds)
        diff = max_abs_diff(got, expect)
        worst_torch = max(worst_torch, diff)
        if diff > ATOL:
            raise AssertionError(f"{spec['name']}/{case_name}: onnxruntime differs from torch by {diff}")
        meta["max_abs_diff_torch_vs_ort"] = diff
        write_case(fdir / "ref" / case_name, meta, feeds, got)
        cases.append({k: meta[k] for k in ("name", "model", "batch", "seq_len", "past_len",
                                            "max_abs_diff_torch_vs_ort")})

    files = {str(f.relative_to(fdir)): f.stat().st_size for f in sorted(fdir.iterdir()) if f.is_file()}
    entry = {
        "dir": spec["name"], "family": family, "opset": spec["opset"],
        "mask_style": config.mask_style, "mask_apply": config.mask_apply,
        "activation": config.activation, "external_data": spec["external_data"],
        "torch_names": not spec["compact_names"], "seed": spec["seed"],
        "params": count_parameters(model),
        "config": {"num_layers": config.num_layers, "hidden_size": config.hidden_size,
                   "num_heads": config.num_heads, "num_kv_heads": config.num_kv_heads,
                   "head_dim": config.head_dim, "intermediate_size": config.intermediate_size,
                   "vocab_size": config.vocab_size, "max_positions": config.max_positions,
                   "tie_word_embeddings": config.tie_word_embeddings,
                   "layer_norm_eps": config.layer_norm_eps if family != "llama" else None,
                   "rms_norm_eps": config.rms_norm_eps if family == "llama" else None,
                   "rope_theta": config.rope_theta if family == "llama" else None,
                   "opt_position_offset": config.opt_position_offset if family == "opt" else None},
        "trace_shapes": TRACE,
        "files": files,
        "cases": cases,
        "max_abs_diff_torch_vs_ort": worst_torch,
        "max_abs_diff_kv_cache_vs_full": worst_kv,
        "ops": graphs,
    }
    print(f"{spec['name']:20s} {spec['mask_style']:6s}/{spec['mask_apply']:5s} params={entry['params']} "
          f"bytes={sum(files.values())} torch-vs-ort={worst_torch:.2e}", flush=True)
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE.parent / "test" / "fixtures"))
    ap.add_argument("--only", nargs="*", help="fixture names to (re)generate; MANIFEST entries of the others are kept")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    manifest_path = out_root / "MANIFEST.json"
    old = {}
    if args.only and manifest_path.exists():
        old = {f["dir"]: f for f in json.loads(manifest_path.read_text())["fixtures"]}

    entries = []
    for spec in fixture_specs():
        if args.only and spec["name"] not in args.only:
            if spec["name"] in old:
                entries.append(old[spec["name"]])
            continue
        entries.append(build_fixture(spec, out_root))

    manifest = {
        "description": "Small random decoder-only LLMs exported with torch.onnx.export "
                       "(HF optimum layout) and onnxruntime reference outputs. "
                       "Regenerate with: /usr/bin/python3 python/export_fixtures.py",
        "generator": "python/export_fixtures.py",
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                     "onnxruntime_node": ort_version()},
        "tolerance": {"atol": ATOL},
        "io": {
            "prefill": {"model": PREFILL_FILE, "inputs": ["input_ids [batch_size, sequence_length] int64"],
                        "outputs": ["logits [batch_size, sequence_length, vocab] float32",
                                    "present.{i}.key / present.{i}.value [batch_size, kv_heads, total_sequence_length, head_dim] float32"]},
            "with_past": {"model": WITH_PAST_FILE,
                          "inputs": ["input_ids [batch_size, sequence_length] int64",
                                     "past_key_values.{i}.key / past_key_values.{i}.value [batch_size, kv_heads, past_sequence_length, head_dim] float32"],
                          "outputs": ["same as prefill; total_sequence_length = past + sequence"]},
            "case_layout": "ref/<case>/case.json, ref/<case>/inputs/<input name>.npy, ref/<case>/outputs/<output name>.npy",
        },
        "mask_styles": {
            "buffer": "constant bool lower-triangular [max_pos, max_pos] initializer sliced [P:P+S, :P+S]",
            "trilu": "Trilu on a full [T, T] matrix (tril of ones, or triu(diagonal=1) of finfo.min), last S rows",
            "range": "Range positions compared with Less/Greater, then Where",
        },
        "mask_apply": {"where": "Where(allowed, scores, finfo.min)",
                       "add": "scores + (0 allowed / finfo.min masked)"},
        "fixtures": entries,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(f.stat().st_size for f in out_root.rglob("*") if f.is_file())
    print(f"wrote {manifest_path} ({len(entries)} fixtures, {total} bytes under {out_root})")


if __name__ == "__main__":
    main()
