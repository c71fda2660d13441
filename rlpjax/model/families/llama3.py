"""Llama 3.1 / 3.2: the Llama block with Llama 3's RoPE frequency scaling (Hugging Face rope_type "llama3")."""

import dataclasses
import math

import jax.numpy as jnp

from rlpjax.config import ModelConfig, RopeScalingConfig
from rlpjax.config_io import ConfigError
from rlpjax.family_registry import register_family
from rlpjax.model.families.base import ModelFamily, hf_rope
from rlpjax.model.rope import default_inv_freq

SCALING_FIELDS = tuple(f.name for f in dataclasses.fields(RopeScalingConfig))
"""The rope_type "llama3" keys of config.json, named as `RopeScalingConfig`'s fields."""


def llama3_inv_freq(inv_freq_f: jnp.ndarray, scaling: RopeScalingConfig) -> jnp.ndarray:
    """[F] inverse frequencies rescaled as Llama 3.1 (see `RopeScalingConfig`), in float32 like its reference code.

    wavelength w = 2 pi / f; w < L / high: kept; w > L / low: f / factor; between: (1 - s) f / factor + s f with
    s = (L / w - low) / (high - low).
    """
    length, low, high = (scaling.original_max_position_embeddings, scaling.low_freq_factor,
                         scaling.high_freq_factor)
    wavelength_f = 2 * math.pi / inv_freq_f
    smooth_f = (length / wavelength_f - low) / (high - low)
    blended_f = (1 - smooth_f) * inv_freq_f / scaling.factor + smooth_f * inv_freq_f
    return jnp.where(wavelength_f < length / high, inv_freq_f,
                     jnp.where(wavelength_f > length / low, inv_freq_f / scaling.factor, blended_f))


@register_family("llama3")
class Llama3(ModelFamily):
    hf_architecture = "LlamaForCausalLM"
    hf_model_type = "llama"
    hf_rope_type = "llama3"

    def rope_inv_freq(self, cfg: ModelConfig) -> jnp.ndarray:
        return llama3_inv_freq(default_inv_freq(cfg.head_dim, cfg.rope_theta), cfg.rope_scaling)

    def hf_rope_parameters(self, cfg: ModelConfig) -> dict:
        return {**super().hf_rope_parameters(cfg), **dataclasses.asdict(cfg.rope_scaling)}

    def check_config(self, cfg: ModelConfig) -> None:
        """Every RoPE scaling is read (its ranges are the config pass's, `config_checks`)."""

    def config_from_hf(self, hf: dict, source: str) -> dict:
        field, rope = hf_rope(hf)
        missing = [name for name in SCALING_FIELDS if name not in rope]
        if missing:
            raise ConfigError(f"{source}: {field} of rope_type 'llama3' lacks {', '.join(missing)}")
        scaling = RopeScalingConfig(**{name: type(getattr(RopeScalingConfig(), name))(rope[name])
                                       for name in SCALING_FIELDS})
        return {**super().config_from_hf(hf, source), "rope_scaling": scaling}
