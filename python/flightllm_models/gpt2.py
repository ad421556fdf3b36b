"""GPT-2 style decoder, structured like HF transformers' modeling_gpt2.

Learned positional embedding (wpe), pre-LayerNorm blocks, fused QKV projection
as a GPT-2 ``Conv1D`` (weight [in, out], y = x @ W + b through addmm), GELU MLP
(exact erf or the "gelu_new" tanh approximation) and a tied LM head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import DecoderConfig
from .masks import CausalMask, apply_causal_mask
from .common import past_length, position_ids_for


class Conv1D(nn.Module):
    """HF GPT-2 Conv1D: a linear layer with a transposed weight [nx, nf]."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def gelu_new(x):
    # HF NewGELUActivation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        # GPT-2 keeps its causal mask per attention layer.
        self.causal = CausalMask(config)

    def _split_heads(self, t):
        new_shape = t.size()[:-1] + (self.num_heads, self.head_dim)
        return t.view(new_shape).permute(0, 2, 1, 3)  # [B, H, S, Dh]

    def _merge_heads(self, t):
        t = t.permute(0, 2, 1, 3).contiguous()
        new_shape = t.size()[:-2] + (self.num_heads * self.head_dim,)
        return t.view(new_shape)

    def forward(self, hidden_states, layer_past=None):
        query, key, value = self.c_attn(hidden_states).split(self.embed_dim, dim=2)
        query = self._split_heads(query)
        key = self._split_heads(key)
        value = self._split_heads(value)
        if layer_past is not None:
            past_key, past_value = layer_past
            key = torch.cat((past_key, key), dim=-2)
            value = torch.cat((past_value, value), dim=-2)
        present = (key, value)

        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full(
            [], value.size(-1) ** 0.5, dtype=attn_weights.dtype)
        query_length, key_length = query.size(-2), key.size(-2)
        mask = self.causal(query_length, key_length - query_length, attn_weights.dtype)
        attn_weights = apply_causal_mask(attn_weights, mask)
        attn_weights = F.softmax(attn_weights, dim=-1)
        attn_output = torch.matmul(attn_weights, value)
        attn_output = self._merge_heads(attn_output)
        return self.c_proj(attn_output), present


class GPT2MLP(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.c_fc = Conv1D(config.intermediate_size, config.hidden_size)
        self.c_proj = Conv1D(config.hidden_size, config.intermediate_size)
        if config.activation == "gelu":
            self.act = F.gelu
        elif config.activation == "gelu_new":
            self.act = gelu_new
        else:
            raise ValueError(f"gpt2 activation must be gelu or gelu_new, not {config.activation}")

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attn = GPT2Attention(config)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GPT2MLP(config)

    def forward(self, hidden_states, layer_past=None):
        residual = hidden_states
        attn_output, present = self.attn(self.ln_1(hidden_states), layer_past)
        hidden_states = attn_output + residual
        residual = hidden_states
        hidden_states = residual + self.mlp(self.ln_2(hidden_states))
        return hidden_states, present


class GPT2LMHeadModel(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        assert config.family == "gpt2"
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.wpe = nn.Embedding(config.max_positions, config.hidden_size)
        self.h = nn.ModuleList([GPT2Block(config) for _ in range(config.num_layers)])
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids, past_key_values=None):
        past_len = past_length(past_key_values)
        position_ids = position_ids_for(input_ids, past_len)
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for i, block in enumerate(self.h):
            layer_past = past_key_values[i] if past_key_values is not None else None
            hidden_states, present = block(hidden_states, layer_past)
            presents.append(present)
        hidden_states = self.ln_f(hidden_states)
        # Tied LM head: logits = h @ wte^T
        logits = torch.matmul(hidden_states, self.wte.weight.t())
        return logits, tuple(presents)
