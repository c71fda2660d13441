"""Qwen3: the Llama block with an RMSNorm on each query and key head before RoPE (and an explicit head_dim)."""

from rlpjax.family_registry import register_family
from rlpjax.model.families.base import ATTN, LLAMA_LAYER_NAMES, ModelFamily


@register_family("qwen3")
class Qwen3(ModelFamily):
    hf_architecture = "Qwen3ForCausalLM"
    hf_layer_names = {
        **LLAMA_LAYER_NAMES,
        "q_norm_lh": (f"{ATTN}.q_norm.weight", "copy"),
        "k_norm_lh": (f"{ATTN}.k_norm.weight", "copy"),
    }

    def config_from_hf(self, hf: dict, source: str) -> dict:
        return {**super().config_from_hf(hf, source), "qk_norm": True}
