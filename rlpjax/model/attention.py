"""The one attention kernel behind every call mode (teacher-forced, prefill, decode, branch).

Queries attend to up to two key sources in ONE softmax:
- the row's *own* keys [batch, keys, kv_heads, head_dim] (its own tokens, or its KV cache) under a boolean mask
  [batch, queries, keys];
- optionally a *shared prefix* [docs, prefix_len, kv_heads, head_dim] for branch mode, where batch = docs * N rows
  are grouped contiguously per document. The N rows of a document are folded into the query axis so the prefix is
  read once per document and never tiled per row; its mask is [batch, prefix_len] (slot < the row's prefix length).

Layout: every matmul is a batched [queries, head_dim] x [head_dim, keys] product over (row, kv head), with the query
heads of a kv head (grouped-query attention) folded into the query axis, so that the CPU and TPU dot kernels get
their operands without transposing the [.., queries, keys] score arrays (on CPU, the 5-D einsums this replaced spent
about half of an NTP step's time transposing them). With a prefix, the two key blocks keep their own layouts and are
normalised together through their per-query maxima and sums (the stable two-block softmax), which equals the
softmax over the concatenation [prefix ; own] of the row's keys.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_MASKED = -1e30
"""Logit of a masked key: finite, so a query with no visible key (padding) gives a uniform softmax, not NaN."""


def segment_causal_mask(segment_ids_bt: jnp.ndarray) -> jnp.ndarray:
    """[batch, queries, keys]: same non-zero segment and key index <= query index (packed causal attention)."""
    time = segment_ids_bt.shape[1]
    causal_tt = jnp.arange(time)[:, None] >= jnp.arange(time)[None, :]
    same_bts = segment_ids_bt[:, :, None] == segment_ids_bt[:, None, :]
    return same_bts & causal_tt[None] & (segment_ids_bt[:, None, :] != 0)


def cache_mask(lengths_b: jnp.ndarray, num_queries: int, max_len: int) -> jnp.ndarray:
    """[batch, queries, slots]: query i of row b (written at slot lengths[b] + i) sees slots <= lengths[b] + i."""
    last_bt = lengths_b[:, None] + jnp.arange(num_queries)[None, :]
    return jnp.arange(max_len)[None, None, :] <= last_bt[:, :, None]


def prefix_mask(prefix_lengths_b: jnp.ndarray, prefix_len: int) -> jnp.ndarray:
    """[batch, prefix_slots]: row b sees its document's slots < prefix_lengths[b]."""
    return jnp.arange(prefix_len)[None, :] < prefix_lengths_b[:, None]


def _scores(q_bkxh: jnp.ndarray, k_bskh: jnp.ndarray, keys: str = "bskh") -> jnp.ndarray:
    """Float32 logits [b, kv_heads, x, keys] of queries [b, kv_heads, x, head_dim] against keys laid out as `keys`
    ("bskh" [b, keys, kv_heads, h] as caches hold them, or "bkhs", the shared prefix's layout)."""
    return jnp.einsum(f"bkxh,{keys}->bkxs", q_bkxh, k_bskh, preferred_element_type=jnp.float32)


def _mix(probs_bkxs: jnp.ndarray, v_bskh: jnp.ndarray, values: str = "bskh") -> jnp.ndarray:
    """[b, kv_heads, x, head_dim]: the values laid out as `values` ("bskh", or the prefix's "bksh") weighted by
    probs [b, kv_heads, x, keys]."""
    return jnp.einsum(f"bkxs,{values}->bkxh", probs_bkxs.astype(v_bskh.dtype), v_bskh)


def attend(
    q_bqnh: jnp.ndarray,
    k_bskh: jnp.ndarray,
    v_bskh: jnp.ndarray,
    mask_bqs: jnp.ndarray,
    prefix: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray] | None = None,
) -> jnp.ndarray:
    """Grouped-query attention output [batch, queries, heads, head_dim].

    q has `heads` = kv_heads * group query heads; query head j uses kv head j // group (Hugging Face order).
    `prefix` = (k [docs, kv_heads, head_dim, P], v [docs, kv_heads, P, head_dim], mask [batch, P]) with batch
    divisible by docs: one layer of a `PrefixKV`, already in the layout the matmuls read.
    """
    batch, queries, heads, head_dim = q_bqnh.shape
    kv_heads = k_bskh.shape[2]
    group = heads // kv_heads
    # [b, q, k, g, h] -> [b, k, g, q, h]: x = (g, q) is the folded query axis of every matmul below.
    q_bkgqh = jnp.transpose(q_bqnh.reshape(batch, queries, kv_heads, group, head_dim), (0, 2, 3, 1, 4))
    q_bkgqh = q_bkgqh * jnp.asarray(head_dim**-0.5, q_bkgqh.dtype)
    own_bkgqs = _scores(q_bkgqh.reshape(batch, kv_heads, group * queries, head_dim), k_bskh).reshape(
        batch, kv_heads, group, queries, -1)
    own_bkgqs = jnp.where(mask_bqs[:, None, None], own_bkgqs, _MASKED)
    if prefix is None:
        probs_bkgqs = jax.nn.softmax(own_bkgqs, axis=-1)
        out_bkgqh = _mix(probs_bkgqs.reshape(batch, kv_heads, group * queries, -1), v_bskh)
        return _to_bqnh(out_bkgqh.reshape(batch, kv_heads, group, queries, head_dim))

    prefix_k_dkhp, prefix_v_dkph, prefix_mask_bp = prefix
    docs, prefix_len = prefix_k_dkhp.shape[0], prefix_k_dkhp.shape[3]
    branches = batch // docs
    # The N rows of a document become query positions of one [docs, kv_heads, (N, g, q)] product with the prefix.
    q_dknx = jnp.transpose(q_bkgqh.reshape(docs, branches, kv_heads, group * queries, head_dim), (0, 2, 1, 3, 4))
    pre_dkngqp = _scores(q_dknx.reshape(docs, kv_heads, branches * group * queries, head_dim), prefix_k_dkhp,
                        "bkhs").reshape(
        docs, kv_heads, branches, group, queries, prefix_len)
    pre_mask_dnp = prefix_mask_bp.reshape(docs, branches, prefix_len)
    pre_dkngqp = jnp.where(pre_mask_dnp[:, None, :, None, None, :], pre_dkngqp, _MASKED)

    # Stable two-block softmax: one maximum per (row, head, query) over both blocks, then each block's exponentials
    # and sums in its own layout; only the small per-query statistics and outputs change layout.
    to_doc = lambda x: jnp.moveaxis(x.reshape((docs, branches) + x.shape[1:]), 1, 2)  # noqa: E731  [b,k,..] -> [d,k,n,..]
    to_row = lambda x: jnp.moveaxis(x, 2, 1).reshape((batch,) + x.shape[1:2] + x.shape[3:])  # noqa: E731
    max_dkngq = jnp.maximum(jnp.max(pre_dkngqp, axis=-1), to_doc(jnp.max(own_bkgqs, axis=-1)))
    pre_exp = jnp.exp(pre_dkngqp - max_dkngq[..., None])
    own_exp = jnp.exp(own_bkgqs - to_row(max_dkngq)[..., None])
    denom_bkgq = to_row(jnp.sum(pre_exp, axis=-1)) + jnp.sum(own_exp, axis=-1)
    pre_out = _mix(pre_exp.reshape(docs, kv_heads, branches * group * queries, prefix_len), prefix_v_dkph, "bksh")
    pre_out_bkgqh = to_row(pre_out.reshape(docs, kv_heads, branches, group, queries, head_dim))
    own_out_bkgqh = _mix(own_exp.reshape(batch, kv_heads, group * queries, -1), v_bskh).reshape(
        batch, kv_heads, group, queries, head_dim)
    out_bkgqh = (pre_out_bkgqh + own_out_bkgqh) / denom_bkgq[..., None].astype(own_out_bkgqh.dtype)
    return _to_bqnh(out_bkgqh)


def _to_bqnh(out_bkgqh: jnp.ndarray) -> jnp.ndarray:
    """[b, kv_heads, group, q, h] -> [b, q, heads = kv_heads * group, h] (query head j = kv head j // group)."""
    batch, kv_heads, group, queries, head_dim = out_bkgqh.shape
    return jnp.transpose(out_bkgqh, (0, 3, 1, 2, 4)).reshape(batch, queries, kv_heads * group, head_dim)
