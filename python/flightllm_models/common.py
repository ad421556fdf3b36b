"""Helpers shared by the model families."""

from __future__ import annotations

import torch


def past_length(past_key_values):
    """P = past_key_values[0][0].shape[2] (a traced shape value under export), or 0."""
    if past_key_values is None:
        return 0
    return past_key_values[0][0].shape[2]


def position_ids_for(input_ids, past_len):
    """position_ids [1, S] = past_len + arange(S), computed from shapes.

    Exports as Shape/Gather/Range (+Add) rather than as a constant.
    """
    seq_len = input_ids.shape[1]
    position_ids = torch.arange(past_len, past_len + seq_len, dtype=torch.long)
    return position_ids.unsqueeze(0).view(-1, seq_len)
