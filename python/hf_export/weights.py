"""Weights: transformers' default initialisation, or trained-looking random weights.

"default" is what an untrained `from_config` model holds (HF `_init_weights`):
projections and embeddings N(0, 0.02^2), biases 0, norm weights 1 (LayerNorm
biases 0).  The exporter then finds many identical initializers (all the norm
weights, all the zero biases) and shares one through Identity nodes.

"trained" keeps activations and logits well-conditioned and every tensor
distinct: projections N(0, 1/fan_in), biases N(0, 0.05^2), norm weights
1 + N(0, 0.1^2), LayerNorm biases N(0, 0.1^2), embeddings scaled so the logits
have a standard deviation around 1.5.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INIT_STYLES = ("default", "trained")


def _norm_like(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm) or type(module).__name__ == "RMSNorm"


@torch.no_grad()
def init_weights(model: nn.Module, style: str, seed: int) -> nn.Module:
    if style not in INIT_STYLES:
        raise ValueError(f"unknown init style {style!r}")
    g = torch.Generator().manual_seed(seed)

    def randn(t, std):
        return torch.randn(t.shape, generator=g) * std

    trained = style == "trained"
    num_layers = model.config.num_layers
    for name, module in sorted(model.named_modules(), key=lambda kv: kv[0]):
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        if isinstance(module, nn.Embedding):
            weight.copy_(randn(weight, 1.5 / math.sqrt(weight.shape[1]) if trained else 0.02))
        elif _norm_like(module):
            weight.copy_(1.0 + randn(weight, 0.1) if trained else torch.ones_like(weight))
            if isinstance(bias, torch.Tensor):
                bias.copy_(randn(bias, 0.1) if trained else torch.zeros_like(bias))
        elif isinstance(weight, torch.Tensor) and weight.dim() == 2:
            # nn.Linear stores [out, in]; GPT-2's Conv1D stores [in, out]
            fan_in = weight.shape[0] if type(module).__name__ == "Conv1D" else weight.shape[1]
            std = 1.0 / math.sqrt(fan_in) if trained else 0.02
            if trained and name.endswith("lm_head"):
                std = 1.5 / math.sqrt(fan_in)
            if not trained and type(module).__name__ == "Conv1D" and name.endswith("c_proj"):
                std = 0.02 / math.sqrt(2 * num_layers)   # GPT-2's scaled residual projections
            if not (name.endswith("lm_head") and model.config.tie_word_embeddings):
                weight.copy_(randn(weight, std))
            if isinstance(bias, torch.Tensor):
                bias.copy_(randn(bias, 0.05) if trained else torch.zeros_like(bias))
    return model
