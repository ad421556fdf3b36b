"""Write one export directory: the graphs, config.json, generation_config.json,
export.json (what was done and measured) and reference cases under ref/.

Every case runs through the torch model (the truth) and onnxruntime.  The
stored outputs are onnxruntime's when the two agree within ATOL; a with-past
graph traced with one new token has no causal mask in the HF code paths that
build it only for more than one token (HF left it out), so for more new tokens
onnxruntime computes a different (non-causal) model: those cases store the
torch outputs, say "reference": "torch" and record onnxruntime's difference.
Any other disagreement is an error.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import build_model, init_weights
from .config import HFModelConfig
from .export import (MERGED_FILE, PREFILL_FILE, SINGLE_FILE, TRACE_BATCH, TRACE_SEQ, WITH_PAST_FILE, export_graph,
                     has_position_ids, initializer_summary, merge_decoders, model_feeds, op_histogram, output_names, save)
from .variants import Variant

ATOL = 1e-4


@dataclass(frozen=True)
class Case:
    name: str
    graph: str            # which file
    batch: int
    new_tokens: int       # S
    past: int             # P
    left_pad: Tuple[int, ...] = ()   # per batch row: padding tokens at the left of the P + S tokens

    @property
    def merged(self) -> bool:
        return self.graph == MERGED_FILE


def cases_for(v: Variant) -> List[Case]:
    """Shapes unlike the traced ones (batch 2 / 16 tokens / past 16), past lengths
    beyond the small sliding windows, 1 and (where the layout's with-past graph
    takes them) several new tokens.  optimum 1.14's single model.onnx also serves
    the prefill, with an empty past."""
    several = v.layout.with_past_sequence_axis
    prefill, with_past = (SINGLE_FILE, SINGLE_FILE) if v.optimum == "1.14" else (PREFILL_FILE, WITH_PAST_FILE)
    out = [Case("prefill_b1_s7", prefill, 1, 7, 0),
           Case("prefill_b1_s1", prefill, 1, 1, 0),
           Case("past_b1_p6_s1", with_past, 1, 1, 6)]
    out += ([Case("past_b1_p6_s3", with_past, 1, 3, 6), Case("past_b1_p9_s4", with_past, 1, 4, 9)] if several
            else [Case("past_b1_p9_s1", with_past, 1, 1, 9)])
    if v.symbolic_batch:
        out += [Case("prefill_b2_s6_leftpad", prefill, 2, 6, 0, (2, 0)),
                Case("past_b2_p5_s2_leftpad" if several else "past_b2_p5_s1_leftpad", with_past, 2,
                     2 if several else 1, 5, (0, 3))]
    if v.merged:
        out += [Case("merged_prefill_b1_s5", MERGED_FILE, 1, 5, 0),
                Case("merged_past_b1_p4_s1", MERGED_FILE, 1, 1, 4),
                Case("merged_past_b1_p7_s3", MERGED_FILE, 1, 3, 7) if several
                else Case("merged_past_b1_p9_s1", MERGED_FILE, 1, 1, 9)]
    return out


def hf_mask_and_positions(c: Case) -> Tuple[torch.Tensor, torch.Tensor]:
    """attention_mask [B, P + S] and position_ids [B, P + S] the way HF generate()
    makes them for left padding: cumsum(mask) - 1, 1 at padded slots."""
    total = c.past + c.new_tokens
    mask = torch.ones(c.batch, total, dtype=torch.int64)
    for b, pad in enumerate(c.left_pad):
        mask[b, :pad] = 0
    positions = mask.cumsum(-1) - 1
    positions.masked_fill_(mask == 0, 1)
    return mask, positions


def valid_slices(c: Case, name: str, shape) -> np.ndarray:
    """bool mask of the entries of output ``name`` that padding does not make
    meaningless (padded query rows of the logits, padded key rows of presents)."""
    mask, _ = hf_mask_and_positions(c)
    keep = mask.numpy().astype(bool)
    if name == "logits":
        rows = keep[:, c.past:]                      # [B, S]
        return np.broadcast_to(rows[:, :, None], shape)
    return np.broadcast_to(keep[:, None, :, None], shape)   # presents [B, H, P + S, Dh]


def max_diff(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray], c: Case) -> Tuple[float, str]:
    """Largest |a - b| over the outputs (entries padding makes meaningless left
    out; NaN as soon as one appears) and the output where it is."""
    worst, where = 0.0, ""
    for k in a:
        if a[k].shape != b[k].shape:
            return float("inf"), f"{k} shape {a[k].shape} != {b[k].shape}"
        d = np.abs(a[k].astype(np.float64) - b[k].astype(np.float64))
        if c.left_pad:
            d = np.where(valid_slices(c, k, d.shape), d, 0.0)
        m = float(d.max()) if d.size else 0.0
        if np.isnan(m):
            return float("nan"), k
        if m > worst:
            worst, where = m, k
    return worst, where


def traced_without_causal_mask(cfg: HFModelConfig, v: Variant) -> bool:
    """Does the with-past graph traced with one token lack the causal mask?  True
    for the code paths that build it only when more than one token comes
    (_prepare_decoder_attention_mask, the converter without a window); GPT-2
    (mask per layer from its buffer), Llama 4.38+ (cache_position) and the
    converter with a sliding window keep it."""
    if v.layout.past_trace_tokens != 1 or cfg.family == "gpt2":
        return False
    mask, window = cfg.path["mask"], cfg.path.get("window")
    return mask == "legacy" or (mask == "converter" and window is None)


def _np(d: Dict[str, torch.Tensor]) -> Dict[str, np.ndarray]:
    return {k: t.detach().cpu().numpy() for k, t in d.items()}


def run_torch(model, cfg: HFModelConfig, v: Variant, c: Case, ids: torch.Tensor):
    """-> (feeds, outputs, full-sequence logits of the new tokens) for case ``c``."""
    mask, positions = hf_mask_and_positions(c)
    P, S = c.past, c.new_tokens
    past = None
    # without a position_ids input the model makes them from the past length (and so
    # misplaces left-padded rows, as these exports do)
    given = has_position_ids(cfg, v.layout)

    def pos(lo, hi=None):
        return positions[:, lo:hi] if given else None

    with torch.no_grad():
        if P:
            _, past = model(ids[:, :P], mask[:, :P], pos(0, P))
        logits, presents = model(ids[:, P:], mask, pos(P), past)
        full_logits, _ = model(ids, mask, pos(0))
    feeds = model_feeds(cfg, v.layout, ids[:, P:], mask, positions[:, P:], past)
    if c.graph in (MERGED_FILE, SINGLE_FILE) and past is None:
        # the first pass through a graph with past inputs feeds an empty past
        empty = torch.zeros(c.batch, cfg.num_kv_heads, 0, cfg.head_dim)
        for i in range(cfg.num_layers):
            feeds[f"past_key_values.{i}.key"] = empty
            feeds[f"past_key_values.{i}.value"] = empty
    if c.merged:
        feeds["use_cache_branch"] = torch.tensor([P > 0])
    outs = {"logits": logits}
    for i, (k, v) in enumerate(presents):
        outs[f"present.{i}.key"] = k
        outs[f"present.{i}.value"] = v
    return _np(feeds), _np(outs), full_logits[:, P:].numpy()


def array_digest(a: np.ndarray) -> str:
    """sha256 of dtype, shape and bytes: what a stored reference must still hold."""
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def write_case(cdir: Path, c: Case, feeds, outputs, meta: dict) -> None:
    for sub, arrays in (("inputs", feeds), ("outputs", outputs)):
        (cdir / sub).mkdir(parents=True, exist_ok=True)
        for name, a in arrays.items():
            np.save(cdir / sub / f"{name}.npy", np.ascontiguousarray(a))
    meta = dict(meta, sha256={sub: {name: array_digest(a) for name, a in arrays.items()}
                              for sub, arrays in (("inputs", feeds), ("outputs", outputs))})
    (cdir / "case.json").write_text(json.dumps(meta, indent=1) + "\n")


def generate(v: Variant, out_root: Path, ort_run) -> dict:
    """Export ``v`` into out_root/<name>/ with its reference cases; returns the export.json record."""
    cfg = v.model_config()
    d = out_root / v.name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    torch.manual_seed(v.seed)
    model = init_weights(build_model(cfg), v.init, v.seed)
    graphs = {}
    for name, with_past in v.layout.graphs:
        graphs[name] = export_graph(model, d / name, v.opset, v.layout, with_past, symbolic_batch=v.symbolic_batch,
                                    constant_folding=v.constant_folding, seed=v.seed)
    if v.merged:
        graphs[MERGED_FILE] = merge_decoders(graphs[PREFILL_FILE], graphs[WITH_PAST_FILE])
        save(graphs[MERGED_FILE], d / MERGED_FILE)
    (d / "config.json").write_text(json.dumps(cfg.hf_config_json(), indent=2) + "\n")
    (d / "generation_config.json").write_text(json.dumps(cfg.generation_config_json(), indent=2) + "\n")

    rng = np.random.default_rng(v.seed)
    no_causal = traced_without_causal_mask(cfg, v)
    case_records = []
    for c in cases_for(v):
        ids = torch.from_numpy(rng.integers(0, cfg.vocab_size, (c.batch, c.past + c.new_tokens)))
        feeds, want, full_logits = run_torch(model, cfg, v, c, ids)
        got = ort_run(d / c.graph, feeds)
        if sorted(got) != sorted(output_names(cfg)):
            raise RuntimeError(f"{v.name}/{c.name}: onnxruntime outputs {sorted(got)}")
        diff, where = max_diff(got, want, c)
        rec = {"name": c.name, "model": c.graph, "batch": c.batch, "sequence_length": c.new_tokens,
               "past_sequence_length": c.past, "left_padding": list(c.left_pad),
               "prefix_input_ids": ids[:, :c.past].tolist(), "input_ids": ids[:, c.past:].tolist(),
               "onnxruntime_vs_torch": diff}
        cache_vs_full = float(np.abs(want["logits"] - full_logits).max())
        rec["torch_cache_vs_full_sequence"] = cache_vs_full
        with_past_graph = c.graph == WITH_PAST_FILE or (c.merged and c.past > 0)   # traced with one token
        if diff <= ATOL:
            rec["reference"], stored = "onnxruntime", got
        elif no_causal and with_past_graph and c.new_tokens > 1:
            rec["reference"], stored = "torch", want
            rec["note"] = ("the with-past graph was traced with one new token, so HF left the causal mask out; "
                           "onnxruntime computes non-causal attention over the new tokens, torch is the truth")
        else:
            raise RuntimeError(f"{v.name}/{c.name}: onnxruntime and torch differ by {diff:.3g} at {where}")
        # a KV-cache step must equal the full sequence
        if not c.left_pad and cache_vs_full > ATOL:
            raise RuntimeError(f"{v.name}/{c.name}: torch KV-cache logits differ from the full sequence "
                               f"by {cache_vs_full:.3g}")
        write_case(d / "ref" / c.name, c, feeds, stored, rec)
        case_records.append(rec)

    batch = TRACE_BATCH if v.symbolic_batch else 1
    trace = {name: {"batch": batch, "sequence_length": v.layout.past_trace_tokens if with_past else TRACE_SEQ,
                    "past_sequence_length": TRACE_SEQ if with_past else 0} for name, with_past in v.layout.graphs}
    record = {"variant": v.to_dict(), "config": cfg.to_dict(), "atol": ATOL,
              "trace": dict(trace, with_past_lacks_causal_mask=no_causal),
              "graphs": {name: {"bytes": (d / name).stat().st_size, "ops": op_histogram(m),
                                **initializer_summary(m)} for name, m in graphs.items()},
              "cases": case_records}
    (d / "export.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def export_dirs(root: Path) -> List[Path]:
    return sorted(p.parent for p in root.glob("*/export.json"))


def load_records(root: Path, only: Optional[Sequence[str]] = None) -> List[Tuple[Path, dict]]:
    out = []
    for d in export_dirs(root):
        if only and not any(p in d.name for p in only):
            continue
        out.append((d, json.loads((d / "export.json").read_text())))
    return out
