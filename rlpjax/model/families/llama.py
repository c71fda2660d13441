"""Llama: the base family's blocks (SwiGLU MLP, RMSNorm, grouped-query attention without bias or q/k norm)."""

from rlpjax.family_registry import register_family
from rlpjax.model.families.base import ModelFamily


@register_family("llama")
class Llama(ModelFamily):
    hf_architecture = "LlamaForCausalLM"
