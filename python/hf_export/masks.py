"""The 4-D additive attention masks as the transformers releases build them.

All return float masks [B, 1, S, P + S] with 0 where attention is allowed and
finfo.min where not (-inf where the legacy mask adds two finfo.min); they are
added to the scores.
S = new tokens, P = past length.  Each function notes the release whose code
path it reproduces (written from the modeling files, not copied).
"""

from __future__ import annotations

import torch


def legacy_causal(input_shape, dtype, past_len):
    """`_make_causal_mask` (Llama/OPT up to 4.34, then inside the converter): a [S, S] block of finfo.min with the
    lower triangle zeroed through an arange comparison, zeros prepended for the
    past (only when the traced past length is > 0)."""
    bsz, tgt_len = input_shape
    mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min)
    cond = torch.arange(mask.size(-1))
    mask.masked_fill_(cond < (cond + 1).view(mask.size(-1), 1), 0)
    mask = mask.to(dtype)
    if past_len > 0:
        mask = torch.cat([torch.zeros(tgt_len, past_len, dtype=dtype), mask], dim=-1)
    return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_len)


def expand_padding(mask2d, dtype, tgt_len):
    """`_expand_mask`: [B, T] 1/0 -> [B, 1, S, T] with finfo.min where the mask is 0."""
    bsz, src_len = mask2d.size()
    expanded = mask2d[:, None, None, :].expand(bsz, 1, tgt_len, src_len).to(dtype)
    inverted = 1.0 - expanded
    return inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)


def legacy_decoder_mask(attention_mask, input_shape, dtype, past_len):
    """`_prepare_decoder_attention_mask` (Llama and OPT 4.31-4.34): the causal part
    only when more than one new token was traced, the padding part added to it."""
    combined = None
    if input_shape[-1] > 1:
        combined = legacy_causal(input_shape, dtype, past_len)
    padding = expand_padding(attention_mask, dtype, input_shape[-1])
    return padding if combined is None else padding + combined


def converter_causal(input_shape, dtype, past_len, window=None):
    """AttentionMaskConverter._make_causal_mask as optimum's DecoderModelPatcher
    replaces it during every export (transformers 4.35+): the legacy causal block
    plus an optional sliding window, 1 - triu(ones, P - W + 1) masked (int64 for
    onnxruntime's Trilu): W keys visible per query.  (Later transformers spell the
    window tril(ones, P - W - 1), W + 1 keys, but optimum's patch overrides it.)"""
    mask = legacy_causal(input_shape, dtype, past_len)[0, 0].clone()
    if window is not None:
        keep = torch.triu(torch.ones_like(mask, dtype=torch.int64), diagonal=past_len - window + 1)
        mask.masked_fill_((1 - keep).bool(), torch.finfo(dtype).min)
    bsz, tgt_len = input_shape
    return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_len)


def converter_4d(attention_mask, query_len, dtype, kv_len, window=None):
    """`_prepare_4d_causal_attention_mask` -> AttentionMaskConverter.to_4d (4.35+): the
    causal mask is built when more than one new token was traced, or always when a
    sliding window is set; padded keys are then filled with finfo.min."""
    input_shape = (attention_mask.shape[0], query_len)
    causal = None
    if query_len > 1 or window is not None:
        causal = converter_causal(input_shape, dtype, kv_len - query_len, window)
    padding = expand_padding(attention_mask, dtype, query_len)
    if causal is None:
        return padding
    return causal.masked_fill(padding.bool(), torch.finfo(dtype).min)


def decoder_mask(path: dict, attention_mask, input_shape, dtype, past_len, window=None):
    """The 4-D mask of a "legacy" or "converter" code path (config.CODE_PATHS)."""
    if path["mask"] == "legacy":
        return legacy_decoder_mask(attention_mask, input_shape, dtype, past_len)
    return converter_4d(attention_mask, input_shape[-1], dtype, input_shape[-1] + past_len, window)


def llama_438_mask(causal_buffer, attention_mask, batch_size, dtype):
    """Llama 4.38 `_update_causal_mask`: the registered bool triu buffer
    [max_pos, max_pos] repeated per batch, times finfo.min, with the padding written
    into its first T columns by slice assignment (exported as ScatterND).  The
    attention layers then index rows by cache_position and cut T columns."""
    min_dtype = torch.finfo(dtype).min
    mask = causal_buffer[None, None, :, :].repeat(batch_size, 1, 1, 1).to(dtype) * min_dtype
    mask_length = attention_mask.shape[-1]
    padding = mask[..., :mask_length].eq(0.0) * attention_mask[:, None, None, :].eq(0.0)
    mask[..., :mask_length] = mask[..., :mask_length].masked_fill(padding, min_dtype)
    return mask


def llama_439_mask(attention_mask, seq_len, cache_position, batch_size, dtype):
    """Llama 4.39-4.40 `_update_causal_mask` (dynamic cache): full [S, T] of
    finfo.min, triu(1) only when more than one token was traced, times
    (arange(T) > cache_position) so it stays causal anyway; padding written by
    slice assignment (ScatterND)."""
    min_dtype = torch.finfo(dtype).min
    target_length = attention_mask.shape[-1]
    mask = torch.full((seq_len, target_length), fill_value=min_dtype, dtype=dtype)
    if seq_len != 1:
        mask = torch.triu(mask, diagonal=1)
    mask *= torch.arange(target_length) > cache_position.reshape(-1, 1)
    mask = mask[None, None, :, :].expand(batch_size, 1, -1, -1)
    mask = mask.clone()
    mask_length = attention_mask.shape[-1]
    padding = mask[..., :mask_length].eq(0.0) * attention_mask[:, None, None, :].eq(0.0)
    mask[..., :mask_length] = mask[..., :mask_length].masked_fill(padding, min_dtype)
    return mask
