"""Llama, Mistral and Qwen2 as transformers 4.31-4.40 write them (eager attention).

The code path (config.CODE_PATHS) picks the rotary spelling (tables 4-D with
squeezes, 2-D, or computed from inv_freq @ position_ids), the mask
(masks.py) and whether position_ids are viewed to [-1, S].  Qwen2 adds q/k/v
biases; Mistral and Qwen2 put a sliding window into the mask.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from flightllm_models.llama import LlamaMLP, repeat_kv, rotate_half

from . import masks
from .config import HFModelConfig


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


def inverse_frequencies(dim: int, base: float, int64_arange: bool) -> torch.Tensor:
    steps = torch.arange(0, dim, 2, dtype=torch.int64).float() if int64_arange else torch.arange(0, dim, 2).float()
    return 1.0 / (base ** (steps / dim))


class CachedRotary(nn.Module):
    """cos/sin tables precomputed up to max_position_embeddings, sliced to kv_len."""

    def __init__(self, dim, max_pos, base, four_d: bool):
        super().__init__()
        self.four_d = four_d
        self.register_buffer("inv_freq", inverse_frequencies(dim, base, False), persistent=False)
        self.max_seq_len_cached = max_pos
        t = torch.arange(max_pos, dtype=self.inv_freq.dtype)
        freqs = torch.einsum("i,j->ij", t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        if four_d:
            cos, sin = cos[None, None, :, :], sin[None, None, :, :]
        self.register_buffer("cos_cached", cos, persistent=False)
        self.register_buffer("sin_cached", sin, persistent=False)

    def forward(self, x, seq_len):
        if self.four_d:
            return (self.cos_cached[:, :, :seq_len, ...].to(dtype=x.dtype),
                    self.sin_cached[:, :, :seq_len, ...].to(dtype=x.dtype))
        return self.cos_cached[:seq_len].to(dtype=x.dtype), self.sin_cached[:seq_len].to(dtype=x.dtype)

    def apply(self, q, k, cos, sin, position_ids):
        if self.four_d:
            cos = cos.squeeze(1).squeeze(0)
            sin = sin.squeeze(1).squeeze(0)
        cos = cos[position_ids].unsqueeze(1)
        sin = sin[position_ids].unsqueeze(1)
        return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


class ComputedRotary(nn.Module):
    """4.38+: angles = inv_freq @ position_ids computed in the graph."""

    def __init__(self, dim, base):
        super().__init__()
        self.register_buffer("inv_freq", inverse_frequencies(dim, base, True), persistent=False)

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype=x.dtype), emb.sin().to(dtype=x.dtype)

    @staticmethod
    def apply(q, k, cos, sin):
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def computed_rotary(cfg: HFModelConfig) -> bool:
    return cfg.path["rotary"] == "computed"


def uses_cache_position(cfg: HFModelConfig) -> bool:
    """Llama 4.38-4.40: cache_position = arange(P, P + S) builds the mask."""
    return cfg.path["mask"] in ("buffer-scatter", "full-scatter")


class Attention(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.cfg = cfg
        self.num_heads, self.num_kv = cfg.num_heads, cfg.num_kv_heads
        self.head_dim = cfg.head_dim
        bias = cfg.family == "qwen2"
        self.q_proj = nn.Linear(cfg.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(cfg.hidden_size, self.num_kv * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(cfg.hidden_size, self.num_kv * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, cfg.hidden_size, bias=False)
        if computed_rotary(cfg):      # 4.38-4.40: every layer computes its own cos/sin
            self.rotary_emb = ComputedRotary(self.head_dim, cfg.rope_theta)
        else:
            self.rotary_emb = CachedRotary(self.head_dim, cfg.max_position_embeddings, cfg.rope_theta,
                                           four_d=cfg.path["rotary"] == "table4d")

    def forward(self, hidden_states, attention_mask, position_ids, past, cache_position):
        bsz, q_len, _ = hidden_states.size()
        q = self.q_proj(hidden_states).view(bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(hidden_states).view(bsz, q_len, self.num_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(hidden_states).view(bsz, q_len, self.num_kv, self.head_dim).transpose(1, 2)
        if isinstance(self.rotary_emb, ComputedRotary):
            cos, sin = self.rotary_emb(v, position_ids)
            q, k = ComputedRotary.apply(q, k, cos, sin)
        else:
            kv_seq_len = k.shape[-2]
            if past is not None:
                kv_seq_len += past[0].shape[-2]
            cos, sin = self.rotary_emb(v, seq_len=kv_seq_len)
            q, k = self.rotary_emb.apply(q, k, cos, sin, position_ids)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        k = repeat_kv(k, self.num_heads // self.num_kv)
        v = repeat_kv(v, self.num_heads // self.num_kv)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        if attention_mask is not None:
            mask_kind = self.cfg.path["mask"]
            if mask_kind == "buffer-scatter":
                causal = attention_mask[:, :, cache_position, : k.shape[-2]]
            elif mask_kind == "full-scatter":
                causal = attention_mask[:, :, :, : k.shape[-2]]
            else:
                causal = attention_mask
            scores = scores + causal
        probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v)
        out = out.transpose(1, 2).contiguous().reshape(bsz, q_len, self.num_heads * self.head_dim)
        return self.o_proj(out), present


class MLP(LlamaMLP):
    """SwiGLU; HF holds the activation as a module (ACT2FN), so the exported
    nodes are named .../mlp/act_fn/Sigmoid as in real exports."""

    def __init__(self, cfg: HFModelConfig):
        super().__init__(cfg)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, hidden_states, attention_mask, position_ids, past, cache_position):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, present = self.self_attn(hidden_states, attention_mask, position_ids, past,
                                                cache_position)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states, present


class Model(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if cfg.path["mask"] == "buffer-scatter":
            full = torch.full((cfg.max_position_embeddings, cfg.max_position_embeddings), fill_value=True,
                              dtype=torch.bool)
            self.register_buffer("causal_mask", torch.triu(full, diagonal=1), persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, past_key_values):
        cfg = self.cfg
        batch_size, seq_length = input_ids.shape
        past_len = past_key_values[0][0].shape[2] if past_key_values is not None else 0
        inputs_embeds = self.embed_tokens(input_ids)
        cache_position = None
        if uses_cache_position(cfg):
            cache_position = torch.arange(past_len, past_len + inputs_embeds.shape[1])
            if position_ids is None:
                position_ids = cache_position.unsqueeze(0)
            if cfg.path["mask"] == "buffer-scatter":
                mask = masks.llama_438_mask(self.causal_mask, attention_mask, batch_size, inputs_embeds.dtype)
            else:
                mask = masks.llama_439_mask(attention_mask, seq_length, cache_position, batch_size,
                                            inputs_embeds.dtype)
        else:
            if position_ids is None:
                position_ids = torch.arange(past_len, seq_length + past_len, dtype=torch.long).unsqueeze(0)
            if cfg.path.get("view_position_ids"):
                position_ids = position_ids.view(-1, seq_length).long()
            window = cfg.sliding_window if "window" in cfg.path else None
            mask = masks.decoder_mask(cfg.path, attention_mask, (batch_size, seq_length), inputs_embeds.dtype,
                                      past_len, window)
        hidden_states = inputs_embeds
        presents = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            hidden_states, present = layer(hidden_states, mask, position_ids, past, cache_position)
            presents.append(present)
        return self.norm(hidden_states), presents


class ForCausalLM(nn.Module):
    """forward(input_ids, attention_mask, position_ids=None, past_key_values=None)
    -> (logits [B, S, V], [(key, value)] * L)."""

    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.config = cfg
        self.model = Model(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids, attention_mask, position_ids=None, past_key_values=None):
        hidden_states, presents = self.model(input_ids, attention_mask, position_ids, past_key_values)
        logits = self.lm_head(hidden_states)
        return logits.float(), presents
