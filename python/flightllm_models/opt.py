"""OPT style decoder, structured like HF transformers' modeling_opt.

Learned positional embedding looked up at ``position + 2`` (HF OPT's
OPTLearnedPositionalEmbedding offset; the table has max_positions + 2 rows),
pre-LayerNorm blocks (do_layer_norm_before=True), separate q/k/v/out
projections with bias (q is scaled by head_dim**-0.5 before the product),
attention through 3-D bmm over [B*H, S, Dh], ReLU MLP (fc1/fc2), final
LayerNorm and a tied LM head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DecoderConfig
from .masks import CausalMask, apply_causal_mask, min_value
from .common import past_length, position_ids_for


class OPTLearnedPositionalEmbedding(nn.Embedding):
    def __init__(self, num_embeddings: int, embedding_dim: int, offset: int):
        self.offset = offset
        super().__init__(num_embeddings + offset, embedding_dim)

    def forward(self, position_ids):
        return super().forward(position_ids + self.offset)


class OPTAttention(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.scaling = self.head_dim ** -0.5
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)

    def _shape(self, tensor, seq_len, bsz):
        return tensor.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden_states, attention_mask, past_key_value=None):
        bsz, tgt_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states) * self.scaling
        key_states = self._shape(self.k_proj(hidden_states), -1, bsz)
        value_states = self._shape(self.v_proj(hidden_states), -1, bsz)
        if past_key_value is not None:
            key_states = torch.cat([past_key_value[0], key_states], dim=2)
            value_states = torch.cat([past_key_value[1], value_states], dim=2)
        present = (key_states, value_states)

        proj_shape = (bsz * self.num_heads, -1, self.head_dim)
        query_states = self._shape(query_states, tgt_len, bsz).view(*proj_shape)
        key_states = key_states.view(*proj_shape)
        value_states = value_states.view(*proj_shape)
        src_len = key_states.size(1)

        attn_weights = torch.bmm(query_states, key_states.transpose(1, 2))
        attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, src_len)
        attn_weights = apply_causal_mask(attn_weights, attention_mask)
        attn_weights = torch.max(
            attn_weights, torch.tensor(min_value(attn_weights.dtype), dtype=attn_weights.dtype))
        attn_weights = attn_weights.view(bsz * self.num_heads, tgt_len, src_len)
        attn_weights = F.softmax(attn_weights, dim=-1)

        attn_output = torch.bmm(attn_weights, value_states)
        attn_output = attn_output.view(bsz, self.num_heads, tgt_len, self.head_dim)
        attn_output = attn_output.transpose(1, 2)
        attn_output = attn_output.reshape(bsz, tgt_len, self.embed_dim)
        return self.out_proj(attn_output), present


class OPTDecoderLayer(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.self_attn = OPTAttention(config)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=True)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=True)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states, attention_mask, past_key_value=None):
        residual = hidden_states
        hidden_states = self.self_attn_layer_norm(hidden_states)
        hidden_states, present = self.self_attn(hidden_states, attention_mask, past_key_value)
        hidden_states = residual + hidden_states

        residual = hidden_states
        hidden_states = self.final_layer_norm(hidden_states)
        hidden_states = self.fc2(F.relu(self.fc1(hidden_states)))
        hidden_states = residual + hidden_states
        return hidden_states, present


class OPTForCausalLM(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        assert config.family == "opt"
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_positions = OPTLearnedPositionalEmbedding(
            config.max_positions, config.hidden_size, config.opt_position_offset)
        self.layers = nn.ModuleList([OPTDecoderLayer(config) for _ in range(config.num_layers)])
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.causal = CausalMask(config)

    def forward(self, input_ids, past_key_values=None):
        past_len = past_length(past_key_values)
        seq_len = input_ids.shape[1]
        position_ids = position_ids_for(input_ids, past_len)
        hidden_states = self.embed_tokens(input_ids) + self.embed_positions(position_ids)
        attention_mask = self.causal(seq_len, past_len)
        presents = []
        for i, layer in enumerate(self.layers):
            layer_past = past_key_values[i] if past_key_values is not None else None
            hidden_states, present = layer(hidden_states, attention_mask, layer_past)
            presents.append(present)
        hidden_states = self.final_layer_norm(hidden_states)
        # Tied LM head (HF OPT: lm_head.weight is embed_tokens.weight)
        logits = F.linear(hidden_states, self.embed_tokens.weight)
        return logits, tuple(presents)
