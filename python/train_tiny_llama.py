#!/usr/bin/python3
"""Train the tiny byte-level Llama-style model in examples/tiny-llama-bytes/.

Data: the license texts Debian ships in /usr/share/common-licenses (symlinks
resolved and de-duplicated, files in name order).  The files named in HELDOUT
are never trained on; their concatenation is the held-out split
(heldout.txt).  Everything is deterministic given --seed (training runs on the
CPU with a fixed thread count; the wall time varies, the result should not).

Outputs (in --out, default examples/tiny-llama-bytes):
  model.pt                       torch state_dict + config
  decoder_model.onnx             prefill graph, opset 17
  decoder_with_past_model.onnx   decode graph with KV cache, opset 17
  model.onnx_data                the weights, ONE external-data file shared by both graphs
  heldout.txt                    the held-out text
  metrics.json                   parameters, training time, losses, perplexities
  greedy.json                    3 prompts and onnxruntime's greedy 64-token continuations
  README.md

    /usr/bin/python3 python/train_tiny_llama.py             # train + export + evaluate
    /usr/bin/python3 python/train_tiny_llama.py --no-train  # re-export/evaluate model.pt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from flightllm_models import DecoderConfig, build_model, count_parameters  # noqa: E402
from flightllm_models.export import (  # noqa: E402
    PREFILL_FILE, WITH_PAST_FILE, export_decoder, flatten_past, save_sharing_external_data)
from ortref import ort_run, ort_version  # noqa: E402

LICENSE_DIR = Path("/usr/share/common-licenses")
HELDOUT = ("Artistic", "BSD", "CC0-1.0")
DATA_FILE = "model.onnx_data"
PROMPTS = (
    "GNU GENERAL PUBLIC LICENSE\n",
    "Copyright (C) ",
    "Everyone is permitted to copy",
)
MAX_NEW_TOKENS = 64

CONFIG = dict(family="llama", vocab_size=256, hidden_size=128, num_layers=4, num_heads=4,
              num_kv_heads=2, intermediate_size=344, max_positions=256,
              mask_style="range", mask_apply="add", rms_norm_eps=1e-6, rope_theta=10000.0)


def load_corpus():
    """-> (train bytes, heldout bytes, {file: (split, bytes)})"""
    seen, train, held, files = set(), [], [], {}
    for p in sorted(LICENSE_DIR.iterdir(), key=lambda q: q.name):
        real = p.resolve()
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        data = real.read_bytes()
        split = "heldout" if p.name in HELDOUT else "train"
        (held if split == "heldout" else train).append(data)
        files[p.name] = (split, len(data))
    return b"".join(train), b"".join(held), files


def chunk_batches(data: bytes, length: int):
    """Non-overlapping windows of `length` bytes (the last one may be shorter).
    Each window predicts its bytes 1..n-1 from the preceding ones."""
    arr = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    full = len(arr) // length
    batches = []
    if full:
        batches.append(arr[: full * length].reshape(full, length))
    rest = arr[full * length:]
    if len(rest) >= 2:
        batches.append(rest.reshape(1, -1))
    return batches


def nll_from_logits(logits: np.ndarray, ids: np.ndarray):
    """Sum of -log p(ids[:, t+1] | ids[:, :t+1]) in float64, and the count."""
    lg = logits[:, :-1].astype(np.float64)
    tgt = ids[:, 1:]
    m = lg.max(-1, keepdims=True)
    logz = (m[..., 0] + np.log(np.exp(lg - m).sum(-1)))
    picked = np.take_along_axis(lg, tgt[..., None], -1)[..., 0]
    return float((logz - picked).sum()), int(tgt.size)


def perplexity(run_logits, data: bytes, length: int, batch: int = 0):
    """Per-byte perplexity in non-overlapping windows; `batch` > 0 runs at most
    that many windows at a time (same result, bounded memory)."""
    total, count = 0.0, 0
    for windows in chunk_batches(data, length):
        step = batch or len(windows)
        for i in range(0, len(windows), step):
            ids = windows[i: i + step]
            s, c = nll_from_logits(run_logits(ids), ids)
            total += s
            count += c
    nll = total / count
    return {"nll_per_byte": nll, "perplexity_per_byte": math.exp(nll),
            "bits_per_byte": nll / math.log(2), "predicted_bytes": count}


def torch_logits(model):
    @torch.no_grad()
    def run(ids):
        return model(torch.from_numpy(ids))[0].numpy()
    return run


def ort_logits(path):
    def run(ids):
        return ort_run(path, {"input_ids": ids})["logits"]
    return run


def train(model, train_data: bytes, args):
    g = torch.Generator().manual_seed(args.seed)
    data = torch.from_numpy(np.frombuffer(train_data, dtype=np.uint8).astype(np.int64))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95),
                            weight_decay=0.1, eps=1e-8)
    schedule = getattr(args, "schedule", "cosine")
    time_budget = getattr(args, "time_budget", 0)
    if time_budget and schedule == "cosine":
        raise SystemExit("--time-budget needs a schedule that does not depend on the step count (rsqrt)")
    warmup = getattr(args, "warmup", 0) or max(1, args.steps // 20)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        if schedule == "rsqrt":
            # Independent of --steps: a run stopped by --time-budget after K steps has the
            # weights of `--steps K` (deterministic, reproducible).
            return args.lr * max(0.1, math.sqrt(warmup / (step + 1)))
        frac = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    model.train()
    losses, log = [], []
    t0 = time.time()
    for step in range(args.steps):
        if time_budget and step and time.time() - t0 >= time_budget:
            print(f"time budget of {time_budget} s reached after {step} steps", flush=True)
            break
        starts = torch.randint(0, len(data) - args.seq_len - 1, (args.batch,), generator=g)
        x = torch.stack([data[s: s + args.seq_len] for s in starts.tolist()])
        y = torch.stack([data[s + 1: s + args.seq_len + 1] for s in starts.tolist()])
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % getattr(args, "log_every", 100) == 0 or step == args.steps - 1:
            elapsed = time.time() - t0
            log.append({"step": step, "loss": losses[-1], "elapsed_s": round(elapsed, 1)})
            print(f"step {step:5d} loss {losses[-1]:.4f} lr {lr_at(step):.2e} {elapsed:7.1f}s", flush=True)
    model.eval()
    tail = losses[-50:]
    return {"steps": len(losses), "train_time_s": time.time() - t0, "final_train_loss": losses[-1],
            "train_loss_last50_mean": sum(tail) / len(tail), "log": log}


@torch.no_grad()
def hf_style_init(model, seed):
    """HF Llama _init_weights: N(0, 0.02) for linear and embedding weights."""
    g = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters()):
        if p.dim() == 2:
            p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def greedy_ort(out: Path, prompt_ids):
    """Prefill the prompt, then decode one token at a time through the with-past graph."""
    ids = np.array([prompt_ids], dtype=np.int64)
    res = ort_run(out / PREFILL_FILE, {"input_ids": ids})
    generated, margins = [], []
    for step in range(MAX_NEW_TOKENS):
        last = res["logits"][0, -1].astype(np.float64)
        order = np.argsort(-last, kind="stable")
        tok = int(order[0])
        margins.append(float(last[order[0]] - last[order[1]]))
        generated.append(tok)
        if step == MAX_NEW_TOKENS - 1:
            break
        feeds = {"input_ids": np.array([[tok]], dtype=np.int64)}
        for name, value in res.items():
            if name.startswith("present."):
                feeds["past_key_values." + name[len("present."):]] = value
        res = ort_run(out / WITH_PAST_FILE, feeds)
    return generated, margins


@torch.no_grad()
def greedy_torch(model, prompt_ids):
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    logits, past = model(ids)
    generated = []
    for _ in range(MAX_NEW_TOKENS):
        tok = int(torch.argmax(logits[0, -1]))
        generated.append(tok)
        logits, past = model(torch.tensor([[tok]]), past)
    return generated


@torch.no_grad()
def load_weights_from_onnx(model, prefill_path: Path):
    """Load the weights of an exported prefill graph (and its external data)
    into `model`, by name: an initializer named after a parameter
    ("model.<param>") is that parameter; a MatMul's anonymous weight
    ("onnx::MatMul_N", stored transposed) belongs to the Linear whose scope
    names the node ("/model/<module path>/MatMul"). Every parameter must be
    found exactly once, with its shape."""
    graph = onnx.load(str(prefill_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    found = {}
    for name, value in inits.items():
        if name.startswith("model."):
            found[name[len("model."):]] = value
    for node in graph.node:
        if node.op_type != "MatMul" or not node.name.endswith("/MatMul"):
            continue
        weights = [x for x in node.input if x in inits]
        if len(weights) != 1 or not node.name.startswith("/model/"):
            continue
        module = node.name[len("/model/"): -len("/MatMul")].replace("/", ".")
        key = module + ".weight"
        if key in found:
            raise SystemExit(f"{prefill_path}: two initializers for {key}")
        found[key] = inits[weights[0]].T
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(found))
    unknown = sorted(set(found) - set(params))
    if missing or unknown:
        raise SystemExit(f"{prefill_path}: parameters not in the graph {missing}, "
                         f"initializers that are no parameter {unknown}")
    for name, p in params.items():
        value = torch.from_numpy(np.array(found[name], dtype=np.float32))
        if tuple(value.shape) != tuple(p.shape):
            raise SystemExit(f"{prefill_path}: {name} has shape {tuple(value.shape)}, "
                             f"the model {tuple(p.shape)}")
        p.copy_(value)


def train_or_load(model, config, out: Path, train_data: bytes, args):
    """Train from the seed (or, with --resume-from-onnx, from the weights of an
    exported model) and save model.pt, or (--no-train) load model.pt and the
    training record of metrics.json. -> the training record"""
    metrics_path = out / "metrics.json"
    resume = getattr(args, "resume_from_onnx", None)
    if args.no_train:
        state = torch.load(out / "model.pt")
        model.load_state_dict(state["state_dict"])
        training = json.loads(metrics_path.read_text())["training"] if metrics_path.exists() else {}
    else:
        if resume:
            load_weights_from_onnx(model, Path(resume) / PREFILL_FILE)
        else:
            hf_style_init(model, args.seed)
        training = train(model, train_data, args)
        schedule = getattr(args, "schedule", "cosine")
        warmup = getattr(args, "warmup", 0) or max(1, args.steps // 20)  # as train() used
        training.update({"batch": args.batch, "seq_len": args.seq_len,
                         "lr": args.lr, "threads": args.threads, "seed": args.seed,
                         "tokens_seen": training["steps"] * args.batch * args.seq_len,
                         "schedule": schedule, "warmup": warmup,
                         "optimizer": "AdamW(betas=(0.9,0.95), wd=0.1), " + (
                             f"warmup {warmup} steps + lr x max(0.1, sqrt(warmup / step)), clip 1.0"
                             if schedule == "rsqrt" else "warmup 5% + cosine to 10%, clip 1.0")})
        if resume:
            # The earlier stage's record (its own seed, steps, time) stays with the model.
            earlier = Path(resume) / "metrics.json"
            data = Path(resume) / DATA_FILE
            training["resumed_from"] = {
                "dir": str(resume),
                "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
                "training": json.loads(earlier.read_text()).get("training", {}) if earlier.exists() else {}}
        torch.save({"config": config.to_dict(), "state_dict": model.state_dict()}, out / "model.pt")
    model.eval()
    return training


def export_and_check(model, out: Path, probe_text: bytes, tolerance: float):
    """Export both graphs at opset 17, move the weights into one shared file
    and check onnxruntime against torch on a prefill and a cached step.
    -> (external data byte counts, max |logit difference|)"""
    for name in (PREFILL_FILE, WITH_PAST_FILE, DATA_FILE):
        if (out / name).exists():
            (out / name).unlink()
    export_decoder(model, out / PREFILL_FILE, 17, with_past=False)
    export_decoder(model, out / WITH_PAST_FILE, 17, with_past=True)
    shared = save_sharing_external_data([out / PREFILL_FILE, out / WITH_PAST_FILE], DATA_FILE)
    print(f"external data: {shared['unique']} bytes stored, {shared['referenced']} referenced", flush=True)

    probe = np.frombuffer(probe_text[:40], dtype=np.uint8).astype(np.int64)[None]
    with torch.no_grad():
        t_logits, t_past = model(torch.from_numpy(probe[:, :32]))
        t_step, _ = model(torch.from_numpy(probe[:, 32:]), t_past)
    o = ort_run(out / PREFILL_FILE, {"input_ids": probe[:, :32]})
    o2 = ort_run(out / WITH_PAST_FILE, {"input_ids": probe[:, 32:], **flatten_past(t_past)})
    diff = max(float(np.abs(o["logits"] - t_logits.numpy()).max()),
               float(np.abs(o2["logits"] - t_step.numpy()).max()))
    print(f"torch vs onnxruntime max |logit diff| = {diff:.2e}", flush=True)
    if diff > tolerance:
        raise SystemExit(f"onnxruntime disagrees with torch ({diff})")
    return shared, diff


def write_greedy(model, out: Path, prompts):
    """onnxruntime's greedy continuations of the prompts -> greedy.json; returns the cases."""
    greedy = []
    for prompt in prompts:
        pids = list(prompt.encode("utf-8"))
        gen, margins = greedy_ort(out, pids)
        tgen = greedy_torch(model, pids)
        text = bytes(gen).decode("utf-8", errors="replace")
        print(f"{prompt!r} -> {text!r}", flush=True)
        greedy.append({"prompt": prompt, "prompt_ids": pids, "generated_ids": gen,
                       "generated_text": text, "torch_generated_ids_match": tgen == gen,
                       "min_top1_top2_logit_margin": min(margins)})
    (out / "greedy.json").write_text(json.dumps({
        "model": [PREFILL_FILE, WITH_PAST_FILE],
        "procedure": "batch 1; prefill decoder_model.onnx on prompt_ids; then for each new token: "
                     "argmax of the last logits row (lowest id on ties), fed back to "
                     "decoder_with_past_model.onnx with past_key_values.* = previous present.*; "
                     f"{MAX_NEW_TOKENS} generated tokens in total (the last one is not fed back)",
        "onnxruntime_node": ort_version(),
        "max_new_tokens": MAX_NEW_TOKENS,
        "cases": greedy}, indent=1) + "\n")
    return greedy


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE.parent / "examples" / "tiny-llama-bytes"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-train", action="store_true", help="load model.pt instead of training")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train_data, held_data, files = load_corpus()
    (out / "heldout.txt").write_bytes(held_data)
    print(f"train {len(train_data)} bytes, held-out {len(held_data)} bytes ({', '.join(HELDOUT)})")

    config = DecoderConfig(**CONFIG)
    model = build_model(config)
    metrics_path = out / "metrics.json"
    training = train_or_load(model, config, out, train_data, args)

    shared, diff = export_and_check(model, out, held_data, tolerance=1e-4)

    L = config.max_positions
    ppl_torch = perplexity(torch_logits(model), held_data, L)
    ppl_ort = perplexity(ort_logits(out / PREFILL_FILE), held_data, L)
    rel = abs(ppl_torch["perplexity_per_byte"] - ppl_ort["perplexity_per_byte"]) / ppl_torch["perplexity_per_byte"]
    print(f"held-out perplexity/byte: torch {ppl_torch['perplexity_per_byte']:.4f} "
          f"onnxruntime {ppl_ort['perplexity_per_byte']:.4f} (rel diff {rel:.1e})")
    if rel > 1e-4:
        raise SystemExit("torch and onnxruntime perplexities disagree")
    ppl_train = perplexity(torch_logits(model), train_data[: 64 * L], L)

    greedy = write_greedy(model, out, PROMPTS)

    metrics = {
        "config": config.to_dict(),
        "params": count_parameters(model),
        "data": {"source": str(LICENSE_DIR), "files": {k: {"split": s, "bytes": n} for k, (s, n) in files.items()},
                 "train_bytes": len(train_data), "heldout_bytes": len(held_data),
                 "heldout_files": list(HELDOUT)},
        "training": training,
        "heldout": {"torch": ppl_torch, "onnxruntime": ppl_ort, "window": L,
                    "method": f"non-overlapping {L}-byte windows, each predicting its bytes 1..n-1"},
        "train_split_first_16KiB_torch": ppl_train,
        "torch_vs_onnxruntime_max_abs_logit_diff": diff,
        "external_data": shared,
        "versions": {"torch": torch.__version__, "onnxruntime_node": ort_version()},
    }
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n")
    write_readme(out, metrics, greedy)
    print(json.dumps({k: metrics[k] for k in ("params", "heldout")}, indent=1))


def write_readme(out: Path, m: dict, greedy):
    t = m["training"]
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    c = m["config"]
    lines = [
        "# tiny-llama-bytes",
        "",
        "A ~%.2fM-parameter byte-level Llama-style decoder (vocab 256 = bytes) trained for a few "
        "minutes on the license texts in /usr/share/common-licenses. It is the accuracy fixture and "
        "demo model for the FlightLLM compiler. Generated by `python/train_tiny_llama.py`; do not edit "
        "by hand." % (m["params"] / 1e6),
        "",
        "## Model",
        "",
        f"- hidden {c['hidden_size']}, {c['num_layers']} layers, {c['num_heads']} heads "
        f"(head_dim {c['head_dim']}), {c['num_kv_heads']} KV heads (GQA), SwiGLU FFN {c['intermediate_size']}, "
        f"RMSNorm (eps {c['rms_norm_eps']}), RoPE (theta {c['rope_theta']:g}), max positions {c['max_positions']}, "
        "untied LM head, no biases",
        f"- parameters: {m['params']}",
        f"- causal mask style: `{c['mask_style']}` / `{c['mask_apply']}` (arange comparison, additive finfo.min)",
        "",
        "## Files",
        "",
        "| file | bytes | what |",
        "| --- | ---: | --- |",
    ]
    what = {
        "decoder_model.onnx": "prefill graph (opset 17): input_ids -> logits, present.{i}.key/value",
        "decoder_with_past_model.onnx": "decode graph (opset 17): input_ids, past_key_values.{i}.key/value -> logits, present.*",
        "model.onnx_data": "external data (weights) shared by BOTH graphs: each tensor stored once, "
                           "referenced by location/offset/length from each graph",
        "model.pt": "torch checkpoint {config, state_dict}",
        "heldout.txt": "held-out text: " + ", ".join(m["data"]["heldout_files"]) + " concatenated",
        "metrics.json": "parameters, training log, perplexities",
        "greedy.json": "3 prompts and onnxruntime's greedy continuation (64 tokens each)",
        "README.md": "this file",
    }
    for name in what:
        if name == "README.md":
            lines.append(f"| {name} | | {what[name]} |")
        elif name in sizes:
            lines.append(f"| {name} | {sizes[name]} | {what[name]} |")
    h = m["heldout"]
    lines += [
        "",
        "## Training",
        "",
        f"- data: {m['data']['train_bytes']} training bytes, {m['data']['heldout_bytes']} held-out bytes "
        f"(files {', '.join(m['data']['heldout_files'])} are held out entirely)",
    ]
    if t:
        lines += [
            f"- {t['steps']} steps x batch {t['batch']} x {t['seq_len']} bytes = {t['tokens_seen']} tokens, "
            f"{t['optimizer']}, peak lr {t['lr']}, seed {t['seed']}, {t['threads']} CPU threads",
            f"- wall time: {t['train_time_s']:.0f} s",
            f"- final train loss {t['final_train_loss']:.4f} nats/byte (mean of last 50 steps "
            f"{t['train_loss_last50_mean']:.4f})",
        ]
    lines += [
        "",
        "## Held-out perplexity (per byte)",
        "",
        "| executor | perplexity | bits/byte |",
        "| --- | ---: | ---: |",
        f"| torch | {h['torch']['perplexity_per_byte']:.4f} | {h['torch']['bits_per_byte']:.4f} |",
        f"| onnxruntime-node {m['versions']['onnxruntime_node']} | {h['onnxruntime']['perplexity_per_byte']:.4f} | "
        f"{h['onnxruntime']['bits_per_byte']:.4f} |",
        "",
        f"{h['method']}; {h['torch']['predicted_bytes']} predicted bytes. For comparison, the first 16 KiB "
        f"of the training split: perplexity {m['train_split_first_16KiB_torch']['perplexity_per_byte']:.4f}. "
        f"A uniform byte model has perplexity 256.",
        "",
        "## Greedy continuations (onnxruntime, prefill + KV-cache decode)",
        "",
    ]
    for g in greedy:
        lines.append(f"- `{g['prompt']!r}` -> `{g['generated_text']!r}`")
    lines += [
        "",
        "The C++ reference interpreter must reproduce the token ids in greedy.json exactly.",
        "",
        "Regenerate: `/usr/bin/python3 python/train_tiny_llama.py` (retrain) or "
        "`/usr/bin/python3 python/train_tiny_llama.py --no-train` (re-export and re-evaluate model.pt).",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
