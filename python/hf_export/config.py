"""One export's model description, and the HF config.json / generation_config.json it writes.

``code`` names the transformers code path the torch model reproduces; how each
one spells the rotary tables and the attention mask is in CODE_PATHS, with the
releases we attribute it to (read from the modeling files and their history;
the edges of the ranges are approximate).  python/README.md, "HF-style exports".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

# family -> code path -> spelling:
#   rotary  table4d  cos_cached [1, 1, max_pos, Dh] sliced [:, :, :kv_len], squeezed, gathered
#           table2d  cos_cached [max_pos, Dh] sliced [:kv_len], gathered
#           computed inv_freq @ position_ids in the graph (Cos, Sin)
#   mask    legacy   _prepare_decoder_attention_mask      converter  AttentionMaskConverter.to_4d
#           buffer-scatter / full-scatter: Llama 4.38 / 4.39's _update_causal_mask (ScatterND)
#   window  triu: W keys visible per query (optimum patches the converter's window to this
#           spelling for every transformers release, in int64 for onnxruntime)
#   view_position_ids: position_ids.view(-1, S).long() before use
CODE_PATHS = {
    "llama": {
        "4.31": dict(rotary="table4d", mask="legacy", view_position_ids=True, releases="4.31-4.34"),
        "4.36": dict(rotary="table2d", mask="converter", releases="4.35-4.37"),
        "4.38": dict(rotary="computed", mask="buffer-scatter", releases="4.38"),
        "4.39": dict(rotary="computed", mask="full-scatter", releases="4.39-4.40"),
    },
    # optimum exports Mistral from transformers 4.35 on (MistralOnnxConfig)
    "mistral": {"4.36": dict(rotary="table2d", mask="converter", window="triu", releases="4.35-4.40")},
    "qwen2": {"4.37": dict(rotary="table2d", mask="converter", window="triu", releases="4.37-4.40")},
    "gpt2": {"4.31": dict(releases="4.31-4.40")},
    "opt": {
        "4.31": dict(mask="legacy", releases="4.31-4.34"),
        "4.36": dict(mask="converter", releases="4.35-4.40"),
    },
}

# The transformers class names the config.json names, per family.
ARCHITECTURES = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "gpt2": "GPT2LMHeadModel",
    "opt": "OPTForCausalLM",
}

# Families whose optimum export has a position_ids input (TextDecoderWithPositionIdsOnnxConfig;
# OPT only from transformers 4.46, later than the code reproduced here).
HAS_POSITION_IDS = {"llama": True, "mistral": True, "qwen2": True, "gpt2": True, "opt": False}


@dataclass
class HFModelConfig:
    family: str
    code: str
    vocab_size: int = 256
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: Optional[int] = None       # llama-like only; None = num_heads
    intermediate_size: int = 64
    max_position_embeddings: int = 64
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    layer_norm_eps: float = 1e-5
    sliding_window: Optional[int] = None     # mistral / qwen2
    tie_word_embeddings: bool = False
    activation: str = "silu"                 # silu | gelu_new | gelu | relu
    do_layer_norm_before: bool = True        # opt: False is the opt-350m (post-LN) layout
    word_embed_proj_dim: Optional[int] = None  # opt: != hidden_size adds project_in/out
    bos_token_id: int = 1
    eos_token_id: int = 2
    pad_token_id: Optional[int] = None

    def __post_init__(self):
        if self.family not in CODE_PATHS:
            raise ValueError(f"unknown family {self.family!r}")
        if self.code not in CODE_PATHS[self.family]:
            raise ValueError(f"{self.family}: unknown code path {self.code!r}, one of {list(CODE_PATHS[self.family])}")
        if self.num_kv_heads is None:
            self.num_kv_heads = self.num_heads
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must divide into num_heads, num_heads into num_kv_heads")
        if self.family in ("gpt2", "opt"):
            self.tie_word_embeddings = True     # both always tie the head to the token embedding
        if self.word_embed_proj_dim is None:
            self.word_embed_proj_dim = self.hidden_size

    @property
    def path(self) -> dict:
        """How this code path spells things (CODE_PATHS)."""
        return CODE_PATHS[self.family][self.code]

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def release(self) -> str:
        """The first release of the code path's range, for config.json's transformers_version."""
        return self.path["releases"].split("-")[0] + ".0"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hf_config_json(self) -> dict:
        """config.json as transformers writes it for this family (the keys a loader reads)."""
        f = self.family
        out = {"architectures": [ARCHITECTURES[f]], "model_type": f,
               "transformers_version": self.release, "torch_dtype": "float32",
               "vocab_size": self.vocab_size, "bos_token_id": self.bos_token_id,
               "eos_token_id": self.eos_token_id, "use_cache": True,
               "tie_word_embeddings": self.tie_word_embeddings}
        if self.pad_token_id is not None:
            out["pad_token_id"] = self.pad_token_id
        if f == "gpt2":
            out.update(n_embd=self.hidden_size, n_layer=self.num_layers, n_head=self.num_heads,
                       n_inner=self.intermediate_size, n_positions=self.max_position_embeddings,
                       n_ctx=self.max_position_embeddings, activation_function=self.activation,
                       layer_norm_epsilon=self.layer_norm_eps, scale_attn_weights=True,
                       initializer_range=0.02)
        elif f == "opt":
            out.update(hidden_size=self.hidden_size, num_hidden_layers=self.num_layers,
                       num_attention_heads=self.num_heads, ffn_dim=self.intermediate_size,
                       max_position_embeddings=self.max_position_embeddings,
                       do_layer_norm_before=self.do_layer_norm_before,
                       word_embed_proj_dim=self.word_embed_proj_dim,
                       activation_function=self.activation, enable_bias=True,
                       layer_norm_elementwise_affine=True, _remove_final_layer_norm=False,
                       init_std=0.02)
        else:
            out.update(hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                       num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
                       num_key_value_heads=self.num_kv_heads, hidden_act=self.activation,
                       max_position_embeddings=self.max_position_embeddings,
                       rms_norm_eps=self.rms_norm_eps, rope_theta=self.rope_theta,
                       rope_scaling=None, attention_bias=False, initializer_range=0.02)
            if f in ("mistral", "qwen2"):
                out["sliding_window"] = self.sliding_window
            if f == "qwen2":
                # Qwen2's eager mask applies sliding_window whatever use_sliding_window says
                # (transformers 4.37-4.40); the real checkpoints set it beyond their context.
                out.update(use_sliding_window=False, max_window_layers=self.num_layers)
            if f == "llama":
                out["pretraining_tp"] = 1
        return out

    def generation_config_json(self) -> dict:
        out = {"bos_token_id": self.bos_token_id, "eos_token_id": self.eos_token_id,
               "transformers_version": self.release}
        if self.pad_token_id is not None:
            out["pad_token_id"] = self.pad_token_id
        return out
