"""Small stateless building blocks: RMSNorm, the SwiGLU MLP and parameter creation with logical axes."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from rlpjax.sharding import constrain

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
"""Config dtype names -> JAX dtypes."""


def dtype_of(name: str) -> jnp.dtype:
    """The JAX dtype named by a config field ("float32" or "bfloat16")."""
    if name not in DTYPES:
        raise ValueError(f"dtype {name!r} is not supported; use one of {sorted(DTYPES)}")
    return DTYPES[name]


def param(value: jnp.ndarray, logical_axes: Sequence[str | None]) -> nnx.Param:
    """An `nnx.Param` carrying its logical sharding axes (read by `rlpjax.sharding.state_shardings`)."""
    if len(logical_axes) != value.ndim:
        raise ValueError(f"logical axes {tuple(logical_axes)} do not match a parameter of shape {value.shape}")
    return nnx.Param(value, logical_axes=tuple(logical_axes), eager_sharding=False)


def normal_param(rngs: nnx.Rngs, shape: Sequence[int], std: float, dtype, logical_axes) -> nnx.Param:
    """A parameter drawn from N(0, std^2)."""
    return param(std * jax.random.normal(rngs.params(), tuple(shape), dtype=jnp.float32).astype(dtype), logical_axes)


def rms_norm(x: jnp.ndarray, weight: jnp.ndarray, eps: float) -> jnp.ndarray:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis, computed in float32, returned in x's dtype."""
    x32 = x.astype(jnp.float32)
    normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
    return (normed * weight.astype(jnp.float32)).astype(x.dtype)


def swiglu_mlp(h_btd: jnp.ndarray, gate_df: jnp.ndarray, up_df: jnp.ndarray, down_fd: jnp.ndarray) -> jnp.ndarray:
    """down(silu(h @ gate) * (h @ up)): the Llama/Qwen feed-forward block."""
    gate_btf = jnp.einsum("btd,df->btf", h_btd, gate_df)
    up_btf = jnp.einsum("btd,df->btf", h_btd, up_df)
    hidden_btf = constrain(jax.nn.silu(gate_btf) * up_btf, ("act_batch", "act_length", "act_mlp"))
    return jnp.einsum("btf,fd->btd", hidden_btf, down_fd)
