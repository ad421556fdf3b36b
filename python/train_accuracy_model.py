#!/usr/bin/python3
"""Train the byte-level Llama-style model of the accuracy bench (examples/llama-bytes-4m).

The bundled examples/tiny-llama-bytes (0.8M parameters, license texts) is too
small to tell compression settings apart; this one has 4.26M parameters and is
trained on ~6.9 MB of English prose: the Python 3.11 documentation
(python3.11-doc), and held out on ~200 KB of "The Debian Administrator's
Handbook" (debian-handbook), other authors from another package
(python/accuracy_corpus.py extracts both deterministically).

Everything is deterministic given --seed: data order, initialization and
training run on the CPU with a fixed thread count (the wall time varies with
the machine's load, the weights do not on one machine).

Outputs (in --out):
  decoder_model.onnx             prefill graph, opset 17
  decoder_with_past_model.onnx   decode graph with KV cache, opset 17
  model.onnx_data                the weights, ONE external-data file shared by both graphs
  heldout.txt                    the held-out text
  calibration.txt                64 KiB of training text (for --calibration)
  metrics.json                   parameters, training log, losses, perplexities
  greedy.json                    3 prompts and onnxruntime's greedy 64-token continuations
  README.md
  model.pt                       torch checkpoint (not committed: 17 MB; --no-train needs it)

    apt-get install -y python3.11-doc debian-handbook libopenblas0-pthread
    /usr/bin/python3 python/train_accuracy_model.py             # train + export + evaluate
    /usr/bin/python3 python/train_accuracy_model.py --no-train  # re-export/evaluate model.pt
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# OpenBLAS (torch's BLAS on Debian) has its own thread pool that torch.set_num_threads does not
# size: one thread keeps the sums' order, hence the weights, independent of the machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import accuracy_corpus  # noqa: E402
from flightllm_models import DecoderConfig, build_model, count_parameters  # noqa: E402
from ortref import ort_version  # noqa: E402
from train_tiny_llama import (  # noqa: E402
    PREFILL_FILE, export_and_check, ort_logits, perplexity, torch_logits, train_or_load, write_greedy)

EVAL_BATCH = 16  # windows per forward pass when scoring

DEFAULT_OUT = HERE.parent / "examples" / "llama-bytes-4m"
HELDOUT_BYTES = 200 * 1024
CALIBRATION_BYTES = 64 * 1024
PROMPTS = (
    "The Python interpreter ",
    "In this chapter, we ",
    "A package is ",
)

# Where the export each resumed stage started from is kept (stage number -> source).
STAGE_SOURCES = {1: "examples/llama-bytes-4m at git commit da6003d"}

# 256 wide, 6 layers, 4 heads of 64 with 2 KV heads (GQA), SwiGLU 640: every
# projection's input width (256, 640) is a multiple of 128, so group-wise
# quantization with groups of 64 or 128 and N:16 sparsity apply to all of them.
CONFIG = dict(family="llama", vocab_size=256, hidden_size=256, num_layers=6, num_heads=4,
              num_kv_heads=2, intermediate_size=640, max_positions=256,
              mask_style="range", mask_apply="add", rms_norm_eps=1e-6, rope_theta=10000.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=220)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    # One thread: on a loaded machine, OpenMP threads wait for each other at
    # every op (a step took 5x longer with 2 threads at load average 20).
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-bytes", type=int, default=32768,
                    help="held-out bytes torch scores here (0: all; bench/accuracy.py scores all of "
                         "heldout.txt with the toolchain's engines)")
    ap.add_argument("--ort-check-bytes", type=int, default=16384,
                    help="held-out bytes onnxruntime scores to check it agrees with torch")
    ap.add_argument("--heldout-bytes", type=int, default=HELDOUT_BYTES,
                    help="held-out text size (the handbook's prose is cut after the paragraph reaching it)")
    ap.add_argument("--no-train", action="store_true", help="load model.pt instead of training")
    ap.add_argument("--schedule", choices=("cosine", "rsqrt"), default="cosine",
                    help="learning rate after warmup: cosine to 10%% over --steps, or peak x "
                         "max(0.1, sqrt(warmup / step)), which does not depend on --steps")
    ap.add_argument("--warmup", type=int, default=0, help="warmup steps (0: 5%% of --steps)")
    ap.add_argument("--time-budget", type=float, default=0, metavar="S",
                    help="stop after the first step that ends S seconds in (rsqrt only); the steps run "
                         "are recorded, and --steps K --schedule rsqrt reproduces the same weights")
    ap.add_argument("--resume-from-onnx", metavar="DIR",
                    help="start from the weights of an earlier export (DIR/decoder_model.onnx + its "
                         "model.onnx_data, loaded by name) instead of a random initialization; the "
                         "earlier training record (DIR/metrics.json) is kept as the first stage")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_data = accuracy_corpus.train_text()
    held_data = accuracy_corpus.heldout_text(args.heldout_bytes)
    (out / "heldout.txt").write_bytes(held_data)
    # Calibration text for flightllm-compile: from the training split, never the held-out one.
    (out / "calibration.txt").write_bytes(train_data[:CALIBRATION_BYTES])
    print(f"train {len(train_data)} bytes ({accuracy_corpus.PACKAGES['train']}), "
          f"held-out {len(held_data)} bytes ({accuracy_corpus.PACKAGES['heldout']})", flush=True)

    config = DecoderConfig(**CONFIG)
    model = build_model(config)
    print(f"{count_parameters(model)} parameters", flush=True)
    metrics_path = out / "metrics.json"
    training = train_or_load(model, config, out, train_data, args)

    shared, diff = export_and_check(model, out, held_data, tolerance=1e-3)

    # onnxruntime agrees with torch on the perplexity of the held-out text's first bytes too.
    L = config.max_positions
    t0 = time.time()
    evaluated = held_data[: args.eval_bytes] if args.eval_bytes else held_data
    ppl_torch = perplexity(torch_logits(model), evaluated, L, EVAL_BATCH)
    ppl_torch["bytes"] = len(evaluated)
    print(f"held-out perplexity/byte (torch, first {len(evaluated)} bytes): "
          f"{ppl_torch['perplexity_per_byte']:.4f} ({time.time() - t0:.0f} s)", flush=True)
    head = held_data[: args.ort_check_bytes]
    ppl_torch_head = perplexity(torch_logits(model), head, L, EVAL_BATCH)
    ppl_ort_head = perplexity(ort_logits(out / PREFILL_FILE), head, L, EVAL_BATCH)
    rel = abs(ppl_torch_head["perplexity_per_byte"] - ppl_ort_head["perplexity_per_byte"]) \
        / ppl_torch_head["perplexity_per_byte"]
    print(f"first {len(head)} held-out bytes: torch {ppl_torch_head['perplexity_per_byte']:.5f} "
          f"onnxruntime {ppl_ort_head['perplexity_per_byte']:.5f} (rel diff {rel:.1e})", flush=True)
    if rel > 1e-4:
        raise SystemExit("torch and onnxruntime perplexities disagree")
    ppl_train = perplexity(torch_logits(model), train_data[: 64 * L], L, EVAL_BATCH)

    greedy = write_greedy(model, out, PROMPTS)

    metrics = {
        "config": config.to_dict(),
        "params": count_parameters(model),
        "data": {"train": {"package": accuracy_corpus.PACKAGES["train"],
                           "source": str(accuracy_corpus.PYDOC_DIR), "bytes": len(train_data),
                           "files": len(accuracy_corpus.pydoc_files())},
                 "heldout": {"package": accuracy_corpus.PACKAGES["heldout"],
                             "source": str(accuracy_corpus.HANDBOOK_DIR), "bytes": len(held_data)},
                 "calibration": {"file": "calibration.txt", "bytes": min(CALIBRATION_BYTES, len(train_data)),
                                 "from": "the first bytes of the training text"}},
        "training": training,
        "heldout": {"torch": ppl_torch, "window": L,
                    "method": f"non-overlapping {L}-byte windows, each predicting its bytes 1..n-1"},
        "heldout_head_check": {"bytes": len(head), "torch": ppl_torch_head, "onnxruntime": ppl_ort_head},
        "train_split_first_16KiB_torch": ppl_train,
        "torch_vs_onnxruntime_max_abs_logit_diff": diff,
        "external_data": shared,
        "versions": {"torch": torch.__version__, "onnxruntime_node": ort_version()},
    }
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n")
    write_readme(out, metrics, greedy)
    print(json.dumps({k: metrics[k] for k in ("params", "heldout")}, indent=1))


def write_readme(out: Path, m: dict, greedy):
    t, c, d, h = m["training"], m["config"], m["data"], m["heldout"]
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    lines = [
        "# llama-bytes-4m",
        "",
        "A %.2fM-parameter byte-level Llama-style decoder (vocab 256 = bytes), the model of the "
        "accuracy bench (`bench/accuracy.py`): large enough for compression settings to differ. "
        "Generated by `python/train_accuracy_model.py`; do not edit by hand." % (m["params"] / 1e6),
        "",
        "## Model",
        "",
        f"- hidden {c['hidden_size']}, {c['num_layers']} layers, {c['num_heads']} heads "
        f"(head_dim {c['head_dim']}), {c['num_kv_heads']} KV heads (GQA), SwiGLU FFN {c['intermediate_size']}, "
        f"RMSNorm (eps {c['rms_norm_eps']}), RoPE (theta {c['rope_theta']:g}), max positions {c['max_positions']}, "
        "untied LM head, no biases; exported like HF/optimum (two graphs, opset 17)",
        f"- parameters: {m['params']}",
        "",
        "## Data and licences",
        "",
        f"- training: {d['train']['bytes']} bytes of prose from the Python 3.11 documentation "
        f"(Debian package `{d['train']['package']}`, the reStructuredText sources in {d['train']['source']}, "
        f"{d['train']['files']} files; licence: PSF License Agreement for the documentation, as in the "
        "package's copyright file)",
        f"- held out: {d['heldout']['bytes']} bytes of prose from \"The Debian Administrator's Handbook\" by "
        f"Raphaël Hertzog and Roland Mas (Debian package `{d['heldout']['package']}`, the English HTML in "
        f"{d['heldout']['source']}; licence: GPL-2+ or CC-BY-SA-3.0): other authors, another package",
        f"- calibration: `calibration.txt`, {d['calibration']['bytes']} bytes, {d['calibration']['from']}",
        "- extraction (`python/accuracy_corpus.py`): files in name order; markup removed, code dropped "
        "(literal blocks, code directives, doctest sessions, HTML `<pre>`), inline markup kept as its text; "
        "one paragraph per line, paragraphs separated by an empty line",
        "",
        "## Files",
        "",
        "| file | bytes | what |",
        "| --- | ---: | --- |",
    ]
    what = {
        "decoder_model.onnx": "prefill graph (opset 17): input_ids -> logits, present.{i}.key/value",
        "decoder_with_past_model.onnx": "decode graph (opset 17): input_ids, past_key_values.{i}.key/value -> logits, present.*",
        "model.onnx_data": "external data (fp32 weights) shared by BOTH graphs",
        "heldout.txt": "held-out text",
        "calibration.txt": "calibration text (training split)",
        "metrics.json": "parameters, training log, perplexities",
        "greedy.json": "3 prompts and onnxruntime's greedy continuation (64 tokens each)",
    }
    for name, text in what.items():
        if name in sizes:
            lines.append(f"| {name} | {sizes[name]} | {text} |")
    lines += ["", "`model.pt` (the torch checkpoint) is not committed; training writes it.", "",
              "## Training", ""]
    stages = []
    while t:
        stages.insert(0, t)
        t = t.get("resumed_from", {}).get("training")
    for i, t in enumerate(stages):
        lines += [
            (f"- stage {i + 1}" + (" (resumed from the stage before, weights only: a fresh optimizer)"
                                   if i else "") + ":" if len(stages) > 1 else "- training:"),
            f"  {t['steps']} steps x batch {t['batch']} x {t['seq_len']} bytes = {t['tokens_seen']} tokens "
            f"({t['tokens_seen'] / d['train']['bytes']:.2f} epochs), "
            f"{t.get('optimizer', '')}, peak lr {t['lr']}, seed {t['seed']}, {t['threads']} CPU threads; "
            f"wall time {t['train_time_s']:.0f} s (a shared, loaded 2-core machine); final train loss "
            f"{t['final_train_loss']:.4f} nats/byte (mean of last 50 steps {t['train_loss_last50_mean']:.4f})",
        ]
    if len(stages) > 1:
        steps = " + ".join(str(t["steps"]) for t in stages)
        lines.append(f"- in total: {steps} = {sum(t['steps'] for t in stages)} steps, "
                     f"{sum(t['tokens_seen'] for t in stages)} tokens "
                     f"({sum(t['tokens_seen'] for t in stages) / d['train']['bytes']:.2f} epochs), "
                     f"{sum(t['train_time_s'] for t in stages):.0f} s of wall time")
    lines += [
        "",
        "## Perplexity (per byte, torch fp32)",
        "",
        "| text | perplexity | bits/byte | nats/byte |",
        "| --- | ---: | ---: | ---: |",
        f"| held-out (heldout.txt, first {h['torch']['bytes']} bytes) | {h['torch']['perplexity_per_byte']:.4f} | {h['torch']['bits_per_byte']:.4f} | "
        f"{h['torch']['nll_per_byte']:.4f} |",
        f"| training split, first 16 KiB | {m['train_split_first_16KiB_torch']['perplexity_per_byte']:.4f} | "
        f"{m['train_split_first_16KiB_torch']['bits_per_byte']:.4f} | "
        f"{m['train_split_first_16KiB_torch']['nll_per_byte']:.4f} |",
        "",
        f"{h['method']}; {h['torch']['predicted_bytes']} predicted held-out bytes (all of heldout.txt: "
        "the fp32 row of `bench/accuracy.py`). onnxruntime-node "
        f"{m['versions']['onnxruntime_node']} agrees on the first {m['heldout_head_check']['bytes']} held-out "
        f"bytes ({m['heldout_head_check']['onnxruntime']['perplexity_per_byte']:.5f} against torch's "
        f"{m['heldout_head_check']['torch']['perplexity_per_byte']:.5f}). A uniform byte model has perplexity 256.",
        "",
        "## Greedy continuations (onnxruntime, prefill + KV-cache decode)",
        "",
    ]
    for g in greedy:
        lines.append(f"- `{g['prompt']!r}` -> `{g['generated_text']!r}`")
    lines += [
        "",
        "Regenerate: `apt-get install -y python3.11-doc debian-handbook libopenblas0-pthread`, then "
        "`/usr/bin/python3 python/train_accuracy_model.py` (retrain stage 1) or "
        "`/usr/bin/python3 python/train_accuracy_model.py --no-train` (re-export and re-evaluate model.pt).",
    ]
    for i, t in enumerate(stages[1:], start=1):
        r = t["resumed_from"]
        lines.append(
            f"Stage {i + 1}: from a directory DIR holding stage {i}'s export (model.onnx_data SHA-256 "
            f"{r['data_sha256'][:16]}...; {STAGE_SOURCES.get(i, 'the output of the stage before')}): "
            f"`/usr/bin/python3 python/train_accuracy_model.py --resume-from-onnx DIR --seed {t['seed']} "
            f"--steps {t['steps']} --batch {t['batch']} --seq-len {t['seq_len']} --lr {t['lr']}"
            + (f" --schedule rsqrt --warmup {t['warmup']}" if t.get("schedule") == "rsqrt" else "") + "`.")
    lines.append("")
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
