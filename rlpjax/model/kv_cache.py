"""Key/value caches as pytrees.

- `KVCache`: per-layer keys/values [layers, batch, max_len, kv_heads, head_dim] (after RoPE) and per-row fill
  lengths [batch]. Row b's slots < lengths[b] are valid; the next token of row b goes to slot lengths[b]. Also what a
  teacher-forced forward returns with `return_kv=True` (then max_len = time and lengths count non-padding tokens).
- `PrefixKV`: the shared document prefix of branch mode, stored in the attention kernel's layout (keys
  [layers, docs, kv_heads, head_dim, prefix_len], values [layers, docs, kv_heads, prefix_len, head_dim]; made from
  a cache's keys / values by `PrefixKV.from_kv`), and per-*branch-row* prefix lengths [rows]; rows = docs * N, row r
  belongs to document r // N and sees the document's slots < lengths[r]. The prefix is never copied per branch.
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
    """Document keys [layers, docs, kv_heads, head_dim, prefix_len], values [layers, docs, kv_heads, prefix_len,
    head_dim] and per-branch-row lengths [rows].

    The layout is the one the attention kernel's matmuls read (scores = q [.., head_dim] @ k [head_dim, prefix_len],
    output = probs [.., prefix_len] @ v [prefix_len, head_dim]). The prefix is made once per rollout but read at every
    decode step, and XLA does not hoist a layout change out of the sampler's loop: stored in the cache's layout it
    was transposed again at every token and layer (on the RLP benchmark's decode, 15% of the XLA CPU op time; the
    wall time fell less, 0.94 to 0.91 s, as that loop is bound by per-op overhead on CPU).
    """

    k_ldkhp: jnp.ndarray
    v_ldkph: jnp.ndarray
    lengths: jnp.ndarray

    @classmethod
    def from_kv(cls, k_ldpkh: jnp.ndarray, v_ldpkh: jnp.ndarray, lengths_r: jnp.ndarray) -> "PrefixKV":
        """From a cache's (or `return_kv`'s) keys / values [layers, docs, prefix_len, kv_heads, head_dim]."""
        return cls(jnp.transpose(k_ldpkh, (0, 1, 3, 4, 2)), jnp.transpose(v_ldpkh, (0, 1, 3, 2, 4)), lengths_r)

    @property
    def prefix_len(self) -> int:
        """Number of document slots."""
        return self.v_ldkph.shape[3]


def write_rows(cache_lbshd: jnp.ndarray, layer, new_bthd: jnp.ndarray, start_b: jnp.ndarray) -> jnp.ndarray:
    """Write new_bthd into layer `layer` of the stacked cache at slots start_b[b] .. start_b[b] + time - 1 of row b.

    One scatter of a [time, kv_heads, head_dim] window per row into the whole [layers, batch, slots, ...] buffer (the
    scatter a per-row `dynamic_update_slice` becomes, with the layer as one more index), so that XLA updates a
    donated or loop-carried cache in place instead of slicing a layer out and re-stacking it (a full cache copy per
    call). `layer` is an int or a traced int32 scalar (under `lax.scan`). The caller keeps start_b + time <= max_len
    (like `dynamic_update_slice`, XLA would otherwise clamp the start and overwrite earlier slots). Differentiable
    in the cache and in new_bthd.
    """
    batch = new_bthd.shape[0]
    index_b3 = jnp.stack(
        [jnp.full((batch,), layer, jnp.int32), jnp.arange(batch, dtype=jnp.int32), start_b.astype(jnp.int32)], axis=1
    )
    dims = jax.lax.ScatterDimensionNumbers(
        update_window_dims=(1, 2, 3), inserted_window_dims=(0, 1), scatter_dims_to_operand_dims=(0, 1, 2)
    )
    return jax.lax.scatter(
        cache_lbshd, index_b3, new_bthd.astype(cache_lbshd.dtype), dims,
        indices_are_sorted=True, unique_indices=True, mode=jax.lax.GatherScatterMode.CLIP,
    )
