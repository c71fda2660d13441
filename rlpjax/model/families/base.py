"""`ModelFamily`: what a family file declares, with the Llama choices as defaults."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from rlpjax.config import ModelConfig, RopeScalingConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.layers import Attention, DecoderBlock, RMSNorm, SwiGLUMLP
from rlpjax.model.rope import default_inv_freq

ATTN, MLP = "model.layers.{i}.self_attn", "model.layers.{i}.mlp"

LLAMA_LAYER_NAMES = {
    "attn_norm_ld": ("model.layers.{i}.input_layernorm.weight", "copy"),
    "q_weight_ldnh": (f"{ATTN}.q_proj.weight", "in_heads"),
    "k_weight_ldkh": (f"{ATTN}.k_proj.weight", "in_heads"),
    "v_weight_ldkh": (f"{ATTN}.v_proj.weight", "in_heads"),
    "o_weight_lnhd": (f"{ATTN}.o_proj.weight", "heads_out"),
    "mlp_norm_ld": ("model.layers.{i}.post_attention_layernorm.weight", "copy"),
    "gate_weight_ldf": (f"{MLP}.gate_proj.weight", "transpose"),
    "up_weight_ldf": (f"{MLP}.up_proj.weight", "transpose"),
    "down_weight_lfd": (f"{MLP}.down_proj.weight", "transpose"),
}
"""Our stacked block parameter -> (Hugging Face tensor name with {i} the layer, layout conversion kind of
`rlpjax.model.hf`): the Llama block, shared by every built-in family."""


def hf_rope(hf: dict) -> tuple[str, dict]:
    """(the field, its dict) holding a Hugging Face config's RoPE settings: `rope_parameters` (recent transformers)
    or `rope_scaling` (older ones; None there means plain RoPE)."""
    field = "rope_parameters" if hf.get("rope_parameters") else "rope_scaling"
    return field, hf.get(field) or {}


def hf_rope_type(hf: dict) -> str:
    """The RoPE variant a Hugging Face config names ("default" for plain RoPE, e.g. "llama3" for Llama 3.1's)."""
    rope = hf_rope(hf)[1]
    return rope.get("rope_type", rope.get("type", "default"))


class ModelFamily:
    """A decoder family. Subclass, set `hf_architecture` (and whatever differs from Llama), and register it with
    `@register_family("name")`; `name` is set by the registration."""

    name: str
    hf_architecture: str
    """The Hugging Face `architectures[0]` of config.json, e.g. "LlamaForCausalLM"."""
    attention: type = Attention
    mlp: type = SwiGLUMLP
    norm: type = RMSNorm
    """Built with `rms_norm_eps`; used by every norm of the model (blocks, q/k norm, final norm)."""
    hf_model_type: str | None = None
    """config.json's model_type (None: the family's name)."""
    hf_rope_type: str = "default"
    """The Hugging Face rope_type this family reads (a config.json of `hf_architecture` with another rope_type
    belongs to another family, or is refused)."""
    hf_layer_names: dict[str, tuple[str, str]] = LLAMA_LAYER_NAMES
    """Every block parameter the family may have -> (HF name template, conversion kind); a parameter the config
    does not create (e.g. a bias with qkv_bias=false) is skipped."""

    def block(self, cfg: ModelConfig, *, rngs: nnx.Rngs) -> DecoderBlock:
        """The family's decoder block, parameters stacked over `cfg.num_layers` layers."""
        return DecoderBlock(cfg, attention=self.attention, mlp=self.mlp, norm=self.norm(cfg.rms_norm_eps),
                            layers=cfg.num_layers, rngs=rngs)

    def claims_hf(self, hf: dict) -> bool:
        """Whether a Hugging Face config dict is this family's: its architecture and its RoPE variant."""
        architectures = hf.get("architectures") or [None]
        return architectures[0] == self.hf_architecture and hf_rope_type(hf) == self.hf_rope_type

    def rope_inv_freq(self, cfg: ModelConfig) -> jnp.ndarray:
        """[head_dim / 2] float32 RoPE inverse frequencies (the decoder rotates position p by p * inv_freq)."""
        return default_inv_freq(cfg.head_dim, cfg.rope_theta)

    def hf_rope_parameters(self, cfg: ModelConfig) -> dict:
        """The RoPE dict config.json carries for `cfg` (`rope_parameters`, and `rope_scaling` when not plain)."""
        return {"rope_type": self.hf_rope_type, "rope_theta": cfg.rope_theta}

    def check_config(self, cfg: ModelConfig) -> None:
        """One-line ConfigError for settings the family does not read (here: a RoPE scaling)."""
        if cfg.rope_scaling != RopeScalingConfig():
            raise ConfigError(f"model.rope_scaling is read only by model.family=llama3, not {cfg.family!r}; drop the "
                              "override or choose family llama3")

    def config_from_hf(self, hf: dict, source: str) -> dict:
        """ModelConfig fields the family sets from a Hugging Face config dict beyond the shared ones
        (`rlpjax.model.hf.config_from_hf`); refuses (one-line ConfigError) what the family's blocks lack."""
        if hf.get("attention_bias", False):
            raise ConfigError(f"{source}: attention_bias=true (bias on the output projection too) is not supported")
        return {"qkv_bias": False, "qk_norm": False}
