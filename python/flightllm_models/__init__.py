"""Small decoder-only LLM families (GPT-2, OPT, Llama) written like HF transformers.

Every model's ``forward(input_ids, past_key_values=None)`` returns
``(logits [B, S, V], presents)`` where ``presents[i] = (key, value)`` with shape
[B, Hkv, P + S, Dh] (the HF layout), and accepts ``past_key_values`` of the same
form with P entries.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import DecoderConfig, FAMILIES, MASK_STYLES, MASK_APPLY
from .gpt2 import GPT2LMHeadModel, Conv1D
from .opt import OPTForCausalLM
from .llama import LlamaForCausalLM, LlamaRMSNorm

__all__ = [
    "DecoderConfig", "FAMILIES", "MASK_STYLES", "MASK_APPLY",
    "GPT2LMHeadModel", "OPTForCausalLM", "LlamaForCausalLM",
    "build_model", "init_random_weights", "count_parameters",
]

_CLASSES = {"gpt2": GPT2LMHeadModel, "opt": OPTForCausalLM, "llama": LlamaForCausalLM}


def build_model(config: DecoderConfig) -> nn.Module:
    return _CLASSES[config.family](config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def init_random_weights(model: nn.Module, seed: int, logit_std: float = 1.5) -> nn.Module:
    """Deterministic random weights that keep activations and logits well-conditioned.

    Projections ~ N(0, 1/fan_in) so every layer roughly preserves scale; norms get
    weight 1 + N(0, 0.1^2) and bias N(0, 0.1^2) so they are not identities;
    embeddings (and the untied LM head) are scaled so that logits of a
    unit-variance final hidden state have std ~ ``logit_std``.
    """
    g = torch.Generator().manual_seed(seed)

    def randn(shape, std):
        return torch.randn(shape, generator=g) * std

    for _, module in sorted(model.named_modules(), key=lambda kv: kv[0]):
        if isinstance(module, nn.Embedding):
            module.weight.copy_(randn(module.weight.shape, logit_std / math.sqrt(module.weight.shape[1])))
        elif isinstance(module, nn.Linear):
            out_f, in_f = module.weight.shape
            std = 1.0 / math.sqrt(in_f)
            if getattr(model, "lm_head", None) is module:
                std = logit_std / math.sqrt(in_f)
            module.weight.copy_(randn(module.weight.shape, std))
            if module.bias is not None:
                module.bias.copy_(randn(module.bias.shape, 0.05))
        elif isinstance(module, Conv1D):
            in_f = module.weight.shape[0]
            module.weight.copy_(randn(module.weight.shape, 1.0 / math.sqrt(in_f)))
            module.bias.copy_(randn(module.bias.shape, 0.05))
        elif isinstance(module, nn.LayerNorm):
            module.weight.copy_(1.0 + randn(module.weight.shape, 0.1))
            module.bias.copy_(randn(module.bias.shape, 0.1))
        elif isinstance(module, LlamaRMSNorm):
            module.weight.copy_(1.0 + randn(module.weight.shape, 0.1))
    return model
