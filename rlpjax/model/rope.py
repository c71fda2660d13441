"""Rotary position embeddings in the Hugging Face "rotate_half" layout.

Feature i of a head (i < head_dim / 2) is paired with feature i + head_dim / 2 and the pair is rotated by the angle
`position * inv_freq[i]`, with `inv_freq[i] = theta ** (-2 i / head_dim)` by default (`default_inv_freq`); a model
family may rescale the frequencies (`ModelFamily.rope_inv_freq`, e.g. Llama 3.1's). Computed in float32, returned in
the input dtype.
"""

from __future__ import annotations

import jax.numpy as jnp


def default_inv_freq(head_dim: int, theta: float) -> jnp.ndarray:
    """[head_dim / 2] float32 inverse frequencies theta ** (-2 i / head_dim) of plain RoPE."""
    return 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))


def rope_angles(positions_bt: jnp.ndarray, inv_freq_f: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(cos, sin) of shape [batch, time, head_dim] for integer positions [batch, time] and the [head_dim / 2]
    inverse frequencies."""
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
