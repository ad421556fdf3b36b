"""GPT-2 as transformers 4.3x writes it (eager attention).

The spellings a user's export carries: input_ids.view(-1, S); learned positions
(position_ids input, or arange from the past length); the padding mask turned
additive in the model ((1 - mask) * finfo.min) and the causal mask per layer
from the registered bool `bias` buffer [1, 1, max_pos, max_pos] sliced
[T - S : T, :T] and applied with torch.where; Conv1D (addmm over a [B*S, D]
view, weight [in, out]) with the fused c_attn split in three; the scale as a
division by a full([]) scalar; the final view(output_shape); tied lm_head.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from flightllm_models.gpt2 import Conv1D   # HF's Conv1D: addmm over a [B*S, D] view, weight [in, out]

from .config import HFModelConfig


def activation(name: str):
    if name == "gelu_new":
        def gelu_new(x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
        return gelu_new
    if name == "gelu":
        return nn.functional.gelu
    if name == "relu":
        return nn.functional.relu
    raise ValueError(f"unknown activation {name!r}")


class Attention(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        n = cfg.max_position_embeddings
        self.register_buffer("bias", torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n),
                             persistent=False)
        self.embed_dim = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.split_size = cfg.hidden_size
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)

    def _split_heads(self, tensor):
        tensor = tensor.view(tensor.size()[:-1] + (self.num_heads, self.head_dim))
        return tensor.permute(0, 2, 1, 3)

    def _merge_heads(self, tensor):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        return tensor.view(tensor.size()[:-2] + (self.num_heads * self.head_dim,))

    def _attn(self, query, key, value, attention_mask):
        w = torch.matmul(query, key.transpose(-1, -2))
        w = w / torch.full([], value.size(-1) ** 0.5, dtype=w.dtype)
        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length: key_length, :key_length]
        mask_value = torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype)
        w = torch.where(causal_mask, w.to(w.dtype), mask_value)
        if attention_mask is not None:
            w = w + attention_mask
        w = nn.functional.softmax(w, dim=-1).type(value.dtype)
        return torch.matmul(w, value)

    def forward(self, hidden_states, layer_past, attention_mask):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query, key, value = self._split_heads(query), self._split_heads(key), self._split_heads(value)
        if layer_past is not None:
            key = torch.cat((layer_past[0], key), dim=-2)
            value = torch.cat((layer_past[1], value), dim=-2)
        present = (key, value)
        out = self._merge_heads(self._attn(query, key, value, attention_mask))
        return self.c_proj(out), present


class MLP(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.c_fc = Conv1D(cfg.intermediate_size, cfg.hidden_size)
        self.c_proj = Conv1D(cfg.hidden_size, cfg.intermediate_size)
        self.act = activation(cfg.activation)

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, hidden_states, layer_past, attention_mask):
        residual = hidden_states
        attn_output, present = self.attn(self.ln_1(hidden_states), layer_past, attention_mask)
        hidden_states = attn_output + residual
        residual = hidden_states
        return residual + self.mlp(self.ln_2(hidden_states)), present


class Model(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.wpe = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.num_layers)])
        self.ln_f = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, input_ids, past_key_values, attention_mask, position_ids):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        batch_size = input_ids.shape[0]
        past_length = 0 if past_key_values is None else past_key_values[0][0].size(-2)
        if position_ids is None:
            position_ids = torch.arange(past_length, input_shape[-1] + past_length, dtype=torch.long)
            position_ids = position_ids.unsqueeze(0).view(-1, input_shape[-1])
        if attention_mask is not None:
            attention_mask = attention_mask.view(batch_size, -1)
            attention_mask = attention_mask[:, None, None, :]
            attention_mask = attention_mask.to(dtype=torch.float32)
            attention_mask = (1.0 - attention_mask) * torch.finfo(torch.float32).min
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        output_shape = (-1,) + input_shape[1:] + (hidden_states.size(-1),)
        presents = []
        for i, block in enumerate(self.h):
            hidden_states, present = block(hidden_states, None if past_key_values is None else past_key_values[i],
                                           attention_mask)
            presents.append(present)
        hidden_states = self.ln_f(hidden_states)
        return hidden_states.view(output_shape), presents


class ForCausalLM(nn.Module):
    """forward(input_ids, attention_mask, position_ids=None, past_key_values=None)
    -> (logits, [(key, value)] * L); the lm_head is always tied to wte."""

    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.config = cfg
        self.transformer = Model(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, input_ids, attention_mask, position_ids=None, past_key_values=None):
        hidden_states, presents = self.transformer(input_ids, past_key_values, attention_mask, position_ids)
        return self.lm_head(hidden_states), presents
