"""The export variants: one Variant = one optimum-style export directory.

``matrix(seed)`` is the full matrix (a few hundred, generated out of the
repository); ``small_set()`` a representative set at the smallest sizes, of
which ``small_set(committed_only=True)`` is kept under test/fixtures-hf/.  All
are deterministic.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .config import CODE_PATHS, HFModelConfig

OPSETS = (13, 14, 15, 16, 17)


def needs_opset_14(family: str, code: str) -> bool:
    """Graphs with ONNX Trilu (torch.tril/triu, which torch 1.13 exports only from
    opset 14): Llama 4.39's triu of the mask, every sliding window."""
    path = CODE_PATHS[family][code]
    return path.get("mask") == "full-scatter" or "window" in path

DEFAULT_ACTIVATION = {"gpt2": "gelu_new", "opt": "relu", "llama": "silu", "mistral": "silu", "qwen2": "silu"}


@dataclass(frozen=True)
class Variant:
    family: str
    code: str
    opset: int
    init: str = "trained"            # default | trained (weights.py)
    symbolic_batch: bool = True      # False: batch fixed to 1
    constant_folding: bool = True
    past_trace_tokens: int = 1       # new tokens when tracing the with-past graph (optimum: 1)
    merged: bool = False             # also decoder_model_merged.onnx
    sizes: Dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    tag: str = ""                    # extra name part (e.g. postln)
    seed: int = 0

    @property
    def name(self) -> str:
        parts = [self.family, self.code.replace(".", "")]
        if self.tag:
            parts.append(self.tag)
        parts += [f"op{self.opset}", self.init, "dyn" if self.symbolic_batch else "b1",
                  "fold" if self.constant_folding else "nofold", f"past{self.past_trace_tokens}"]
        if self.merged:
            parts.append("merged")
        return "-".join(parts)

    def model_config(self) -> HFModelConfig:
        sizes = dict(self.sizes)
        sizes.setdefault("activation", DEFAULT_ACTIVATION[self.family])
        return HFModelConfig(family=self.family, code=self.code, **sizes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["name"] = self.name
        return d


def _sizes(rng: random.Random, family: str, code: str, tag: str) -> Dict[str, object]:
    hidden = rng.choice((32, 48, 64))
    s: Dict[str, object] = dict(vocab_size=rng.choice((256, 320, 384, 512)), hidden_size=hidden,
                                num_layers=rng.choice((2, 3)), num_heads=4,
                                intermediate_size=rng.choice((64, 80, 96)),
                                max_position_embeddings=rng.choice((64, 128)),
                                bos_token_id=1, eos_token_id=2)
    if family in ("llama", "mistral", "qwen2"):
        s["num_kv_heads"] = rng.choice((1, 2, 4))
        s["rope_theta"] = rng.choice((10000.0, 500000.0, 1000000.0))
        s["tie_word_embeddings"] = family == "qwen2" and rng.random() < 0.5
    if family == "mistral":
        # small, so the reference cases run beyond it
        s["sliding_window"] = rng.choice((4, 5, 6))
    if family == "qwen2":
        # real Qwen2 configs put the window at or beyond the context
        s["sliding_window"] = s["max_position_embeddings"]
    if family == "gpt2":
        s["activation"] = rng.choice(("gelu_new", "gelu"))
    if family == "opt" and tag == "postln":
        s["do_layer_norm_before"] = False
        s["word_embed_proj_dim"] = hidden // 2
    return s


def _tags(family: str) -> List[str]:
    return ["preln", "postln"] if family == "opt" else [""]


def matrix(seed: int = 0, per_cell: int = 6) -> List[Variant]:
    """Per family, code path (and OPT LayerNorm placement) and opset, ``per_cell``
    exports taking consecutive entries (from a seeded offset) of the 16
    combinations of init x batch x folding x with-past trace; every other export
    also gets the merged decoder; sizes and weights drawn from ``seed``."""
    rng = random.Random(seed)
    combos = list(itertools.product(("trained", "default"), (True, False), (True, False), (1, 3)))
    out: List[Variant] = []
    for family, codes in CODE_PATHS.items():
        for code in codes:
            for tag in _tags(family):
                for opset in OPSETS:
                    if opset < 14 and needs_opset_14(family, code):
                        continue
                    shift = rng.randrange(len(combos))
                    for k in range(per_cell):
                        init, sym, fold, past_tokens = combos[(shift + 3 * k) % len(combos)]
                        out.append(Variant(family, code, opset, init, sym, fold, past_tokens,
                                           merged=(len(out) % 2 == 0),
                                           sizes=_sizes(rng, family, code, tag), tag=tag,
                                           seed=rng.randrange(1 << 30)))
    return out


# The small set: every family and code path once or twice, every opset, both
# inits, fixed and symbolic batch, folding on and off, both with-past traces,
# merged decoders; all at the smallest sizes.  The ones marked committed (one per
# spelling, ~5 MB in all) are kept under test/fixtures-hf; the rest are
# generated at test time (ctest hf-exports-generate).
SMALL_SIZES = dict(vocab_size=256, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
                   max_position_embeddings=64)
POSTLN = {"do_layer_norm_before": False, "word_embed_proj_dim": 16}
SMALL_SPEC = [
    # committed, family, code, opset, init, symbolic batch, folding, past trace tokens, merged, tag, sizes
    (True, "llama", "4.31", 14, "trained", True, True, 1, True, "", {"num_kv_heads": 2}),
    (False, "llama", "4.31", 13, "default", False, False, 3, False, "", {"num_kv_heads": 4}),
    (False, "llama", "4.36", 15, "trained", False, True, 1, False, "", {"num_kv_heads": 2}),
    (False, "llama", "4.36", 16, "trained", True, False, 1, False, "", {"num_kv_heads": 1}),
    (True, "llama", "4.36", 17, "default", True, True, 3, False, "", {"num_kv_heads": 2}),
    (False, "llama", "4.38", 14, "trained", True, True, 1, True, "", {"num_kv_heads": 2}),
    (False, "llama", "4.38", 17, "default", False, True, 1, False, "", {"num_kv_heads": 4}),
    (True, "llama", "4.39", 14, "trained", True, True, 1, False, "", {"num_kv_heads": 2, "rope_theta": 500000.0}),
    (False, "llama", "4.39", 16, "default", False, False, 3, True, "", {"num_kv_heads": 2}),
    (True, "gpt2", "4.31", 13, "trained", True, True, 1, False, "", {"activation": "gelu_new"}),
    (False, "gpt2", "4.31", 14, "default", True, True, 1, True, "", {"activation": "gelu_new"}),
    (False, "gpt2", "4.31", 17, "trained", False, False, 3, False, "", {"activation": "gelu"}),
    (False, "opt", "4.36", 14, "trained", True, True, 1, False, "preln", {}),
    (True, "opt", "4.31", 17, "default", False, True, 3, False, "preln", {}),
    (True, "opt", "4.31", 14, "trained", True, True, 1, False, "postln", POSTLN),
    (False, "opt", "4.36", 16, "default", True, False, 3, True, "postln", POSTLN),
    (True, "qwen2", "4.37", 14, "trained", True, True, 1, False, "", {"num_kv_heads": 2, "sliding_window": 64,
                                                                     "tie_word_embeddings": True,
                                                                     "rope_theta": 1000000.0}),
    (False, "qwen2", "4.37", 17, "default", False, True, 3, True, "", {"num_kv_heads": 1, "sliding_window": 64}),
    (False, "mistral", "4.34", 14, "trained", True, True, 1, False, "", {"num_kv_heads": 2, "sliding_window": 4}),
    (True, "mistral", "4.36", 15, "trained", True, True, 1, False, "", {"num_kv_heads": 2, "sliding_window": 5}),
    (False, "mistral", "tril", 17, "trained", False, False, 1, True, "", {"num_kv_heads": 2, "sliding_window": 4}),
    (False, "mistral", "tril", 16, "default", True, True, 3, False, "", {"num_kv_heads": 4, "sliding_window": 6}),
]


def small_set(committed_only: bool = False) -> List[Variant]:
    out = []
    for i, (committed, family, code, opset, init, sym, fold, past_tokens, merged, tag, extra) in enumerate(SMALL_SPEC):
        if committed or not committed_only:
            out.append(Variant(family, code, opset, init, sym, fold, past_tokens, merged,
                               dict(SMALL_SIZES, **extra), tag, seed=1000 + i))
    return out


def select(variants: List[Variant], patterns: Optional[List[str]]) -> List[Variant]:
    """Variants whose name contains any of ``patterns`` (all when None)."""
    if not patterns:
        return variants
    return [v for v in variants if any(p in v.name for p in patterns)]
