"""Key/value caches as pytrees.

- `KVCache`: per-layer keys/values [layers, batch, max_len, kv_heads, head_dim] (after RoPE) and per-row fill
  lengths [batch]. Row b's slots < lengths[b] are valid; the next token of row b goes to slot lengths[b]. Also what a
  teacher-forced forward returns with `return_kv=True` (then max_len = time and lengths count non-padding tokens).
- `PrefixKV`: the shared document prefix of branch mode: keys/values [layers, docs, prefix_len, kv_heads, head_dim]
  and per-*branch-row* prefix lengths [rows]; rows = docs * N, row r belongs to document r // N and sees the
  document's slots < lengths[r]. The prefix is never copied per branch.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class KVCache:
    """Keys/values [layers, batch, max_len, kv_heads, head_dim] and fill lengths [batch] (int32)."""

    k: jnp.ndarray
    v: jnp.ndarray
    lengths: jnp.ndarray

    @classmethod
    def empty(cls, num_layers: int, batch: int, max_len: int, num_kv_heads: int, head_dim: int, dtype) -> "KVCache":
        """An all-zero cache with every row empty."""
        shape = (num_layers, batch, max_len, num_kv_heads, head_dim)
        return cls(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype), jnp.zeros((batch,), jnp.int32))

    @property
    def max_len(self) -> int:
        """Number of slots per row."""
        return self.k.shape[2]


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class PrefixKV:
    """Document keys/values [layers, docs, prefix_len, kv_heads, head_dim] and per-branch-row lengths [rows]."""

    k: jnp.ndarray
    v: jnp.ndarray
    lengths: jnp.ndarray


def write_rows(cache_bshd: jnp.ndarray, new_bthd: jnp.ndarray, start_b: jnp.ndarray) -> jnp.ndarray:
    """Write new_bthd into cache_bshd at slots start_b[b] .. start_b[b] + time - 1 of each row b.

    The caller keeps start_b + time <= max_len (XLA would otherwise clamp the start and overwrite earlier slots).
    """

    def write_row(row_shd, new_thd, start):
        return jax.lax.dynamic_update_slice(row_shd, new_thd.astype(row_shd.dtype), (start, 0, 0))

    return jax.vmap(write_row)(cache_bshd, new_bthd, start_b)
