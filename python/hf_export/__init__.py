"""Tiny decoder-only models written the way HF transformers 4.31-4.40 writes them,
exported the way HF optimum exports them (python/README.md, "HF-style exports")."""

from __future__ import annotations

from torch import nn

from .config import CODE_PATHS, HFModelConfig
from .weights import INIT_STYLES, init_weights


def build_model(cfg: HFModelConfig) -> nn.Module:
    if cfg.family in ("llama", "mistral", "qwen2"):
        from .llama import ForCausalLM
    elif cfg.family == "gpt2":
        from .gpt2 import ForCausalLM
    else:
        from .opt import ForCausalLM
    return ForCausalLM(cfg).eval()


__all__ = ["CODE_PATHS", "HFModelConfig", "INIT_STYLES", "build_model", "init_weights"]
