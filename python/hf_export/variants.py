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
from .export import LAYOUTS, Layout

OPSETS = (13, 14, 15, 16, 17)

DEFAULT_ACTIVATION = {"gpt2": "gelu_new", "opt": "relu", "llama": "silu", "mistral": "silu", "qwen2": "silu"}


def needs_opset_14(family: str, code: str) -> bool:
    """Graphs with ONNX Trilu (torch.tril/triu, which torch 1.13 exports only from
    opset 14): Llama 4.39's triu of the mask, every sliding window."""
    path = CODE_PATHS[family][code]
    return path.get("mask") == "full-scatter" or "window" in path


def layouts_for(family: str, code: str) -> List[str]:
    """optimum layouts that met this code path: <= 1.13 only before transformers
    4.35 (and for GPT-2, whose code did not change); 1.14+ with all."""
    early = CODE_PATHS[family][code]["releases"].startswith("4.31")
    return list(LAYOUTS) if early else ["1.14", "1.14-legacy"]


@dataclass(frozen=True)
class Variant:
    family: str
    code: str
    opset: int
    init: str = "trained"            # default | trained (weights.py)
    symbolic_batch: bool = True      # False: batch fixed to 1
    constant_folding: bool = True
    optimum: str = "1.14"            # export.LAYOUTS
    merged: bool = False             # also decoder_model_merged.onnx (layouts that merge)
    sizes: Dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    tag: str = ""                    # extra name part (e.g. postln)
    seed: int = 0

    def __post_init__(self):
        if self.merged and not self.layout.can_merge:
            raise ValueError(f"optimum {self.optimum} writes no merged decoder")
        if self.optimum not in layouts_for(self.family, self.code):
            raise ValueError(f"{self.family} {self.code} was not exported by optimum {self.optimum}")
        cfg = self.model_config()
        if self.optimum == "1.13" and cfg.num_kv_heads != cfg.num_heads:
            # its dummy past had num_attention_heads heads: grouped-query models failed to export
            raise ValueError("optimum 1.13 exported no grouped-query attention")

    @property
    def layout(self) -> Layout:
        return LAYOUTS[self.optimum]

    @property
    def name(self) -> str:
        parts = [self.family, self.code.replace(".", "")]
        if self.tag:
            parts.append(self.tag)
        parts += [f"op{self.opset}", self.init, "dyn" if self.symbolic_batch else "b1",
                  "fold" if self.constant_folding else "nofold",
                  "optimum" + self.optimum.replace(".", "").replace("-", "")]
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


def _sizes(rng: random.Random, family: str, tag: str, layout: str) -> Dict[str, object]:
    hidden = rng.choice((32, 48, 64))
    s: Dict[str, object] = dict(vocab_size=rng.choice((256, 320, 384, 512)), hidden_size=hidden,
                                num_layers=rng.choice((2, 3)), num_heads=4,
                                intermediate_size=rng.choice((64, 80, 96)),
                                max_position_embeddings=rng.choice((64, 128)),
                                bos_token_id=1, eos_token_id=2)
    if family in ("llama", "mistral", "qwen2"):
        s["num_kv_heads"] = rng.choice((1, 2, 4)) if layout != "1.13" else s["num_heads"]
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
    exports taking entries (from a seeded offset, stride 5) of the combinations of
    init x batch x folding x optimum layout; every other export of a merging
    layout also gets the merged decoder; sizes and weights drawn from ``seed``."""
    rng = random.Random(seed)
    out: List[Variant] = []
    for family, codes in CODE_PATHS.items():
        for code in codes:
            combos = list(itertools.product(("trained", "default"), (True, False), (True, False),
                                            layouts_for(family, code)))
            for tag in _tags(family):
                for opset in OPSETS:
                    if opset < 14 and needs_opset_14(family, code):
                        continue
                    shift = rng.randrange(len(combos))
                    for k in range(per_cell):
                        init, sym, fold, layout = combos[(shift + 5 * k) % len(combos)]
                        merged = LAYOUTS[layout].can_merge and len(out) % 2 == 0
                        out.append(Variant(family, code, opset, init, sym, fold, layout, merged,
                                           sizes=_sizes(rng, family, tag, layout), tag=tag,
                                           seed=rng.randrange(1 << 30)))
    return out


# The small set: every family and code path once or more, every opset, both
# inits, fixed and symbolic batch, folding on and off, every optimum layout,
# merged decoders; all at the smallest sizes.  The ones marked committed (one per
# spelling, ~5 MB in all) are kept under test/fixtures-hf; the rest are
# generated at test time (ctest hf-exports-generate).
SMALL_SIZES = dict(vocab_size=256, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64,
                   max_position_embeddings=64)
POSTLN = {"do_layer_norm_before": False, "word_embed_proj_dim": 16}
QWEN2 = {"num_kv_heads": 2, "sliding_window": 64}
SMALL_SPEC = [
    # committed, family, code, opset, init, symbolic batch, folding, optimum layout, merged, tag, sizes
    (True, "llama", "4.31", 14, "trained", True, True, "1.13", True, "", {"num_kv_heads": 4}),
    (True, "llama", "4.36", 17, "default", True, True, "1.14", False, "", {"num_kv_heads": 2}),
    (True, "llama", "4.39", 14, "trained", True, True, "1.14", False, "", {"num_kv_heads": 2, "rope_theta": 500000.0}),
    (True, "gpt2", "4.31", 13, "trained", True, True, "1.13", False, "", {"activation": "gelu_new"}),
    (True, "opt", "4.31", 17, "default", False, True, "1.14", False, "preln", {}),
    (True, "opt", "4.31", 14, "trained", True, True, "1.14-legacy", False, "postln", POSTLN),
    (True, "qwen2", "4.37", 14, "trained", True, True, "1.14", False, "",
     dict(QWEN2, tie_word_embeddings=True, rope_theta=1000000.0)),
    (True, "mistral", "4.36", 15, "trained", True, True, "1.14-legacy", False, "",
     {"num_kv_heads": 2, "sliding_window": 5}),
    (False, "llama", "4.31", 13, "default", False, False, "1.14", False, "", {"num_kv_heads": 4}),
    (False, "llama", "4.31", 15, "trained", True, True, "1.14-legacy", False, "", {"num_kv_heads": 1}),
    (False, "llama", "4.36", 15, "trained", False, True, "1.14-legacy", True, "", {"num_kv_heads": 2}),
    (False, "llama", "4.36", 16, "trained", True, False, "1.14-legacy", False, "", {"num_kv_heads": 1}),
    (False, "llama", "4.38", 14, "trained", True, True, "1.14", False, "", {"num_kv_heads": 2}),
    (False, "llama", "4.38", 17, "default", False, True, "1.14-legacy", True, "", {"num_kv_heads": 4}),
    (False, "llama", "4.39", 16, "default", False, False, "1.14-legacy", True, "", {"num_kv_heads": 2}),
    (False, "gpt2", "4.31", 14, "default", True, True, "1.13", True, "", {"activation": "gelu_new"}),
    (False, "gpt2", "4.31", 17, "trained", False, False, "1.14", False, "", {"activation": "gelu"}),
    (False, "opt", "4.36", 14, "trained", True, True, "1.14-legacy", False, "preln", {}),
    (False, "opt", "4.36", 16, "default", True, False, "1.14", False, "postln", POSTLN),
    (False, "qwen2", "4.37", 17, "default", False, True, "1.14-legacy", True, "", QWEN2),
    (False, "mistral", "4.36", 16, "default", True, True, "1.14", False, "", {"num_kv_heads": 4, "sliding_window": 6}),
    (False, "mistral", "4.36", 17, "trained", False, False, "1.14-legacy", True, "",
     {"num_kv_heads": 2, "sliding_window": 4}),
]


def small_set(committed_only: bool = False) -> List[Variant]:
    out = []
    for i, (committed, family, code, opset, init, sym, fold, layout, merged, tag, extra) in enumerate(SMALL_SPEC):
        if committed or not committed_only:
            out.append(Variant(family, code, opset, init, sym, fold, layout, merged,
                               dict(SMALL_SIZES, **extra), tag, seed=1000 + i))
    return out


def select(variants: List[Variant], patterns: Optional[List[str]]) -> List[Variant]:
    """Variants whose name contains any of ``patterns`` (all when None)."""
    if not patterns:
        return variants
    return [v for v in variants if any(p in v.name for p in patterns)]
