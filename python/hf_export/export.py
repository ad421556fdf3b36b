"""torch.onnx.export in HF optimum's conventions (the "legacy" three-file layout).

  decoder_model.onnx             no past; traced with batch 2, 16 tokens
  decoder_with_past_model.onnx   past_key_values.N.key/value; traced with ONE new token
                                 (as optimum does) or several, past length 16
  decoder_model_merged.onnx      both in one graph: an If on the bool[1] input
                                 use_cache_branch (then: with past, else: without)

Input order follows the model's forward signature as optimum's ordered_inputs
does: llama/mistral/qwen2 input_ids, attention_mask, position_ids, past...;
gpt2 input_ids, past..., attention_mask, position_ids; opt input_ids,
attention_mask, past....  Dynamic axes carry optimum's names.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Dict, List, Optional

import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from .config import HAS_POSITION_IDS, HFModelConfig

PREFILL_FILE = "decoder_model.onnx"
WITH_PAST_FILE = "decoder_with_past_model.onnx"
MERGED_FILE = "decoder_model_merged.onnx"

# optimum's DEFAULT_DUMMY_SHAPES: batch 2, sequence 16 (the past has the sequence length)
TRACE_BATCH = 2
TRACE_SEQ = 16


def past_names(num_layers: int) -> List[str]:
    return [f"past_key_values.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def present_names(num_layers: int) -> List[str]:
    return [f"present.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def input_names(cfg: HFModelConfig, with_past: bool) -> List[str]:
    past = past_names(cfg.num_layers) if with_past else []
    pos = ["position_ids"] if HAS_POSITION_IDS[cfg.family] else []
    if cfg.family == "gpt2":
        return ["input_ids"] + past + ["attention_mask"] + pos
    return ["input_ids", "attention_mask"] + pos + past


def output_names(cfg: HFModelConfig) -> List[str]:
    return ["logits"] + present_names(cfg.num_layers)


def dynamic_axes(cfg: HFModelConfig, with_past: bool, symbolic_batch: bool) -> Dict[str, Dict[int, str]]:
    axes: Dict[str, Dict[int, str]] = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size",
                           1: "past_sequence_length + sequence_length" if with_past else "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    if HAS_POSITION_IDS[cfg.family]:
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
    input_names() order and returns (logits, present.N.key, present.N.value, ...),
    as optimum's model patcher does; the model itself is exported, so node and
    weight names are the model's own (/model/layers.0/..., model.embed_tokens.weight)."""

    def __init__(self, model: nn.Module, with_past: bool):
        self.model = model
        self.names = input_names(model.config, with_past)

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


def model_feeds(cfg: HFModelConfig, ids, mask, positions, past) -> Dict[str, torch.Tensor]:
    """The graph's named inputs from tensors (past: [(k, v)] or None)."""
    feeds = {"input_ids": ids, "attention_mask": mask}
    if HAS_POSITION_IDS[cfg.family]:
        feeds["position_ids"] = positions
    for i, (k, v) in enumerate(past or []):
        feeds[f"past_key_values.{i}.key"] = k
        feeds[f"past_key_values.{i}.value"] = v
    return feeds


def trace_inputs(cfg: HFModelConfig, with_past: bool, new_tokens: int, batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    past_len = TRACE_SEQ if with_past else 0
    ids = torch.randint(0, cfg.vocab_size, (batch, new_tokens), generator=g)
    mask = torch.ones(batch, past_len + new_tokens, dtype=torch.int64)
    positions = torch.arange(past_len, past_len + new_tokens).unsqueeze(0).expand(batch, -1).contiguous()
    past = None
    if with_past:
        shape = (batch, cfg.num_kv_heads, past_len, cfg.head_dim)
        past = [(torch.randn(shape, generator=g), torch.randn(shape, generator=g)) for _ in range(cfg.num_layers)]
    feeds = model_feeds(cfg, ids, mask, positions, past)
    return tuple(feeds[n] for n in input_names(cfg, with_past))


def export_graph(model: nn.Module, path: Path, opset: int, with_past: bool, *, new_tokens: int,
                 symbolic_batch: bool, constant_folding: bool, seed: int = 0) -> onnx.ModelProto:
    """One graph; ``new_tokens`` is the traced sequence length (16 for the prefill,
    1 for optimum's with-past, or several)."""
    cfg = model.config
    batch = TRACE_BATCH if symbolic_batch else 1
    args = trace_inputs(cfg, with_past, new_tokens, batch, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # TracerWarnings: HF's Python branches on traced shapes
        with torch.no_grad(), optimum_signature(model.eval(), with_past) as patched:
            torch.onnx.export(patched, args, str(path),
                              input_names=input_names(cfg, with_past), output_names=output_names(cfg),
                              dynamic_axes=dynamic_axes(cfg, with_past, symbolic_batch),
                              opset_version=opset, do_constant_folding=constant_folding)
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
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
