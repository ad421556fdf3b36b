"""Tiny decoders written as onnxruntime's tools write them (issue 15).

torch 1.13 cannot export com.microsoft operators or pre-quantized weights, so
these graphs are built with the onnx package, in the layout of onnxruntime's
generative-AI model builder: inputs input_ids, attention_mask,
past_key_values.N.key/value ([B, Hkv, P, Dh]); outputs logits,
present.N.key/value. Two families:

  llama  separate q/k/v and gate/up projections
  phi3   fused qkv_proj and gate_up_proj (Split), as transformers'
         modeling_phi3.py, whole-head rotary

Attention is com.microsoft GroupQueryAttention (seqlens_k and
total_sequence_length from attention_mask, as the builder computes them), with
RotaryEmbedding on q and k (llama) or do_rotary on the packed QKV (phi3); norms
are SimplifiedLayerNormalization then SkipSimplifiedLayerNormalization.
(Unfused attention is what the torch exports of test/fixtures cover.)

Weights (`weights=`): fp32, fp16 (whole graph), qdq8 (DequantizeLinear of
int8 codes per output channel; llama asymmetric uint8 with zero points, phi3
symmetric int8), qdq8-bB (opset 21: DequantizeLinear with block_size B along
K, one scale per block of B rows and output channel), nbits4-32 / nbits4-128 (com.microsoft MatMulNBits, 4-bit
blocks of 32/128; llama with packed zero points, phi3 without). The LM head
is quantized too; embeddings and norms stay float.

Two GPT-2 families in the forms of onnxruntime's transformer optimizer
(_build_gpt2): gpt2 (Attention, onnxruntime GPT-2's packed past_N/present_N
caches) and gpt2mha (MultiHeadAttention), weights fp32 or qdq8; their
prefill-only forms gpt2-nopast and gpt2mha-nopast (no past inputs, the
presents returned, as a GPT-2 exported without a cache input), and
gpt2-nocache and gpt2mha-nocache (logits the only output: attention without
past or present, as a GPT-2 exported without any cache); and
gpt2mha-packed, MultiHeadAttention with packed QKV (query [B, S, N, 3, H],
no key and value inputs), which onnxruntime's CPU kernel does not implement:
unpack_mha_qkv() writes the same model with separate q, k, v for it.

    from hf_export.ort_builder import build
    model = build("llama", weights="nbits4-32", seed=1)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"

CONFIG = dict(vocab=96, hidden=128, heads=4, kv_heads=2, inter=256, layers=2,
              max_pos=64, eps=1e-5, theta=10000.0)


class _G:
    def __init__(self, dtype):
        self.nodes, self.inits = [], []
        self.dtype = dtype  # np.float32 / np.float16
        self.n = 0

    def name(self, what):
        self.n += 1
        return f"/{what}_{self.n}"

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def const(self, array):
        return self.init(self.name("const"), np.asarray(array))

    def f(self, value):
        return self.const(np.array(value, dtype=self.dtype))

    def i64(self, values):
        return self.const(np.array(values, dtype=np.int64))

    def op(self, op_type, inputs, outputs=1, domain="", name=None, **attrs):
        name = name or self.name(op_type)
        outs = [f"{name}/out{i}" for i in range(outputs)] if isinstance(outputs, int) else outputs
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, domain=domain,
                                           **attrs))
        return outs[0] if len(outs) == 1 else outs


def _quantize_channelwise(w, unsigned):
    """int8 codes per output channel of w [K, N]: (codes, scales, zero points)."""
    if unsigned:
        lo, hi = np.minimum(w.min(0), 0), np.maximum(w.max(0), 0)
        scale = ((hi - lo) / 255).astype(np.float32)
        zp = np.clip(np.round(-lo / scale), 0, 255).astype(np.uint8)
        codes = np.clip(np.round(w / scale) + zp, 0, 255).astype(np.uint8)
        return codes, scale, zp
    scale = (np.abs(w).max(0) / 127).astype(np.float32)
    codes = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return codes, scale, np.zeros_like(codes[0])


def _quantize_blocks(w, block, with_zp):
    """MatMulNBits 4-bit form of w [K, N]: packed B, scales, packed zero points."""
    k, n = w.shape
    blocks = k // block
    wb = w.T.reshape(n, blocks, block)
    if with_zp:
        lo, hi = np.minimum(wb.min(2), 0), np.maximum(wb.max(2), 0)
        scale = ((hi - lo) / 15).astype(np.float32)
        scale[scale == 0] = 1
        zp = np.clip(np.round(-lo / scale), 0, 15).astype(np.uint8)
    else:
        scale = (np.abs(wb).max(2) / 7).astype(np.float32)
        scale[scale == 0] = 1
        zp = np.full((n, blocks), 8, np.uint8)
    q = np.clip(np.round(wb / scale[..., None]) + zp[..., None], 0, 15).astype(np.uint8)
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    zp_cols = (blocks + 1) // 2
    zp_pad = np.zeros((n, zp_cols * 2), np.uint8)
    zp_pad[:, :blocks] = zp
    zp_packed = (zp_pad[:, 0::2] | (zp_pad[:, 1::2] << 4)).astype(np.uint8)
    return packed, scale.reshape(-1), zp_packed.reshape(-1)


def _linear(g, weights, with_zp, x, w, name):
    """x @ w (w [K, N]) with w in the form `weights` names: float (MatMul),
    qdq8 (DequantizeLinear of int8 codes per output channel; uint8 with zero
    points when `with_zp`) or nbits4-B (MatMulNBits, 4-bit blocks of B, packed
    zero points when `with_zp`)."""
    if weights in ("fp32", "fp16"):
        return g.op("MatMul", [x, g.init(name + ".weight", w.astype(g.dtype))],
                    name=name + "/MatMul")
    if weights == "qdq8":
        codes, scale, zp = _quantize_channelwise(w, unsigned=with_zp)
        inputs = [g.init(name + ".weight_q", codes), g.init(name + ".weight_scale", scale)]
        if with_zp:
            inputs.append(g.init(name + ".weight_zp", zp))
        deq = g.op("DequantizeLinear", inputs, axis=1, name=name + "/DequantizeLinear")
        return g.op("MatMul", [x, deq], name=name + "/MatMul")
    if weights.startswith("qdq8-b"):
        # Opset 21 blocked quantization: one scale per block of B along K.
        block = int(weights[len("qdq8-b"):])
        k, n = w.shape
        wb = w.reshape(k // block, block, n)
        codes, scale, zp = [], [], []
        for i in range(k // block):
            c, s_, z = _quantize_channelwise(wb[i], unsigned=with_zp)
            codes.append(c)
            scale.append(s_)
            zp.append(z)
        inputs = [g.init(name + ".weight_q", np.concatenate(codes, 0)),
                  g.init(name + ".weight_scale", np.stack(scale))]
        if with_zp:
            inputs.append(g.init(name + ".weight_zp", np.stack(zp)))
        deq = g.op("DequantizeLinear", inputs, axis=0, block_size=block,
                   name=name + "/DequantizeLinear")
        return g.op("MatMul", [x, deq], name=name + "/MatMul")
    block = int(weights.split("-")[1])
    packed, scale, zp = _quantize_blocks(w, block, with_zp)
    k, n = w.shape
    inputs = [x, g.init(name + ".weight_Q4", packed.reshape(n, k // block, block // 2)),
              g.init(name + ".scales", scale)]
    if with_zp:
        inputs.append(g.init(name + ".zero_points", zp))
    return g.op("MatMulNBits", inputs, domain=MS, name=name + "/MatMulNBits",
                K=k, N=n, bits=4, block_size=block, accuracy_level=0)


GPT2_FAMILIES = ("gpt2", "gpt2mha", "gpt2-nopast", "gpt2mha-nopast", "gpt2-nocache",
                 "gpt2mha-nocache", "gpt2mha-packed")


def build(family: str, weights: str = "fp32", seed: int = 0,
          cfg: dict | None = None) -> onnx.ModelProto:
    if family in GPT2_FAMILIES:
        return _build_gpt2(family, weights, seed, cfg)
    c = dict(CONFIG, **(cfg or {}))
    rng = np.random.default_rng(seed)
    dtype = np.float16 if weights == "fp16" else np.float32
    onnx_float = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    g = _G(dtype)
    D, H, Hkv, I, V = c["hidden"], c["heads"], c["kv_heads"], c["inter"], c["vocab"]
    Dh = D // H

    def rand(*shape, scale=0.08):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def linear(x, w, name):
        """x @ w (w [K, N]) in the chosen weight form."""
        return _linear(g, weights, family == "llama", x, w, name)

    inv = 1.0 / c["theta"] ** (np.arange(0, Dh, 2, dtype=np.float32) / Dh)
    freqs = np.outer(np.arange(c["max_pos"], dtype=np.float32), inv)
    g.init("cos_cache", np.cos(freqs).astype(dtype))
    g.init("sin_cache", np.sin(freqs).astype(dtype))

    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                            ["batch", "total"])]
    outputs = [helper.make_tensor_value_info("logits", onnx_float, ["batch", "seq", V])]
    for i in range(c["layers"]):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kind}", onnx_float, ["batch", Hkv, "past", Dh]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kind}", onnx_float, ["batch", Hkv, "total", Dh]))

    x = g.op("Gather", [g.init("model.embed_tokens.weight", rand(V, D, scale=0.5).astype(dtype)),
                        "input_ids"], name="/model/embed_tokens/Gather")
    # As the model builder computes them from the mask.
    s = g.op("ReduceSum", ["attention_mask", g.i64([1])], keepdims=0)
    seqlens_k = g.op("Cast", [g.op("Sub", [s, g.i64(1)])], to=TensorProto.INT32)
    total = g.op("Cast", [g.op("Gather", [g.op("Shape", ["attention_mask"]), g.i64(1)])],
                 to=TensorProto.INT32)
    # position_ids of RotaryEmbedding: P + s, P from the cache.
    past = g.op("Gather", [g.op("Shape", ["past_key_values.0.key"]), g.i64(2)])
    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.i64(1)])
    pos = g.op("Expand", [g.op("Unsqueeze", [g.op("Range", [past, g.op("Add", [past, seq]),
                                                         g.i64(1)]), g.i64([0])]),
                          g.op("Shape", ["input_ids"])])

    residual = h_out = None
    for i in range(c["layers"]):
        p = f"model.layers.{i}"
        g1 = g.init(p + ".input_layernorm.weight", (1 + rand(D, scale=0.1)).astype(dtype))
        g2 = g.init(p + ".post_attention_layernorm.weight", (1 + rand(D, scale=0.1)).astype(dtype))
        if residual is None:
            h = g.op("SimplifiedLayerNormalization", [x, g1], axis=-1, epsilon=c["eps"],
                     stash_type=1)
            residual = x
        else:
            h, _, _, residual = g.op("SkipSimplifiedLayerNormalization", [h_out, residual, g1],
                                     outputs=4, domain=MS, epsilon=c["eps"])
        wq, wk, wv = rand(D, H * Dh), rand(D, Hkv * Dh), rand(D, Hkv * Dh)
        pk, pv = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        presents = [p + "/attn_out", f"present.{i}.key", f"present.{i}.value"]
        if family == "phi3":
            qkv = linear(h, np.concatenate([wq, wk, wv], 1), p + ".self_attn.qkv_proj")
            attn = g.op("GroupQueryAttention",
                        [qkv, "", "", pk, pv, seqlens_k, total, "cos_cache", "sin_cache"],
                        outputs=presents, domain=MS, num_heads=H, kv_num_heads=Hkv,
                        do_rotary=1, rotary_interleaved=0, local_window_size=-1,
                        name=p + "/GroupQueryAttention")[0]
        else:
            q = linear(h, wq, p + ".self_attn.q_proj")
            k = linear(h, wk, p + ".self_attn.k_proj")
            v = linear(h, wv, p + ".self_attn.v_proj")
            q = g.op("RotaryEmbedding", [q, pos, "cos_cache", "sin_cache"], domain=MS)
            k = g.op("RotaryEmbedding", [k, pos, "cos_cache", "sin_cache"], domain=MS)
            attn = g.op("GroupQueryAttention", [q, k, v, pk, pv, seqlens_k, total],
                        outputs=presents, domain=MS, num_heads=H, kv_num_heads=Hkv,
                        name=p + "/GroupQueryAttention")[0]
        o = linear(attn, rand(H * Dh, D), p + ".self_attn.o_proj")
        h, _, _, residual = g.op("SkipSimplifiedLayerNormalization", [o, residual, g2],
                                 outputs=4, domain=MS, epsilon=c["eps"])
        wg, wu = rand(D, I), rand(D, I)
        if family == "phi3":
            gu = linear(h, np.concatenate([wg, wu], 1), p + ".mlp.gate_up_proj")
            gate, up = g.op("Split", [gu, g.i64([I, I])], outputs=2, axis=-1)
        else:
            gate = linear(h, wg, p + ".mlp.gate_proj")
            up = linear(h, wu, p + ".mlp.up_proj")
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        h_out = linear(act, rand(I, D), p + ".mlp.down_proj")
    gf = g.init("model.norm.weight", (1 + rand(D, scale=0.1)).astype(dtype))
    h = g.op("SkipSimplifiedLayerNormalization", [h_out, residual, gf], outputs=4, domain=MS,
             epsilon=c["eps"])[0]
    logits = linear(h, rand(D, V, scale=0.2), "lm_head")
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="/logits"))
    graph = helper.make_graph(g.nodes, f"{family}-{weights}", inputs, outputs,
                              g.inits)
    # Blocked DequantizeLinear is opset 21.
    opsets = [helper.make_opsetid("", 21 if "-b" in weights else 17)]
    if any(n.domain == MS for n in g.nodes):
        opsets.append(helper.make_opsetid(MS, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="ort_builder")
    model.ir_version = 8
    return model



def _build_gpt2(family: str, weights: str, seed: int, cfg: dict | None) -> onnx.ModelProto:
    """GPT-2 as onnxruntime's transformer optimizer fuses it.

    gpt2     com.microsoft Attention (packed QKV weights and bias,
             unidirectional, mask_index the int32 attention mask) with the
             packed caches of onnxruntime's GPT-2 tool: inputs past_N
             [2, B, H, P, Dh], outputs present_N, position_ids an input;
             FastGelu with its bias; SkipLayerNormalization with the
             projection's bias folded in.
    gpt2mha  com.microsoft MultiHeadAttention (separate q/k/v projections, their
             biases in its bias input, key_padding_mask, unidirectional, a
             scale of its own) with past_key_values.N.key/value caches;
             BiasGelu.
    """
    c = dict(CONFIG, **(cfg or {}))
    rng = np.random.default_rng(seed)
    dtype = np.float16 if weights == "fp16" else np.float32
    onnx_float = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    g = _G(dtype)
    D, H, V, L = c["hidden"], c["heads"], c["vocab"], c["layers"]
    I, Dh = 4 * D, D // H
    eps = c["eps"]
    packed = family.split("-")[0] == "gpt2"
    no_cache = family.endswith("-nocache")
    no_past = family.endswith("-nopast") or no_cache
    packed_qkv = family.endswith("-packed")

    def rand(*shape, scale=0.08):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def param(*shape, scale=0.08, offset=0.0):
        return (offset + rand(*shape, scale=scale)).astype(dtype)

    def linear(x, w, name):
        return _linear(g, weights, False, x, w, name)

    def bias(name, n):
        return g.init(name, param(n, scale=0.05))

    def ln_params(name):
        return (g.init(name + ".weight", param(D, scale=0.1, offset=1.0)),
                g.init(name + ".bias", param(D, scale=0.05)))

    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])]
    if packed:
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64,
                                                    ["batch", "seq"]))
    inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                                ["batch", "total"]))
    outputs = [helper.make_tensor_value_info("logits", onnx_float, ["batch", "seq", V])]
    for i in range(L if not no_cache else 0):
        if packed:
            if not no_past:
                inputs.append(helper.make_tensor_value_info(
                    f"past_{i}", onnx_float, [2, "batch", H, "past", Dh]))
            outputs.append(helper.make_tensor_value_info(
                f"present_{i}", onnx_float, [2, "batch", H, "total", Dh]))
            continue
        for kind in ("key", "value"):
            if not no_past:
                inputs.append(helper.make_tensor_value_info(
                    f"past_key_values.{i}.{kind}", onnx_float, ["batch", H, "past", Dh]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kind}", onnx_float, ["batch", H, "total", Dh]))

    if packed:
        pos = "position_ids"
    elif no_past:
        seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.i64(1)])
        pos = g.op("Unsqueeze", [g.op("Range", [g.i64(0), seq, g.i64(1)]), g.i64([0])])
    else:
        past = g.op("Gather", [g.op("Shape", ["past_key_values.0.key"]), g.i64(2)])
        seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.i64(1)])
        pos = g.op("Unsqueeze", [g.op("Range", [past, g.op("Add", [past, seq]), g.i64(1)]),
                                 g.i64([0])])
    x = g.op("Add", [g.op("Gather", [g.init("transformer.wte.weight", param(V, D, scale=0.5)),
                                     "input_ids"], name="/transformer/wte/Gather"),
                     g.op("Gather", [g.init("transformer.wpe.weight", param(c["max_pos"], D,
                                                                            scale=0.1)), pos],
                          name="/transformer/wpe/Gather")])
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)

    residual, pending_bias, mlp_out = x, None, None
    for i in range(L):
        p = f"transformer.h.{i}"
        w1, b1 = ln_params(p + ".ln_1")
        if mlp_out is None:
            h = g.op("LayerNormalization", [x, w1, b1], axis=-1, epsilon=eps)
        else:
            skip_in = [mlp_out, residual, w1, b1] + ([pending_bias] if pending_bias else [])
            h, _, _, residual = g.op("SkipLayerNormalization", skip_in, outputs=4, domain=MS,
                                     epsilon=eps, name=p + "/ln_1/SkipLayerNormalization")
        wq, wk, wv = rand(D, D), rand(D, D), rand(D, D)
        bqkv = rand(3 * D, scale=0.05)
        attn_name = p + ".attn"
        if packed:
            qkv_w = np.concatenate([wq, wk, wv], 1)
            if weights in ("fp32", "fp16"):
                w_in = g.init(attn_name + ".c_attn.weight", qkv_w.astype(dtype))
            elif weights == "qdq8":
                codes, scale, _ = _quantize_channelwise(qkv_w, unsigned=False)
                w_in = g.op("DequantizeLinear", [g.init(attn_name + ".c_attn.weight_q", codes),
                                                 g.init(attn_name + ".c_attn.weight_scale",
                                                        scale)],
                            axis=1, name=attn_name + ".c_attn/DequantizeLinear")
            else:
                raise ValueError(f"{family}: weights {weights} (Attention takes float or "
                                 "DequantizeLinear weights)")
            attn = g.op("Attention", [h, w_in, g.init(attn_name + ".c_attn.bias", bqkv.astype(dtype)), mask]
                        + ([] if no_past else [f"past_{i}"]),
                        outputs=[attn_name + "/out"] + ([] if no_cache else [f"present_{i}"]),
                        domain=MS,
                        num_heads=H, unidirectional=1, qkv_hidden_sizes=[D, D, D],
                        name=p + "/attn/Attention")
        else:
            if packed_qkv:
                # Columns (head n, q/k/v j, h): the [B, S, N, 3, H] query.
                w_packed = np.stack([w.reshape(D, H, Dh) for w in (wq, wk, wv)], 2)
                qkv = linear(h, w_packed.reshape(D, 3 * D), attn_name + ".qkv_proj")
                q = g.op("Reshape", [qkv, g.i64([0, 0, H, 3, Dh])],
                         name=attn_name + "/qkv/Reshape")
                k = v = ""
            else:
                q = linear(h, wq, attn_name + ".q_proj")
                k = linear(h, wk, attn_name + ".k_proj")
                v = linear(h, wv, attn_name + ".v_proj")
            caches = [] if no_past else [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
            attn = g.op("MultiHeadAttention",
                        [q, k, v, g.init(attn_name + ".qkv_bias", bqkv.astype(dtype)), mask, ""]
                        + caches,
                        outputs=[attn_name + "/out"]
                        + ([] if no_cache else [f"present.{i}.key", f"present.{i}.value"]),
                        domain=MS, num_heads=H, unidirectional=1, scale=0.15,
                        name=p + "/attn/MultiHeadAttention")
        attn = attn if isinstance(attn, str) else attn[0]  # the output, without presents
        o = linear(attn, rand(D, D), attn_name + ".c_proj")
        w2, b2 = ln_params(p + ".ln_2")
        # The projection's bias in SkipLayerNormalization's bias input.
        h, _, _, residual = g.op("SkipLayerNormalization",
                                 [o, residual, w2, b2, bias(attn_name + ".c_proj.bias", D)],
                                 outputs=4, domain=MS, epsilon=eps,
                                 name=p + "/ln_2/SkipLayerNormalization")
        fc = linear(h, rand(D, I), p + ".mlp.c_fc")
        gelu_op = "FastGelu" if packed else "BiasGelu"
        act = g.op(gelu_op, [fc, bias(p + ".mlp.c_fc.bias", I)], domain=MS,
                   name=p + "/mlp/" + gelu_op)
        mlp_out = linear(act, rand(I, D), p + ".mlp.c_proj")
        pending_bias = bias(p + ".mlp.c_proj.bias", D)
    wf, bf = ln_params("transformer.ln_f")
    h = g.op("SkipLayerNormalization", [mlp_out, residual, wf, bf, pending_bias], outputs=4,
             domain=MS, epsilon=eps, name="/transformer/ln_f/SkipLayerNormalization")[0]
    logits = linear(h, rand(D, V, scale=0.2), "lm_head")
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="/logits"))
    graph = helper.make_graph(g.nodes, f"{family}-{weights}", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(MS, 1)],
                              producer_name="ort_builder")
    model.ir_version = 8
    return model


def unpack_mha_qkv(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every packed-QKV MultiHeadAttention (query [B, S, N, 3,
    H], no key and value) given q, k and v [B, S, N * H] instead: query[..., j,
    :] for j = 0, 1, 2, the layout of onnxruntime's contrib operator docs.
    onnxruntime's CPU kernel runs this form only, so it is the reference for
    gpt2mha-packed."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    nodes = []
    for n in model.graph.node:
        if n.op_type != "MultiHeadAttention" or (len(n.input) > 1 and n.input[1]):
            nodes.append(n)
            continue
        parts = []
        for j in range(3):
            base = f"{n.name}/unpack{j}"
            consts = [numpy_helper.from_array(np.array(v, np.int64), f"{base}/{k}")
                      for k, v in (("starts", [j]), ("ends", [j + 1]), ("axes", [3]),
                                   ("shape", [0, 0, -1]))]
            model.graph.initializer.extend(consts)
            nodes.append(helper.make_node("Slice", [n.input[0]] + [c.name for c in consts[:3]],
                                          [base + "/slice"], name=base + "/Slice"))
            nodes.append(helper.make_node("Reshape", [base + "/slice", consts[3].name],
                                          [base + "/out"], name=base + "/Reshape"))
            parts.append(base + "/out")
        unpacked = onnx.NodeProto()
        unpacked.CopyFrom(n)
        del unpacked.input[:3]
        unpacked.input[0:0] = parts
        nodes.append(unpacked)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model
