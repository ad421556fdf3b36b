"""OPT as transformers 4.31-4.40 writes it (eager attention; the mask is the
legacy one up to 4.34, AttentionMaskConverter's from 4.35).

The spellings: input_ids.view(-1, S); learned positions from the attention
mask's cumsum (positions = cumsum(mask) * mask - 1, cut to the new tokens,
looked up at +2 in a table of max_pos + 2 rows); q scaled before the
projections are split; 3-D bmm over [B*H, S, Dh] with the additive mask added
on a 4-D view and clamped with max(finfo.min); the MLP on the residual stream
flattened to [B*S, D] and viewed back; pre-LN (opt-125m, do_layer_norm_before)
or post-LN (opt-350m, with project_in / project_out around the decoder when
word_embed_proj_dim != hidden_size, and no final LayerNorm); tied lm_head.
"""

from __future__ import annotations

import torch
from torch import nn

from . import masks
from .config import HFModelConfig
from .gpt2 import activation


class LearnedPositions(nn.Embedding):
    OFFSET = 2

    def __init__(self, num: int, dim: int):
        super().__init__(num + self.OFFSET, dim)

    def forward(self, attention_mask, past_key_values_length):
        attention_mask = attention_mask.long()
        positions = (torch.cumsum(attention_mask, dim=1).type_as(attention_mask) * attention_mask).long() - 1
        positions = positions[:, past_key_values_length:]
        return super().forward(positions + self.OFFSET)


class Attention(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.embed_dim = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.scaling = self.head_dim ** -0.5
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def _shape(self, tensor, seq_len, bsz):
        return tensor.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden_states, past, attention_mask):
        bsz, tgt_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states) * self.scaling
        key_states = self._shape(self.k_proj(hidden_states), -1, bsz)
        value_states = self._shape(self.v_proj(hidden_states), -1, bsz)
        if past is not None:
            key_states = torch.cat([past[0], key_states], dim=2)
            value_states = torch.cat([past[1], value_states], dim=2)
        present = (key_states, value_states)
        proj_shape = (bsz * self.num_heads, -1, self.head_dim)
        query_states = self._shape(query_states, tgt_len, bsz).view(*proj_shape)
        key_states = key_states.view(*proj_shape)
        value_states = value_states.view(*proj_shape)
        src_len = key_states.size(1)
        w = torch.bmm(query_states, key_states.transpose(1, 2))
        w = w.view(bsz, self.num_heads, tgt_len, src_len) + attention_mask
        w = torch.max(w, torch.tensor(torch.finfo(w.dtype).min))
        w = w.view(bsz * self.num_heads, tgt_len, src_len)
        w = nn.functional.softmax(w, dim=-1)
        out = torch.bmm(w, value_states)
        out = out.view(bsz, self.num_heads, tgt_len, self.head_dim).transpose(1, 2)
        out = out.reshape(bsz, tgt_len, self.embed_dim)
        return self.out_proj(out), present


class DecoderLayer(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.do_layer_norm_before = cfg.do_layer_norm_before
        self.self_attn = Attention(cfg)
        self.activation_fn = activation(cfg.activation)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.final_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, hidden_states, past, attention_mask):
        residual = hidden_states
        if self.do_layer_norm_before:
            hidden_states = self.self_attn_layer_norm(hidden_states)
        hidden_states, present = self.self_attn(hidden_states, past, attention_mask)
        hidden_states = residual + hidden_states
        if not self.do_layer_norm_before:
            hidden_states = self.self_attn_layer_norm(hidden_states)
        shape = hidden_states.shape
        hidden_states = hidden_states.reshape(-1, hidden_states.size(-1))
        residual = hidden_states
        if self.do_layer_norm_before:
            hidden_states = self.final_layer_norm(hidden_states)
        hidden_states = self.fc2(self.activation_fn(self.fc1(hidden_states)))
        hidden_states = (residual + hidden_states).view(shape)
        if not self.do_layer_norm_before:
            hidden_states = self.final_layer_norm(hidden_states)
        return hidden_states, present


class Decoder(nn.Module):
    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.path = cfg.path
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.word_embed_proj_dim)
        self.embed_positions = LearnedPositions(cfg.max_position_embeddings, cfg.hidden_size)
        self.project_out = self.project_in = None
        if cfg.word_embed_proj_dim != cfg.hidden_size:
            self.project_out = nn.Linear(cfg.hidden_size, cfg.word_embed_proj_dim, bias=False)
            self.project_in = nn.Linear(cfg.word_embed_proj_dim, cfg.hidden_size, bias=False)
        # opt-350m (post-LN) has no final LayerNorm
        self.final_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps) if cfg.do_layer_norm_before else None
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])

    def forward(self, input_ids, attention_mask, past_key_values):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        inputs_embeds = self.embed_tokens(input_ids)
        past_len = past_key_values[0][0].shape[2] if past_key_values is not None else 0
        causal = masks.decoder_mask(self.path, attention_mask, input_shape, inputs_embeds.dtype, past_len)
        pos_embeds = self.embed_positions(attention_mask, past_len)
        if self.project_in is not None:
            inputs_embeds = self.project_in(inputs_embeds)
        hidden_states = inputs_embeds + pos_embeds
        presents = []
        for i, layer in enumerate(self.layers):
            hidden_states, present = layer(hidden_states, None if past_key_values is None else past_key_values[i],
                                           causal)
            presents.append(present)
        if self.final_layer_norm is not None:
            hidden_states = self.final_layer_norm(hidden_states)
        if self.project_out is not None:
            hidden_states = self.project_out(hidden_states)
        return hidden_states, presents


class ForCausalLM(nn.Module):
    """forward(input_ids, attention_mask, position_ids=None, past_key_values=None)
    -> (logits, [(key, value)] * L); OPT reads no position_ids (it derives them
    from the mask); the lm_head is tied to embed_tokens."""

    def __init__(self, cfg: HFModelConfig):
        super().__init__()
        self.config = cfg
        self.model = nn.Module()
        self.model.decoder = Decoder(cfg)
        self.lm_head = nn.Linear(cfg.word_embed_proj_dim, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.model.decoder.embed_tokens.weight

    def forward(self, input_ids, attention_mask, position_ids=None, past_key_values=None):
        hidden_states, presents = self.model.decoder(input_ids, attention_mask, past_key_values)
        return self.lm_head(hidden_states).contiguous(), presents
