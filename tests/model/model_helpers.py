"""Tiny model configs of the three families and randomised parameters for the model tests."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlpjax.config import ModelConfig, RopeScalingConfig
from rlpjax.model import Decoder

FAMILY_CONFIGS = {
    "llama": ModelConfig(
        family="llama", vocab_size=61, hidden_size=24, intermediate_size=40, num_layers=2, num_heads=4,
        num_kv_heads=1, head_dim=6, tie_embeddings=False, max_seq_len=64,
    ),
    "qwen2": ModelConfig(
        family="qwen2", vocab_size=53, hidden_size=32, intermediate_size=48, num_layers=2, num_heads=4,
        num_kv_heads=2, head_dim=8, qkv_bias=True, tie_embeddings=True, rope_theta=1000.0, max_seq_len=64,
    ),
    "qwen3": ModelConfig(
        family="qwen3", vocab_size=47, hidden_size=32, intermediate_size=40, num_layers=3, num_heads=6,
        num_kv_heads=2, head_dim=12, qk_norm=True, tie_embeddings=False, max_seq_len=64,
    ),
}
"""One tiny config per family: GQA with 1 KV head (llama), q/k/v bias (qwen2), q/k norm and head_dim != hidden/heads
(qwen3)."""
TINY_LLAMA3_SCALING = RopeScalingConfig(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                        original_max_position_embeddings=64)
"""Llama 3.1's factors with a 64-token original context, so that at head_dim 10 and theta 10,000 the five
frequencies fall in all three bands (wavelengths 6.3 kept, 39.7 blended, 250 and up divided by 8)."""
LLAMA3_CONFIG = dataclasses.replace(FAMILY_CONFIGS["llama"], family="llama3", head_dim=10,
                                    rope_scaling=TINY_LLAMA3_SCALING)
"""The llama config under Llama 3's RoPE scaling (not in FAMILY_CONFIGS: its blocks are llama's, tested there)."""


def random_model(cfg: ModelConfig, seed: int = 0) -> Decoder:
    """A Decoder whose every parameter (norm weights and biases included) is random, so each one matters."""
    model = Decoder(cfg, rngs=nnx.Rngs(seed))
    graphdef, state = nnx.split(model)
    leaves, treedef = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    leaves = [leaf + 0.2 * jax.random.normal(key, leaf.shape, leaf.dtype) for leaf, key in zip(leaves, keys)]
    return nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves))


def with_cfg(model: Decoder, **changes) -> Decoder:
    """The same parameters under a config with `changes` (fields that keep the parameter layout)."""
    cfg = dataclasses.replace(model.cfg, **changes)
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0))))
    return nnx.merge(graphdef, nnx.state(model))


def random_tokens(shape, vocab_size: int, seed: int) -> jnp.ndarray:
    """Uniform random token ids."""
    return jnp.asarray(np.random.default_rng(seed).integers(0, vocab_size, size=shape), jnp.int32)
