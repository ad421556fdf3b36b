"""ONNX export in the HF optimum convention (decoder_model / decoder_with_past_model)."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

PREFILL_FILE = "decoder_model.onnx"
WITH_PAST_FILE = "decoder_with_past_model.onnx"


def past_names(num_layers: int) -> List[str]:
    return [f"past_key_values.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def present_names(num_layers: int) -> List[str]:
    return [f"present.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]


def input_names(num_layers: int, with_past: bool) -> List[str]:
    return ["input_ids"] + (past_names(num_layers) if with_past else [])


def output_names(num_layers: int) -> List[str]:
    return ["logits"] + present_names(num_layers)


class PrefillWrapper(nn.Module):
    """input_ids -> logits, present.{i}.key, present.{i}.value"""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        logits, presents = self.model(input_ids)
        return (logits,) + tuple(t for kv in presents for t in kv)


class WithPastWrapper(nn.Module):
    """input_ids, past_key_values.{i}.key/value -> logits, present.{i}.key/value"""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, *flat_past):
        past = tuple((flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2))
        logits, presents = self.model(input_ids, past)
        return (logits,) + tuple(t for kv in presents for t in kv)


def flatten_past(presents) -> Dict[str, np.ndarray]:
    """Model presents -> {past_key_values.{i}.key: array, ...} feeds for the with-past graph."""
    out = {}
    for i, (k, v) in enumerate(presents):
        out[f"past_key_values.{i}.key"] = k.detach().cpu().numpy()
        out[f"past_key_values.{i}.value"] = v.detach().cpu().numpy()
    return out


def model_outputs_to_dict(logits, presents) -> Dict[str, np.ndarray]:
    out = {"logits": logits.detach().cpu().numpy()}
    for i, (k, v) in enumerate(presents):
        out[f"present.{i}.key"] = k.detach().cpu().numpy()
        out[f"present.{i}.value"] = v.detach().cpu().numpy()
    return out


def export_decoder(model: nn.Module, path, opset: int, with_past: bool,
                   batch: int = 2, seq_len: int = 5, past_len: int = 4) -> onnx.ModelProto:
    """Export one of the two graphs with dynamic batch / sequence / past axes.

    Traces with input_ids [batch, seq_len] (prefill) or [batch, seq_len] plus a
    past of length past_len (with-past).  Returns the loaded ONNX model.
    """
    cfg = model.config
    L = cfg.num_layers
    model = model.eval()
    gen = torch.Generator().manual_seed(1234)
    ids = torch.randint(0, cfg.vocab_size, (batch, seq_len), generator=gen)
    dynamic_axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
                    "logits": {0: "batch_size", 1: "sequence_length"}}
    for name in present_names(L):
        dynamic_axes[name] = {0: "batch_size", 2: "total_sequence_length"}
    if with_past:
        wrapper = WithPastWrapper(model)
        past_shape = (batch, cfg.num_kv_heads, past_len, cfg.head_dim)
        past = [torch.randn(past_shape, generator=gen) for _ in range(2 * L)]
        args = (ids, *past)
        for name in past_names(L):
            dynamic_axes[name] = {0: "batch_size", 2: "past_sequence_length"}
    else:
        wrapper = PrefillWrapper(model)
        args = (ids,)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shape-derived ints
        with torch.no_grad():
            torch.onnx.export(
                wrapper, args, str(path),
                input_names=input_names(L, with_past), output_names=output_names(L),
                dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True)
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    _check_dynamic(m, path)
    return m


def _check_dynamic(m: onnx.ModelProto, path) -> None:
    for vi in list(m.graph.input) + list(m.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if not dims or not dims[0].dim_param:
            raise RuntimeError(f"{path}: {vi.name} has a static batch dimension")


def save_with_external_data(model_path, data_name: str, size_threshold: int = 1024) -> None:
    """Re-save ``model_path`` with its large initializers in ``data_name`` beside it
    (onnx.save(..., save_as_external_data=True))."""
    model_path = Path(model_path)
    m = onnx.load(str(model_path))
    data_path = model_path.parent / data_name
    if data_path.exists():
        data_path.unlink()
    onnx.save(m, str(model_path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=data_name, size_threshold=size_threshold, convert_attribute=False)
    onnx.checker.check_model(str(model_path))


def save_sharing_external_data(model_paths: Sequence, data_name: str,
                               size_threshold: int = 1024, align: int = 64) -> Dict[str, int]:
    """Move the large initializers of several models (in one folder) into ONE file.

    Tensors with identical dtype/shape/bytes are stored once and referenced from
    every model through the standard external-data fields (location, offset,
    length).  Returns byte counts {"unique": ..., "referenced": ...}.
    """
    model_paths = [Path(p) for p in model_paths]
    folder = model_paths[0].parent
    assert all(p.parent == folder for p in model_paths)
    blob = bytearray()
    where: Dict[bytes, tuple] = {}
    referenced = 0
    models = []
    for p in model_paths:
        m = onnx.load(str(p))
        for t in m.graph.initializer:
            arr = numpy_helper.to_array(t)
            raw = np.ascontiguousarray(arr).tobytes()
            if len(raw) < size_threshold:
                continue
            key = hashlib.sha256(f"{t.data_type}:{arr.shape}:".encode() + raw).digest()
            if key not in where:
                pad = (-len(blob)) % align
                blob.extend(b"\0" * pad)
                where[key] = (len(blob), len(raw))
                blob.extend(raw)
            offset, length = where[key]
            referenced += length
            t.ClearField("raw_data")
            for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
                t.ClearField(field)
            t.data_location = onnx.TensorProto.EXTERNAL
            del t.external_data[:]
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(length))):
                e = t.external_data.add()
                e.key, e.value = k, v
        models.append((p, m))
    (folder / data_name).write_bytes(bytes(blob))
    for p, m in models:
        with open(p, "wb") as f:
            f.write(m.SerializeToString())
        onnx.checker.check_model(str(p))
        # The tensors must load back bit-identically.
        onnx.load(str(p))
    return {"unique": len(blob), "referenced": referenced}


def op_histogram(m: onnx.ModelProto) -> Dict[str, int]:
    hist: Dict[str, int] = {}
    for n in m.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    return dict(sorted(hist.items()))


def file_size(path) -> int:
    return os.path.getsize(path)


def compact_names(m: onnx.ModelProto, strip_node_names: bool = True) -> onnx.ModelProto:
    """Shorten torch's tensor names in place ("/model/h.0/attn/Softmax_output_0" ->
    "/h.0/attn/Softmax", "model.h.0.ln_1.weight" -> "h.0.ln_1.weight") and
    optionally drop node names (optional in ONNX).  Graph inputs/outputs keep
    their names.  Only used to keep the committed fixtures small."""
    g = m.graph
    keep = {v.name for v in list(g.input) + list(g.output)}
    names = set()
    for n in g.node:
        names.update(n.input)
        names.update(n.output)
    names.update(t.name for t in g.initializer)
    names.discard("")
    mapping, used = {}, set(keep)
    for name in sorted(names - keep):
        new = name
        if new.startswith("/model/"):
            new = new[len("/model"):]
        elif new.startswith("model."):
            new = new[len("model."):]
        if new.endswith("_output_0"):
            new = new[: -len("_output_0")]
        if new in used or new in names - {name} and new != name:
            new = name
        used.add(new)
        mapping[name] = new
    for n in g.node:
        n.input[:] = [mapping.get(x, x) for x in n.input]
        n.output[:] = [mapping.get(x, x) for x in n.output]
        if strip_node_names:
            n.name = ""
    for t in g.initializer:
        t.name = mapping.get(t.name, t.name)
    for v in g.value_info:
        v.name = mapping.get(v.name, v.name)
    onnx.checker.check_model(m)
    return m


def export_random_prefill(config, path: Path, seed: int, opset: int = 17) -> Path:
    """The prefill graph of a model of `config` with random weights (seed),
    written to `path` unless it exists (atomically: a temporary file renamed).
    Test and bench models whose values do not matter, only their shapes."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    from . import build_model, init_random_weights

    torch.manual_seed(seed)
    model = init_random_weights(build_model(config), seed).eval()
    tmp = path.with_suffix(".tmp.onnx")
    export_decoder(model, tmp, opset, False)
    tmp.rename(path)
    return path
