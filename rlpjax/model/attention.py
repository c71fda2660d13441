"""The one attention kernel behind every call mode (teacher-forced, prefill, decode, branch).

Queries attend to up to two key sources in ONE softmax:
- the row's *own* keys [batch, keys, kv_heads, head_dim] (its own tokens, or its KV cache) under a boolean mask
  [batch, queries, keys];
- optionally a *shared prefix* [docs, prefix_len, kv_heads, head_dim] for branch mode, where batch = docs * N rows
  are grouped contiguously per document. The N rows of a document are folded into the query axis
  ([docs, N * queries, ...]) so the prefix is read once per document and never tiled per row; its mask is
  [batch, prefix_len] (slot < the row's prefix length).

The two logit blocks are concatenated over the key axis and normalised together in float32, so the result equals
attention over the concatenation [prefix ; own] of the row's keys.
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


def attend(
    q_bqnh: jnp.ndarray,
    k_bskh: jnp.ndarray,
    v_bskh: jnp.ndarray,
    mask_bqs: jnp.ndarray,
    prefix: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray] | None = None,
) -> jnp.ndarray:
    """Grouped-query attention output [batch, queries, heads, head_dim].

    q has `heads` = kv_heads * group query heads; query head j uses kv head j // group (Hugging Face order).
    `prefix` = (k [docs, P, kv_heads, head_dim], v [docs, P, ...], mask [batch, P]) with batch divisible by docs.
    """
    batch, queries, heads, head_dim = q_bqnh.shape
    kv_heads = k_bskh.shape[2]
    group = heads // kv_heads
    q_bqkgh = q_bqnh.reshape(batch, queries, kv_heads, group, head_dim) * (head_dim**-0.5)
    logits_bkgqs = jnp.einsum("bqkgh,bskh->bkgqs", q_bqkgh, k_bskh, preferred_element_type=jnp.float32)
    logits_bkgqs = jnp.where(mask_bqs[:, None, None], logits_bkgqs, _MASKED)
    if prefix is None:
        probs_bkgqs = jax.nn.softmax(logits_bkgqs, axis=-1).astype(v_bskh.dtype)
        out_bqkgh = jnp.einsum("bkgqs,bskh->bqkgh", probs_bkgqs, v_bskh)
        return out_bqkgh.reshape(batch, queries, heads, head_dim)

    prefix_k_dpkh, prefix_v_dpkh, prefix_mask_bp = prefix
    docs, prefix_len = prefix_k_dpkh.shape[:2]
    branches = batch // docs
    q_dnqkgh = q_bqkgh.reshape(docs, branches, queries, kv_heads, group, head_dim)
    prefix_logits_dnkgqp = jnp.einsum(
        "dnqkgh,dpkh->dnkgqp", q_dnqkgh, prefix_k_dpkh, preferred_element_type=jnp.float32
    )
    prefix_logits_bkgqp = prefix_logits_dnkgqp.reshape(batch, kv_heads, group, queries, prefix_len)
    prefix_logits_bkgqp = jnp.where(prefix_mask_bp[:, None, None, None, :], prefix_logits_bkgqp, _MASKED)
    all_logits = jnp.concatenate([prefix_logits_bkgqp, logits_bkgqs], axis=-1)
    probs = jax.nn.softmax(all_logits, axis=-1).astype(v_bskh.dtype)
    prefix_probs_dnkgqp = probs[..., :prefix_len].reshape(docs, branches, kv_heads, group, queries, prefix_len)
    own_probs_bkgqs = probs[..., prefix_len:]
    out_bqkgh = jnp.einsum("bkgqs,bskh->bqkgh", own_probs_bkgqs, v_bskh)
    prefix_out_dnqkgh = jnp.einsum("dnkgqp,dpkh->dnqkgh", prefix_probs_dnkgqp, prefix_v_dpkh)
    out_bqkgh = out_bqkgh + prefix_out_dnqkgh.reshape(batch, queries, kv_heads, group, head_dim)
    return out_bqkgh.reshape(batch, queries, heads, head_dim)
