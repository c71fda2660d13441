"""`ModelFamily`: what a family file declares, with the Llama choices as defaults."""

from __future__ import annotations

from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.layers import Attention, DecoderBlock, RMSNorm, SwiGLUMLP

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
    hf_layer_names: dict[str, tuple[str, str]] = LLAMA_LAYER_NAMES
    """Every block parameter the family may have -> (HF name template, conversion kind); a parameter the config
    does not create (e.g. a bias with qkv_bias=false) is skipped."""

    def block(self, cfg: ModelConfig, *, rngs: nnx.Rngs) -> DecoderBlock:
        """The family's decoder block, parameters stacked over `cfg.num_layers` layers."""
        return DecoderBlock(cfg, attention=self.attention, mlp=self.mlp, norm=self.norm(cfg.rms_norm_eps),
                            layers=cfg.num_layers, rngs=rngs)

    def config_from_hf(self, hf: dict, source: str) -> dict:
        """ModelConfig fields the family sets from a Hugging Face config dict beyond the shared ones
        (`rlpjax.model.hf.config_from_hf`); refuses (one-line ConfigError) what the family's blocks lack."""
        if hf.get("attention_bias", False):
            raise ConfigError(f"{source}: attention_bias=true (bias on the output projection too) is not supported")
        return {"qkv_bias": False, "qk_norm": False}
