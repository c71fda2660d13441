"""Model families: one small file each, registered with `@register_family("name")` (`rlpjax.family_registry`).

A family subclasses `base.ModelFamily`: it picks its blocks (attention, MLP and norm classes from
`rlpjax.model.layers`), names its Hugging Face architecture and per-layer tensors, and reads its own fields of a
Hugging Face config.json. It may also rescale RoPE's frequencies (`rope_inv_freq`). Built-in: `llama`, `llama3`
(Llama 3.1's RoPE scaling), `qwen2` (q/k/v bias), `qwen3` (q/k norm).
"""
