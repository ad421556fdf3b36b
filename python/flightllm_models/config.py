"""Configuration shared by the three decoder-only model families."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Optional

FAMILIES = ("gpt2", "opt", "llama")

# How the causal pattern is built (see masks.py):
#   buffer - registered constant bool lower-triangular [max_pos, max_pos], sliced
#   trilu  - torch.tril/torch.triu on a full [T, T] matrix (ONNX Trilu, opset >= 14)
#   range  - torch.arange comparisons (Range + Greater/Less + Where)
MASK_STYLES = ("buffer", "trilu", "range")
# How the pattern is applied to the attention scores:
#   where - torch.where(allowed, scores, finfo.min)
#   add   - scores + (0 where allowed, finfo.min elsewhere)
MASK_APPLY = ("where", "add")


@dataclass
class DecoderConfig:
    family: str
    vocab_size: int = 64
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 4
    # Llama only (grouped-query attention); other families use num_heads.
    num_kv_heads: Optional[int] = None
    intermediate_size: Optional[int] = None  # default 4 * hidden (gpt2/opt)
    max_positions: int = 64
    mask_style: str = "buffer"
    mask_apply: str = "where"
    # gpt2: "gelu" (exact, erf) or "gelu_new" (tanh approximation, HF formula)
    activation: Optional[str] = None
    layer_norm_eps: float = 1e-5
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    # opt: learned positions are looked up at position + offset (HF OPT uses 2)
    opt_position_offset: int = 2
    tie_word_embeddings: Optional[bool] = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}")
        if self.mask_style not in MASK_STYLES:
            raise ValueError(f"unknown mask style {self.mask_style!r}")
        if self.mask_apply not in MASK_APPLY:
            raise ValueError(f"unknown mask application {self.mask_apply!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")
        if self.num_kv_heads is None:
            self.num_kv_heads = self.num_heads
        if self.family != "llama" and self.num_kv_heads != self.num_heads:
            raise ValueError("grouped-query attention is only modelled for llama")
        if self.num_heads % self.num_kv_heads:
            raise ValueError("num_heads must be a multiple of num_kv_heads")
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size
        if self.activation is None:
            self.activation = {"gpt2": "gelu_new", "opt": "relu", "llama": "silu"}[self.family]
        if self.tie_word_embeddings is None:
            self.tie_word_embeddings = self.family != "llama"
        if self.family == "llama" and self.head_dim % 2:
            raise ValueError("rotary embeddings need an even head_dim")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["head_dim"] = self.head_dim
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DecoderConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
