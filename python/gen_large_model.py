#!/usr/bin/python3
"""Generate full-size (7B-class) Llama / OPT decoder ONNX models without torch.

torch.onnx.export needs the whole model in memory (LLaMA2-7B is 27 GB of fp32),
so this builds the graphs directly with onnx.helper and streams every weight,
as it is generated, into ONE external-data file shared by both graphs
(`location`/`offset`/`length`, 64-byte aligned).  At most one weight tensor
(the largest: an embedding or LM head, ~0.8 GB at 7B size) is held in memory at
a time; the ModelProtos themselves are a few hundred KB.

The graphs follow the repository's families (python/flightllm_models, the HF
optimum contract) and compute the same thing:

    decoder_model.onnx            input_ids [B, S] int64
                                  -> logits [B, S, V], present.{i}.key/.value [B, Hkv, S, Dh]
    decoder_with_past_model.onnx  input_ids, past_key_values.{i}.key/.value [B, Hkv, P, Dh]
                                  -> logits, present.{i}.key/.value [B, Hkv, P + S, Dh]
    model.onnx_data               every weight (fp32), shared by both graphs
    config.json                   the sizes, seed and byte counts

  llama: token embedding, RMSNorm (x * 1/sqrt(mean(x^2) + eps) * w), RoPE from
         cos/sin tables [max_pos, Dh] gathered at position ids (rotate_half by
         Slice/Neg/Concat), GQA (K/V repeated by Unsqueeze/Expand/Reshape after
         the cache), causal mask by Range/Greater/Not + Where, SwiGLU, untied head.
  opt:   token embedding + learned positions looked up at position + 2 (table of
         max_pos + 2 rows), pre-LayerNorm (LayerNormalization at opset 17,
         decomposed below), q/k/v/out with bias, q scaled by Dh^-0.5, additive
         causal mask (0 / float32 min) and Max clamp, ReLU MLP with biases, final
         LayerNorm, tied head stored like torch's export (a transposed copy of
         the embedding, [H, V]).

Weights are seeded N(0, std^2) (default std 0.02; norm weights 1 + N(0, std^2)),
deterministic per tensor and chunk, so the same flags give the same bytes.

    /usr/bin/python3 python/gen_large_model.py --family llama --out /tmp/flightllm-bench/llama2-7b
    /usr/bin/python3 python/gen_large_model.py --family opt --with-past --out /tmp/flightllm-bench/opt-6.7b
    /usr/bin/python3 python/gen_large_model.py --family llama --layers 2 --hidden 64 --heads 4 \\
        --kv-heads 2 --ffn 96 --vocab 100 --max-positions 64 --with-past --out /tmp/small

The defaults are LLaMA2-7B (--family llama) or OPT-6.7B (--family opt).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PREFILL_FILE = "decoder_model.onnx"
WITH_PAST_FILE = "decoder_with_past_model.onnx"
DATA_FILE = "model.onnx_data"
ALIGN = 64
CHUNK = 1 << 22          # elements generated per RNG call (16 MiB of fp32)
F32_MIN = float(np.finfo(np.float32).min)

DEFAULTS = {
    # LLaMA2-7B
    "llama": dict(layers=32, hidden=4096, heads=32, kv_heads=32, ffn=11008, vocab=32000,
                  max_positions=4096, opset=17),
    # OPT-6.7B
    "opt": dict(layers=32, hidden=4096, heads=32, kv_heads=32, ffn=16384, vocab=50272,
                max_positions=2048, opset=17),
}


# --------------------------------------------------------------------------- weights

class WeightWriter:
    """Streams initializers into one external-data file; returns small TensorProtos."""

    def __init__(self, path: Path, seed: int, std: float, workers: int = 2,
                 sizes_only: bool = False):
        self.path = path
        # Zeros left as holes of a sparse file: for tools that only read the
        # shapes (the offload planner), so a 13B- or 30B-shaped model costs no disk.
        self.sizes_only = sizes_only
        self.location = path.name
        self.f = open(path, "wb")
        self.offset = 0
        self.seed = seed
        self.std = std
        self.index = 0
        self.tensors: Dict[str, TensorProto] = {}
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.bytes_written = 0

    def _pad(self):
        pad = (-self.offset) % ALIGN
        if pad:
            self.f.write(b"\0" * pad)
            self.offset += pad

    def _record(self, name: str, shape, nbytes: int, offset: int) -> TensorProto:
        t = TensorProto()
        t.name = name
        t.data_type = TensorProto.FLOAT
        t.dims.extend(int(d) for d in shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", self.location), ("offset", str(offset)), ("length", str(nbytes))):
            e = t.external_data.add()
            e.key, e.value = k, v
        self.tensors[name] = t
        return t

    def _chunk(self, index: int, chunk: int, n: int, std: float, mean: float) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index, chunk])
        a = rng.standard_normal(n, dtype=np.float32)
        a *= np.float32(std)
        if mean:
            a += np.float32(mean)
        return a

    def random(self, name: str, shape, std: Optional[float] = None, mean: float = 0.0,
               keep: bool = False) -> Optional[np.ndarray]:
        """N(mean, std^2) of `shape`, written in chunks (generated by the thread pool,
        written in order).  With keep=True the whole array is also returned."""
        std = self.std if std is None else std
        index = self.index
        self.index += 1
        n = int(np.prod(shape))
        self._pad()
        offset = self.offset
        if self.sizes_only:
            self.f.seek(4 * n, os.SEEK_CUR)
            self.offset += 4 * n
            self._record(name, shape, 4 * n, offset)
            return np.zeros(shape, np.float32) if keep else None
        starts = list(range(0, n, CHUNK))
        futures = [self.pool.submit(self._chunk, index, c, min(CHUNK, n - s), std, mean)
                   for c, s in enumerate(starts[:4])]
        kept = np.empty(n, np.float32) if keep else None
        for c, s in enumerate(starts):
            a = futures[c].result()
            futures[c] = None
            if c + 4 < len(starts):
                s2 = starts[c + 4]
                futures.append(self.pool.submit(self._chunk, index, c + 4, min(CHUNK, n - s2), std, mean))
            self.f.write(memoryview(a))
            if keep:
                kept[s:s + a.size] = a
        self.offset += 4 * n
        self.bytes_written += 4 * n
        self._record(name, shape, 4 * n, offset)
        return kept.reshape(shape) if keep else None

    def array(self, name: str, a: np.ndarray) -> TensorProto:
        """A given fp32 array (written in row blocks, so a transposed view is fine)."""
        a = np.asarray(a, dtype=np.float32)
        self._pad()
        offset = self.offset
        rows = max(1, CHUNK // max(1, int(np.prod(a.shape[1:]))))
        if self.sizes_only and a.nbytes > (1 << 20) and not a.any():
            self.f.seek(a.nbytes, os.SEEK_CUR)
        elif a.ndim == 0:
            self.f.write(a.tobytes())
        else:
            for r in range(0, a.shape[0], rows):
                self.f.write(memoryview(np.ascontiguousarray(a[r:r + rows])))
        self.offset += a.nbytes
        self.bytes_written += a.nbytes
        self.index += 1
        return self._record(name, a.shape, a.nbytes, offset)

    def close(self):
        self.pool.shutdown()
        self.f.truncate(self.offset)
        self.f.close()


# --------------------------------------------------------------------------- graph

class Graph:
    """A small node/constant builder with unique, torch-export-like names."""

    def __init__(self, weights: Dict[str, TensorProto]):
        self.nodes: List[onnx.NodeProto] = []
        self.consts: List[TensorProto] = []
        self.weights = weights
        self.counts: Dict[str, int] = {}
        self.const_cache: Dict[tuple, str] = {}

    def _name(self, scope: str, op: str) -> str:
        key = f"{scope}/{op}"
        i = self.counts.get(key, 0)
        self.counts[key] = i + 1
        return key + ("" if i == 0 else f"_{i}")

    def op(self, scope: str, op_type: str, inputs, out: Optional[str] = None, **attrs) -> str:
        name = self._name(scope, op_type)
        out = out or f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def const(self, value, dtype=np.int64) -> str:
        """A small constant initializer (embedded in the ModelProto), shared by value."""
        a = np.asarray(value, dtype=dtype)
        key = (a.dtype.str, a.shape, a.tobytes())
        if key not in self.const_cache:
            name = f"const_{len(self.const_cache)}"
            self.consts.append(numpy_helper.from_array(a, name))
            self.const_cache[key] = name
        return self.const_cache[key]

    def initializers(self) -> List[TensorProto]:
        return list(self.weights.values()) + self.consts


def dim(name_or_value):
    return name_or_value


def io_info(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


class Builder:
    def __init__(self, args, weights: Dict[str, TensorProto], with_past: bool):
        self.a = args
        self.g = Graph(weights)
        self.with_past = with_past
        self.H = args.hidden
        self.nh = args.heads
        self.nkv = args.kv_heads
        self.dh = args.hidden // args.heads

    # -- shared pieces -----------------------------------------------------

    def lengths(self):
        """(S, P, T) as int64 scalars; P is the constant 0 in the prefill graph."""
        g = self.g
        S = g.op("", "Gather", [g.op("", "Shape", ["input_ids"]), g.const(1)], axis=0)
        if self.with_past:
            P = g.op("", "Gather", [g.op("", "Shape", ["past_key_values.0.key"]), g.const(2)], axis=0)
        else:
            P = g.const(0)
        T = g.op("", "Add", [P, S])
        return S, P, T

    def position_ids(self, S, P, T):
        g = self.g
        # torch's `arange(P, P + S).unsqueeze(0).view(-1, S)`: [1, S], but the
        # Reshape to a shape-derived [-1, S] leaves the static shape [?, ?].
        # (A static [1, S] here makes the raised rotary lookup [B, S, Dh] disagree
        # with the imported type of its users, and the attention does not raise.)
        pos = g.op("", "Unsqueeze", [g.op("", "Range", [P, T, g.const(1)]), g.const([0])])
        s1 = g.op("", "Unsqueeze", [S, g.const([0])])
        return g.op("", "Reshape", [pos, g.op("", "Concat", [g.const([-1]), s1], axis=0)])

    def causal_allowed(self, S, P, T):
        """bool [S, T]: key position <= query position (HF Llama _make_causal_mask)."""
        g = self.g
        k_pos = g.op("/causal", "Range", [g.const(0), T, g.const(1)])
        q_pos = g.op("/causal", "Add", [g.op("/causal", "Range", [g.const(0), S, g.const(1)]), P])
        k_row = g.op("/causal", "Reshape", [k_pos, g.const([1, -1])])
        q_col = g.op("/causal", "Reshape", [q_pos, g.const([-1, 1])])
        return g.op("/causal", "Not", [g.op("/causal", "Greater", [k_row, q_col])])

    def linear(self, scope, x, prefix, bias: bool):
        g = self.g
        y = g.op(scope, "MatMul", [x, f"{prefix}.weight"])
        if bias:
            y = g.op(scope, "Add", [f"{prefix}.bias", y])
        return y

    def heads(self, scope, x, n):
        """[B, S, n*Dh] -> [B, n, S, Dh]"""
        g = self.g
        r = g.op(scope, "Reshape", [x, g.const([0, 0, n, self.dh])])
        return g.op(scope, "Transpose", [r], perm=[0, 2, 1, 3])

    def merge_heads(self, scope, x):
        g = self.g
        t = g.op(scope, "Transpose", [x], perm=[0, 2, 1, 3])
        return g.op(scope, "Reshape", [t, g.const([0, 0, self.H])])

    def cache(self, scope, i, kind, x):
        """Concatenate with the past (with-past graph); the result is present.{i}.{kind}."""
        g = self.g
        out = f"present.{i}.{kind}"
        if self.with_past:
            return g.op(scope, "Concat", [f"past_key_values.{i}.{kind}", x], out=out, axis=2)
        # Prefill: the producer's output is the graph output (as torch's export names it).
        for n in reversed(g.nodes):
            if x in n.output:
                n.output[list(n.output).index(x)] = out
                return out
        raise AssertionError(f"no producer of {x}")

    def layer_norm(self, scope, x, prefix):
        g = self.g
        eps = self.a.layer_norm_eps
        if self.a.opset >= 17:
            return g.op(scope, "LayerNormalization", [x, f"{prefix}.weight", f"{prefix}.bias"],
                        axis=-1, epsilon=eps)
        mean = g.op(scope, "ReduceMean", [x], axes=[-1])
        d = g.op(scope, "Sub", [x, mean])
        var = g.op(scope, "ReduceMean", [g.op(scope, "Pow", [d, g.const(2.0, np.float32)])], axes=[-1])
        den = g.op(scope, "Sqrt", [g.op(scope, "Add", [var, g.const(eps, np.float32)])])
        y = g.op(scope, "Mul", [g.op(scope, "Div", [d, den]), f"{prefix}.weight"])
        return g.op(scope, "Add", [y, f"{prefix}.bias"])

    def rms_norm(self, scope, x, prefix):
        g = self.g
        var = g.op(scope, "ReduceMean", [g.op(scope, "Pow", [x, g.const(2.0, np.float32)])],
                   axes=[-1], keepdims=1)
        den = g.op(scope, "Sqrt", [g.op(scope, "Add", [var, g.const(self.a.rms_norm_eps, np.float32)])])
        inv = g.op(scope, "Div", [g.const(1.0, np.float32), den])
        return g.op(scope, "Mul", [f"{prefix}.weight", g.op(scope, "Mul", [x, inv])])

    def rotate_half(self, scope, x):
        g = self.g
        half = self.dh // 2
        x1 = g.op(scope, "Slice", [x, g.const([0]), g.const([half]), g.const([-1])])
        x2 = g.op(scope, "Slice", [x, g.const([half]), g.const([self.dh]), g.const([-1])])
        return g.op(scope, "Concat", [g.op(scope, "Neg", [x2]), x1], axis=-1)

    def rope(self, scope, x, cos, sin):
        g = self.g
        return g.op(scope, "Add", [g.op(scope, "Mul", [x, cos]),
                                   g.op(scope, "Mul", [self.rotate_half(scope, x), sin])])

    def repeat_kv(self, scope, x):
        n_rep = self.nh // self.nkv
        if n_rep == 1:
            return x
        g = self.g
        u = g.op(scope, "Unsqueeze", [x, g.const([2])])                    # [B, Hkv, 1, T, Dh]
        e = g.op(scope, "Expand", [u, g.const([1, 1, n_rep, 1, 1])])       # [B, Hkv, n, T, Dh]
        return g.op(scope, "Reshape", [e, g.const([0, self.nh, -1, self.dh])])

    # -- families ----------------------------------------------------------

    def llama(self):
        g, a = self.g, self.a
        S, P, T = self.lengths()
        pos = self.position_ids(S, P, T)
        h = g.op("/embed_tokens", "Gather", ["embed_tokens.weight", "input_ids"])
        allowed = self.causal_allowed(S, P, T)
        cos = g.op("/rotary_emb", "Unsqueeze",
                   [g.op("/rotary_emb", "Gather", ["rotary_emb.cos_cached", pos], axis=0), g.const([1])])
        sin = g.op("/rotary_emb", "Unsqueeze",
                   [g.op("/rotary_emb", "Gather", ["rotary_emb.sin_cached", pos], axis=0), g.const([1])])
        scale = g.const(math.sqrt(self.dh), np.float32)
        neg = g.const(F32_MIN, np.float32)
        for i in range(a.layers):
            L = f"/layers.{i}"
            p = f"layers.{i}"
            sa = f"{L}/self_attn"
            x = self.rms_norm(f"{L}/input_layernorm", h, f"{p}.input_layernorm")
            q = self.heads(sa, self.linear(f"{sa}/q_proj", x, f"{p}.self_attn.q_proj", False), self.nh)
            k = self.heads(sa, self.linear(f"{sa}/k_proj", x, f"{p}.self_attn.k_proj", False), self.nkv)
            v = self.heads(sa, self.linear(f"{sa}/v_proj", x, f"{p}.self_attn.v_proj", False), self.nkv)
            q = self.rope(sa, q, cos, sin)
            k = self.rope(sa, k, cos, sin)
            k = self.cache(sa, i, "key", k)
            v = self.cache(sa, i, "value", v)
            k = self.repeat_kv(sa, k)
            v = self.repeat_kv(sa, v)
            kt = g.op(sa, "Transpose", [k], perm=[0, 1, 3, 2])
            scores = g.op(sa, "Div", [g.op(sa, "MatMul", [q, kt]), scale])
            scores = g.op(sa, "Where", [allowed, scores, neg])
            probs = g.op(sa, "Softmax", [scores], axis=-1)
            o = self.merge_heads(sa, g.op(sa, "MatMul", [probs, v]))
            o = self.linear(f"{sa}/o_proj", o, f"{p}.self_attn.o_proj", False)
            h = g.op(L, "Add", [h, o])
            x = self.rms_norm(f"{L}/post_attention_layernorm", h, f"{p}.post_attention_layernorm")
            mlp = f"{L}/mlp"
            gate = self.linear(f"{mlp}/gate_proj", x, f"{p}.mlp.gate_proj", False)
            act = g.op(f"{mlp}/act_fn", "Mul", [gate, g.op(f"{mlp}/act_fn", "Sigmoid", [gate])])
            up = self.linear(f"{mlp}/up_proj", x, f"{p}.mlp.up_proj", False)
            d = self.linear(f"{mlp}/down_proj", g.op(mlp, "Mul", [act, up]), f"{p}.mlp.down_proj", False)
            h = g.op(L, "Add", [h, d])
        h = self.rms_norm("/norm", h, "norm")
        g.op("/lm_head", "MatMul", [h, "lm_head.weight"], out="logits")

    def opt(self):
        g, a = self.g, self.a
        S, P, T = self.lengths()
        pos = self.position_ids(S, P, T)
        tok = g.op("/embed_tokens", "Gather", ["embed_tokens.weight", "input_ids"])
        shifted = g.op("/embed_positions", "Add", [pos, g.const(a.position_offset)])
        pe = g.op("/embed_positions", "Gather", ["embed_positions.weight", shifted])
        h = g.op("", "Add", [tok, pe])
        allowed = self.causal_allowed(S, P, T)
        mask = g.op("/causal", "Where", [allowed, g.const(0.0, np.float32), g.const(F32_MIN, np.float32)])
        scaling = g.const(self.dh ** -0.5, np.float32)
        neg = g.const(F32_MIN, np.float32)
        for i in range(a.layers):
            L = f"/layers.{i}"
            p = f"layers.{i}"
            sa = f"{L}/self_attn"
            x = self.layer_norm(f"{L}/self_attn_layer_norm", h, f"{p}.self_attn_layer_norm")
            q = g.op(sa, "Mul", [self.linear(f"{sa}/q_proj", x, f"{p}.self_attn.q_proj", True), scaling])
            k = self.heads(sa, self.linear(f"{sa}/k_proj", x, f"{p}.self_attn.k_proj", True), self.nh)
            v = self.heads(sa, self.linear(f"{sa}/v_proj", x, f"{p}.self_attn.v_proj", True), self.nh)
            k = self.cache(sa, i, "key", k)
            v = self.cache(sa, i, "value", v)
            q = self.heads(sa, q, self.nh)
            kt = g.op(sa, "Transpose", [k], perm=[0, 1, 3, 2])
            scores = g.op(sa, "Add", [g.op(sa, "MatMul", [q, kt]), mask])
            scores = g.op(sa, "Max", [scores, neg])
            probs = g.op(sa, "Softmax", [scores], axis=-1)
            o = self.merge_heads(sa, g.op(sa, "MatMul", [probs, v]))
            o = self.linear(f"{sa}/out_proj", o, f"{p}.self_attn.out_proj", True)
            h = g.op(L, "Add", [h, o])
            x = self.layer_norm(f"{L}/final_layer_norm", h, f"{p}.final_layer_norm")
            f1 = g.op(L, "Relu", [self.linear(f"{L}/fc1", x, f"{p}.fc1", True)])
            h = g.op(L, "Add", [h, self.linear(f"{L}/fc2", f1, f"{p}.fc2", True)])
        h = self.layer_norm("/final_layer_norm", h, "final_layer_norm")
        g.op("/lm_head", "MatMul", [h, "lm_head.weight"], out="logits")

    def model(self) -> onnx.ModelProto:
        getattr(self, self.a.family)()
        a = self.a
        inputs = [io_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
        if self.with_past:
            for i in range(a.layers):
                for kind in ("key", "value"):
                    inputs.append(io_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT,
                                          ["batch_size", self.nkv, "past_sequence_length", self.dh]))
        outputs = [io_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", a.vocab])]
        total = "total_sequence_length" if self.with_past else "sequence_length"
        for i in range(a.layers):
            for kind in ("key", "value"):
                outputs.append(io_info(f"present.{i}.{kind}", TensorProto.FLOAT,
                                       ["batch_size", self.nkv, total, self.dh]))
        # Only the weights this graph uses (the OPT graph has no rotary tables etc.).
        used = {x for n in self.g.nodes for x in n.input}
        inits = [t for t in self.g.initializers() if t.name in used]
        graph = helper.make_graph(self.g.nodes, f"{a.family}_decoder", inputs, outputs, inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", a.opset)],
                              producer_name="flightllm-gen_large_model")
        m.ir_version = 8
        return m


# --------------------------------------------------------------------------- main

def write_weights(args, w: WeightWriter) -> None:
    H, F, V, dh = args.hidden, args.ffn, args.vocab, args.hidden // args.heads
    kv = args.kv_heads * dh
    std = args.std
    if args.family == "llama":
        w.random("embed_tokens.weight", (V, H))
        inv_freq = 1.0 / (args.rope_theta ** (np.arange(0, dh, 2, dtype=np.float32) / dh))
        freqs = np.outer(np.arange(args.max_positions, dtype=np.float32), inv_freq)
        emb = np.concatenate([freqs, freqs], axis=-1)
        w.array("rotary_emb.cos_cached", np.cos(emb))
        w.array("rotary_emb.sin_cached", np.sin(emb))
        for i in range(args.layers):
            p = f"layers.{i}"
            w.random(f"{p}.input_layernorm.weight", (H,), std, 1.0)
            w.random(f"{p}.self_attn.q_proj.weight", (H, H))
            w.random(f"{p}.self_attn.k_proj.weight", (H, kv))
            w.random(f"{p}.self_attn.v_proj.weight", (H, kv))
            w.random(f"{p}.self_attn.o_proj.weight", (H, H))
            w.random(f"{p}.post_attention_layernorm.weight", (H,), std, 1.0)
            w.random(f"{p}.mlp.gate_proj.weight", (H, F))
            w.random(f"{p}.mlp.up_proj.weight", (H, F))
            w.random(f"{p}.mlp.down_proj.weight", (F, H))
            progress(args, i)
        w.random("norm.weight", (H,), std, 1.0)
        w.random("lm_head.weight", (H, V))
    else:
        emb = w.random("embed_tokens.weight", (V, H), keep=True)
        w.random("embed_positions.weight", (args.max_positions + args.position_offset, H))
        for i in range(args.layers):
            p = f"layers.{i}"
            for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
                w.random(f"{p}.self_attn.{name}.weight", (H, H))
                w.random(f"{p}.self_attn.{name}.bias", (H,))
            w.random(f"{p}.self_attn_layer_norm.weight", (H,), std, 1.0)
            w.random(f"{p}.self_attn_layer_norm.bias", (H,))
            w.random(f"{p}.fc1.weight", (H, F))
            w.random(f"{p}.fc1.bias", (F,))
            w.random(f"{p}.fc2.weight", (F, H))
            w.random(f"{p}.fc2.bias", (H,))
            w.random(f"{p}.final_layer_norm.weight", (H,), std, 1.0)
            w.random(f"{p}.final_layer_norm.bias", (H,))
            progress(args, i)
        w.random("final_layer_norm.weight", (H,), std, 1.0)
        w.random("final_layer_norm.bias", (H,))
        # Tied head, stored as torch's export stores it: the transposed embedding.
        w.array("lm_head.weight", emb.T)
        del emb


def progress(args, i):
    if not args.quiet and (args.layers >= 8) and (i + 1) % 8 == 0:
        print(f"  layer {i + 1}/{args.layers} written", flush=True)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=("llama", "opt"), required=True)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--kv-heads", type=int, help="llama only (grouped-query attention); default --heads")
    ap.add_argument("--ffn", type=int)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--max-positions", type=int)
    ap.add_argument("--opset", type=int, choices=range(13, 18))
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02, help="weight standard deviation (0.02)")
    ap.add_argument("--with-past", action="store_true", help="also write decoder_with_past_model.onnx")
    ap.add_argument("--rms-norm-eps", type=float, default=1e-6)
    ap.add_argument("--layer-norm-eps", type=float, default=1e-5)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--position-offset", type=int, default=2, help="OPT learned-position offset (2)")
    ap.add_argument("--workers", type=int, default=2, help="RNG threads (2)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--sizes-only", action="store_true",
                    help="every weight zero, left as holes of a sparse data file (no disk used): "
                         "for tools that read only the shapes, such as --emit=offload-plan")
    args = ap.parse_args(argv)
    defaults = dict(DEFAULTS[args.family])
    if args.kv_heads is None and args.heads is not None:
        defaults["kv_heads"] = args.heads
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.hidden % args.heads:
        ap.error("--hidden must be divisible by --heads")
    if args.heads % args.kv_heads:
        ap.error("--heads must be a multiple of --kv-heads")
    if args.family == "opt" and args.kv_heads != args.heads:
        ap.error("grouped-query attention is only modelled for llama")
    if args.family == "llama" and (args.hidden // args.heads) % 2:
        ap.error("rotary embeddings need an even head dim")
    return args


def generate(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    w = WeightWriter(out / DATA_FILE, args.seed, args.std, args.workers,
                     sizes_only=args.sizes_only)
    try:
        write_weights(args, w)
    finally:
        w.close()
    t_weights = time.perf_counter() - t0
    graphs = [(PREFILL_FILE, False)] + ([(WITH_PAST_FILE, True)] if args.with_past else [])
    files = {DATA_FILE: os.path.getsize(out / DATA_FILE)}
    nodes = {}
    for name, with_past in graphs:
        m = Builder(args, w.tensors, with_past).model()
        path = out / name
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        onnx.checker.check_model(str(path))
        files[name] = os.path.getsize(path)
        nodes[name] = len(m.graph.node)
    if not args.with_past and (out / WITH_PAST_FILE).exists():
        (out / WITH_PAST_FILE).unlink()   # stale graph of an earlier run over other weights
    seconds = time.perf_counter() - t0
    dh = args.hidden // args.heads
    config = {
        "family": args.family, "num_layers": args.layers, "hidden_size": args.hidden,
        "num_heads": args.heads, "num_kv_heads": args.kv_heads, "head_dim": dh,
        "intermediate_size": args.ffn, "vocab_size": args.vocab, "max_positions": args.max_positions,
        "opset": args.opset, "seed": args.seed, "std": args.std,
        "rms_norm_eps": args.rms_norm_eps, "layer_norm_eps": args.layer_norm_eps,
        "rope_theta": args.rope_theta, "opt_position_offset": args.position_offset,
        "tie_word_embeddings": args.family == "opt",
        "weight_bytes": w.bytes_written, "parameters": w.bytes_written // 4,
        "files": files, "nodes": nodes,
        "seconds": {"weights": round(t_weights, 3), "total": round(seconds, 3)},
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return config


def main(argv=None):
    args = parse_args(argv)
    if not args.quiet:
        print(f"{args.family}: {args.layers} layers, hidden {args.hidden}, heads {args.heads}/{args.kv_heads}, "
              f"ffn {args.ffn}, vocab {args.vocab}, max positions {args.max_positions}, opset {args.opset} "
              f"-> {args.out}", flush=True)
    c = generate(args)
    if not args.quiet:
        gib = c["weight_bytes"] / (1 << 30)
        print(f"{c['parameters']:,} parameters, {gib:.2f} GiB of weights in {DATA_FILE}; "
              f"graphs: " + ", ".join(f"{k} {v} nodes / {c['files'][k]} B" for k, v in c["nodes"].items()))
        print(f"generated in {c['seconds']['total']:.1f} s (weights {c['seconds']['weights']:.1f} s)")
    return c


if __name__ == "__main__":
    main()
