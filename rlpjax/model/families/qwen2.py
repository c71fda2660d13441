"""Qwen2 / Qwen2.5: the Llama block with a bias on the q, k and v projections (always on in Hugging Face's Qwen2)."""

from rlpjax.family_registry import register_family
from rlpjax.model.families.base import ATTN, LLAMA_LAYER_NAMES, ModelFamily


@register_family("qwen2")
class Qwen2(ModelFamily):
    hf_architecture = "Qwen2ForCausalLM"
    hf_layer_names = {
        **LLAMA_LAYER_NAMES,
        "q_bias_lnh": (f"{ATTN}.q_proj.bias", "heads"),
        "k_bias_lkh": (f"{ATTN}.k_proj.bias", "heads"),
        "v_bias_lkh": (f"{ATTN}.v_proj.bias", "heads"),
    }

    def config_from_hf(self, hf: dict, source: str) -> dict:
        return {"qkv_bias": True, "qk_norm": False}  # Qwen2 has no attention_bias field: its q/k/v bias is fixed
