"""Causal attention masks in the three styles the importer has to recognise.

All functions take the query length ``q_len`` (S) and the past length ``past_len``
(P); the key length is T = P + S.  Under ``torch.onnx.export`` both are traced
values derived from tensor shapes, so the masks export as shape arithmetic and
stay valid for every S and P.

A mask is either a bool tensor [S, T] (True = may attend) or a float tensor
[S, T] holding 0 where attention is allowed and ``finfo.min`` elsewhere
(additive).  ``apply_causal_mask`` handles both.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DecoderConfig


def min_value(dtype=torch.float32) -> float:
    return torch.finfo(dtype).min


class CausalMask(nn.Module):
    """Builds the causal mask for one (q_len, past_len) pair.

    ``buffer`` owns a constant bool lower-triangular matrix like HF GPT-2's
    ``bias`` buffer and slices rows [P, P+S) and columns [0, P+S) out of it.
    """

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.style = config.mask_style
        self.apply_kind = config.mask_apply
        if self.style == "buffer":
            n = config.max_positions
            self.register_buffer(
                "bias", torch.tril(torch.ones((n, n), dtype=torch.bool)), persistent=False)

    def forward(self, q_len, past_len, dtype=torch.float32):
        key_len = past_len + q_len
        neg = min_value(dtype)
        if self.style == "buffer":
            # HF GPT-2: self.bias[:, :, key_length - query_length : key_length, :key_length]
            allowed = self.bias[key_len - q_len:key_len, :key_len]
            if self.apply_kind == "where":
                return allowed
            return torch.where(allowed, torch.zeros([], dtype=dtype), torch.full([], neg, dtype=dtype))
        if self.style == "trilu":
            if self.apply_kind == "add":
                # Newer HF Llama: triu(full(min), diagonal=1), then keep the last S rows.
                full = torch.full((key_len, key_len), neg, dtype=dtype)
                return torch.triu(full, diagonal=1)[past_len:, :]
            ones = torch.ones((key_len, key_len), dtype=dtype)
            return torch.tril(ones)[past_len:, :] > 0.5
        # range: HF Llama _make_causal_mask, generalised to any past length.
        k_pos = torch.arange(key_len)
        q_pos = torch.arange(q_len) + past_len
        if self.apply_kind == "add":
            mask = torch.full((q_len, key_len), neg, dtype=dtype)
            return mask.masked_fill(k_pos.view(1, -1) < (q_pos + 1).view(-1, 1), 0.0)
        return ~(k_pos.view(1, -1) > q_pos.view(-1, 1))


def apply_causal_mask(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scores [..., S, T]; mask bool [S, T] (where) or float [S, T] (additive)."""
    if mask.dtype == torch.bool:
        return torch.where(mask, scores, torch.full([], min_value(scores.dtype), dtype=scores.dtype))
    return scores + mask
