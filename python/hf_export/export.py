"""torch.onnx.export in the layouts HF optimum writes (see LAYOUTS).

  "1.13"         optimum <= 1.13 (the transformers <= 4.34 era): decoder_model.onnx
                 (traced with batch 2, 16 tokens) and decoder_with_past_model.onnx
                 (past 16, ONE new token, its sequence axis static 1); no position_ids
  "1.14"         optimum 1.14-1.19 default: one model.onnx with past inputs, traced
                 with 16 new tokens after a past of 16 (the first pass feeds an
                 empty past); position_ids for the families that take them
  "1.14-legacy"  optimum 1.14-1.19 --legacy: the two files of 1.13 with the with-past
                 sequence axis dynamic (still traced with ONE token); no position_ids
  decoder_model_merged.onnx (1.13 and 1.14-legacy): both graphs under an If on the
                 bool[1] input use_cache_branch (then: with past, else: without)

Input order follows the model's forward signature as optimum's ordered_inputs
does: llama/mistral/qwen2 input_ids, attention_mask, position_ids, past...;
gpt2 input_ids, past..., attention_mask, position_ids; opt input_ids,
attention_mask, past....  Dynamic axes carry optimum's names; output axes the
exporter left symbolic beyond them are fixed as optimum's fix_dynamic_axes does.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from .config import HAS_POSITION_IDS, HFModelConfig

PREFILL_FILE = "decoder_model.onnx"
WITH_PAST_FILE = "decoder_with_past_model.onnx"
MERGED_FILE = "decoder_model_merged.onnx"
SINGLE_FILE = "model.onnx"

# optimum's DEFAULT_DUMMY_SHAPES: batch 2, sequence 16 (the past has the sequence length)
TRACE_BATCH = 2
TRACE_SEQ = 16


@dataclass(frozen=True)
class Layout:
    """How one optimum release lays out a decoder export."""
    name: str
    graphs: Tuple[Tuple[str, bool], ...]    # (file, has past inputs)
    position_ids: bool                      # a position_ids input (families that take one)
    with_past_sequence_axis: bool           # the with-past input_ids / logits sequence axis is dynamic
    past_trace_tokens: int                  # new tokens when tracing the graph with past inputs
    can_merge: bool


LAYOUTS = {
    "1.13": Layout("1.13", ((PREFILL_FILE, False), (WITH_PAST_FILE, True)), False, False, 1, True),
    "1.14": Layout("1.14", ((SINGLE_FILE, True),), True, True, TRACE_SEQ, False),
    "1.14-legacy": Layout("1.14-legacy", ((PREFILL_FILE, False), (WITH_PAST_FILE, True)), False, True, 1, True),
}


def past_names(num_layers: int) -> List[str]:
    return [f"past_key_values.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def present_names(num_layers: int) -> List[str]:
    return [f"present.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def has_position_ids(cfg: HFModelConfig, layout: Layout) -> bool:
    return layout.position_ids and HAS_POSITION_IDS[cfg.family]


def input_names(cfg: HFModelConfig, with_past: bool, layout: Layout) -> List[str]:
    past = past_names(cfg.num_layers) if with_past else []
    pos = ["position_ids"] if has_position_ids(cfg, layout) else []
    if cfg.family == "gpt2":
        return ["input_ids"] + past + ["attention_mask"] + pos
    return ["input_ids", "attention_mask"] + pos + past


def merged_input_names(cfg: HFModelConfig, layout: Layout) -> List[str]:
    names = input_names(cfg, False, layout)
    return names + [n for n in input_names(cfg, True, layout) if n not in names] + ["use_cache_branch"]


def output_names(cfg: HFModelConfig) -> List[str]:
    return ["logits"] + present_names(cfg.num_layers)


def dynamic_axes(cfg: HFModelConfig, with_past: bool, layout: Layout,
                 symbolic_batch: bool) -> Dict[str, Dict[int, str]]:
    seq = {1: "sequence_length"} if (not with_past or layout.with_past_sequence_axis) else {}
    axes: Dict[str, Dict[int, str]] = {
        "input_ids": {0: "batch_size", **seq},
        "attention_mask": {0: "batch_size", 1: "past_sequence_length + 1" if with_past else "sequence_length"},
        "logits": {0: "batch_size", **seq},
    }
    if has_position_ids(cfg, layout):
        axes["position_ids"] = {0: "batch_size", 1: "sequence_length"}
    for name in past_names(cfg.num_layers) if with_past else []:
        axes[name] = {0: "batch_size", 2: "past_sequence_length"}
    for name in present_names(cfg.num_layers):
        axes[name] = {0: "batch_size", 2: "past_sequence_length + 1"}
    if not symbolic_batch:
        axes = {k: {d: n for d, n in v.items() if d != 0} for k, v in axes.items()}
    return axes


class optimum_signature:
    """Within the block, ``model.forward`` takes the graph inputs positionally in
    ``names`` order and returns (logits, present.N.key, present.N.value, ...), as
    optimum's model patcher does; the model itself is exported, so node and weight
    names are the model's own (/model/layers.0/..., model.embed_tokens.weight)."""

    def __init__(self, model: nn.Module, names: List[str]):
        self.model = model
        self.names = names

    def __enter__(self):
        model, names = self.model, self.names
        original = model.forward

        def forward(*args):
            named = dict(zip(names, args))
            past = None
            if "past_key_values.0.key" in named:
                past = [(named[f"past_key_values.{i}.key"], named[f"past_key_values.{i}.value"])
                        for i in range(model.config.num_layers)]
            logits, presents = original(named["input_ids"], named["attention_mask"],
                                        position_ids=named.get("position_ids"), past_key_values=past)
            return (logits,) + tuple(t for kv in presents for t in kv)

        model.forward = forward
        return model

    def __exit__(self, *exc):
        del self.model.forward     # back to the class's forward
        return False


def model_feeds(cfg: HFModelConfig, layout: Layout, ids, mask, positions, past) -> Dict[str, torch.Tensor]:
    """The graph's named inputs from tensors (past: [(k, v)] or None)."""
    feeds = {"input_ids": ids, "attention_mask": mask}
    if has_position_ids(cfg, layout):
        feeds["position_ids"] = positions
    for i, (k, v) in enumerate(past or []):
        feeds[f"past_key_values.{i}.key"] = k
        feeds[f"past_key_values.{i}.value"] = v
    return feeds


def trace_inputs(cfg: HFModelConfig, layout: Layout, with_past: bool, batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    past_len = TRACE_SEQ if with_past else 0
    new_tokens = layout.past_trace_tokens if with_past else TRACE_SEQ
    ids = torch.randint(0, cfg.vocab_size, (batch, new_tokens), generator=g)
    mask = torch.ones(batch, past_len + new_tokens, dtype=torch.int64)
    positions = torch.arange(past_len, past_len + new_tokens).unsqueeze(0).expand(batch, -1).contiguous()
    past = None
    if with_past:
        shape = (batch, cfg.num_kv_heads, past_len, cfg.head_dim)
        past = [(torch.randn(shape, generator=g), torch.randn(shape, generator=g)) for _ in range(cfg.num_layers)]
    feeds = model_feeds(cfg, layout, ids, mask, positions, past)
    return tuple(feeds[n] for n in input_names(cfg, with_past, layout))


def fix_dynamic_axes(m: onnx.ModelProto, axes: Dict[str, Dict[int, str]], traced_outputs) -> None:
    """Output dimensions the exporter left symbolic but the layout does not name
    become the traced size (optimum's OnnxConfig.fix_dynamic_axes)."""
    allowed = {n for a in axes.values() for n in a.values()}
    for vi, value in zip(m.graph.output, traced_outputs):
        for d, dim in enumerate(vi.type.tensor_type.shape.dim):
            if dim.HasField("dim_param") and dim.dim_param not in allowed:
                dim.dim_value = int(value.shape[d])


def export_graph(model: nn.Module, path: Path, opset: int, layout: Layout, with_past: bool, *,
                 symbolic_batch: bool, constant_folding: bool, seed: int = 0) -> onnx.ModelProto:
    """One graph of ``layout`` (with or without past inputs)."""
    cfg = model.config
    batch = TRACE_BATCH if symbolic_batch else 1
    names = input_names(cfg, with_past, layout)
    axes = dynamic_axes(cfg, with_past, layout, symbolic_batch)
    args = trace_inputs(cfg, layout, with_past, batch, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # TracerWarnings: HF's Python branches on traced shapes
        with torch.no_grad(), optimum_signature(model.eval(), names) as patched:
            traced_outputs = patched(*args)
            torch.onnx.export(patched, args, str(path), input_names=names, output_names=output_names(cfg),
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=constant_folding)
    m = onnx.load(str(path))
    fix_dynamic_axes(m, axes, traced_outputs)
    save(m, path)
    return m


def _keep_in_subgraph(t: onnx.TensorProto) -> bool:
    # optimum keeps scalars and 1-D int32/int64 constants inside the branches
    return len(t.dims) == 0 or (len(t.dims) == 1 and t.data_type in (onnx.TensorProto.INT32, onnx.TensorProto.INT64))


def merge_decoders(decoder: onnx.ModelProto, with_past: onnx.ModelProto, graph_name: str = "merged") -> onnx.ModelProto:
    """decoder_model_merged.onnx the way optimum's merge_decoders lays it out:
    the union of both graphs' inputs (the prefill's first; attention_mask's second
    axis renamed attention_mask_sequence_length) plus use_cache_branch bool[1];
    one If node named optimum::if; every other initializer lifted to the outer
    graph, deduplicated across both graphs by content and renamed NAME_merged_K."""
    models = [onnx.ModelProto.FromString(decoder.SerializeToString()),
              onnx.ModelProto.FromString(with_past.SerializeToString())]
    if [o.name for o in models[0].graph.output] != [o.name for o in models[1].graph.output]:
        raise ValueError("the two decoders must have the same outputs")
    inputs, seen = [], set()
    for m in models:
        for vi in m.graph.input:
            if vi.name not in seen:
                seen.add(vi.name)
                inputs.append(vi)
    for vi in inputs:
        if vi.name == "attention_mask":
            dim = vi.type.tensor_type.shape.dim[1]
            if dim.dim_param != "sequence_length":
                raise ValueError("attention_mask's second axis must be named sequence_length")
            dim.dim_param = "attention_mask_sequence_length"
    # group identical lifted initializers: (type, digest, dims) -> [(name, model index)]
    groups: Dict[tuple, list] = {}
    for i, m in enumerate(models):
        for t in m.graph.initializer:
            if _keep_in_subgraph(t):
                continue
            digest = hashlib.sha512(numpy_helper.to_array(t).tobytes()).hexdigest()
            groups.setdefault((t.data_type, digest, tuple(t.dims)), []).append((t.name, i))
    rename: Dict[tuple, str] = {}
    uses: Dict[str, int] = {}
    for members in groups.values():
        common = members[-1][0]
        uses[common] = uses.get(common, -1) + 1
        for member in members:
            rename[member] = f"{common}_{graph_name}_{uses[common]}"
    outer, lifted = [], set()
    for i, m in enumerate(models):
        for node in m.graph.node:
            node.input[:] = [rename.get((x, i), x) for x in node.input]
        for t in m.graph.initializer:
            new = rename.get((t.name, i))
            if new is not None and new not in lifted:
                lifted.add(new)
                t.name = new
                outer.append(t)
    branches = []
    for m, name in ((models[0], "no_past"), (models[1], "with_past")):
        branches.append(helper.make_graph(nodes=m.graph.node, name=name, inputs=[], outputs=m.graph.output,
                                          initializer=[t for t in m.graph.initializer if _keep_in_subgraph(t)]))
    use_cache = helper.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1])
    if_node = helper.make_node("If", inputs=["use_cache_branch"], outputs=[o.name for o in branches[0].output],
                               name="optimum::if", then_branch=branches[1], else_branch=branches[0])
    graph = helper.make_graph([if_node], graph_name, inputs + [use_cache], list(branches[0].output),
                              initializer=outer)
    merged = helper.make_model(graph, producer_name="optimum-onnx", opset_imports=list(decoder.opset_import),
                               ir_version=decoder.ir_version)
    onnx.checker.check_model(merged)
    return merged


def save(m: onnx.ModelProto, path: Path) -> None:
    onnx.save(m, str(path))
    onnx.checker.check_model(str(path))


def initializer_summary(m: onnx.ModelProto) -> Dict[str, int]:
    """How the exporter stored weights: initializer count, Identity nodes reading
    an initializer (torch's deduplication of identical weights)."""
    inits = {t.name for t in m.graph.initializer}
    identities = sum(1 for n in m.graph.node if n.op_type == "Identity" and n.input and n.input[0] in inits)
    return {"initializers": len(inits), "identity_of_initializer": identities}


def op_histogram(m: onnx.ModelProto, into: Optional[Dict[str, int]] = None) -> Dict[str, int]:
    hist = {} if into is None else into
    for n in m.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                op_histogram(onnx.ModelProto(graph=a.g), hist)
    return dict(sorted(hist.items()))
