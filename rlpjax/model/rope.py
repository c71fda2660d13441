"""Rotary position embeddings in the Hugging Face "rotate_half" layout.

Feature i of a head (i < head_dim / 2) is paired with feature i + head_dim / 2 and the pair is rotated by the angle
`position * theta ** (-2 i / head_dim)`. Computed in float32, returned in the input dtype.
"""

from __future__ import annotations

import jax.numpy as jnp


def rope_angles(positions_bt: jnp.ndarray, head_dim: int, theta: float) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(cos, sin) of shape [batch, time, head_dim] for integer positions [batch, time]."""
    inv_freq_f = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))
    angles_btf = positions_bt.astype(jnp.float32)[..., None] * inv_freq_f
    angles_bth = jnp.concatenate([angles_btf, angles_btf], axis=-1)
    return jnp.cos(angles_bth), jnp.sin(angles_bth)


def apply_rope(x_btnh: jnp.ndarray, cos_bth: jnp.ndarray, sin_bth: jnp.ndarray) -> jnp.ndarray:
    """Rotate every head of x [batch, time, heads, head_dim] by the angles of its position."""
    x = x_btnh.astype(jnp.float32)
    half = x.shape[-1] // 2
    rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    out = x * cos_bth[:, :, None, :] + rotated * sin_bth[:, :, None, :]
    return out.astype(x_btnh.dtype)
