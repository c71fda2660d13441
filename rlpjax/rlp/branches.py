"""Teacher-forced passes over RLP's branch rows, shared by the rollout (reference log-probs) and the update.

R = B*K*G branch rows, grouped per document; row r continues its document after its position t. In the shared
layout the documents are encoded once and every branch attends to that `PrefixKV`; in the naive layout (the
benchmark's) each row re-encodes its own copy of x_<t. See `rlp/rollout.py` for the whole rollout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlpjax.model.kv_cache import KVCache, PrefixKV
from rlpjax.objectives.logprobs import hidden_logprobs
from rlpjax.rlp.settings import RolloutSettings


def branch_context(model, batch: dict, prefix_len_r: jax.Array, rs: RolloutSettings, own_slots: int,
                   stop_prefix_grad: bool = False) -> tuple[KVCache, PrefixKV | None, jax.Array | None]:
    """The starting cache (and shared prefix) of the R branch rows, each continuing its document after t tokens.

    Shared layout: the documents are encoded once (teacher-forced, differentiable unless `stop_prefix_grad`) and
    returned as a `PrefixKV`, with that pass's final hidden states [B, S, D]; each row starts with an empty cache of
    `own_slots`. Naive layout: each row's cache is prefilled with its own copy of the document's first t tokens (the
    prefix is re-encoded per branch); no document hidden states.
    """
    rows = prefix_len_r.shape[0]
    if rs.shared_prefix:
        doc_hidden_bsd, doc_kv = model(batch["tokens"], batch["positions"], batch["segment_ids"], return_kv=True,
                                       return_hidden=True)
        k, v = doc_kv.k, doc_kv.v
        if stop_prefix_grad:
            k, v = jax.lax.stop_gradient(k), jax.lax.stop_gradient(v)
        return model.init_cache(rows, own_slots), PrefixKV.from_kv(k, v, prefix_len_r), doc_hidden_bsd
    doc_tokens_rs = jnp.repeat(batch["tokens"], rs.branches_per_doc, axis=0)
    cache = model.init_cache(rows, doc_tokens_rs.shape[1] + own_slots)
    _, cache = model.extend(doc_tokens_rs, cache, num_new_b=prefix_len_r, return_hidden=True)
    if stop_prefix_grad:
        cache = jax.lax.stop_gradient(cache)
    return cache, None, None


def thought_logprobs(model, batch: dict, positions_bk: jax.Array, thoughts_rl: jax.Array, rs: RolloutSettings,
                     stop_prefix_grad: bool = False) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """Teacher-forced log pi(c_u | x_<t, <think>, c_<u) of every thought token, in the rollout's layout.

    `thoughts_rl` are the sampled tokens c_1 .. c_L (padded); the branch input is `<think> c_1 .. c_{L-1}`. The
    distribution is the sampler's scored one: temperature `rs.logprob_temperature`, `</think>` banned before
    `rs.min_thought_tokens`. Log-probs come from the hidden states in chunks of `rs.logits_chunk_tokens`.
    Returns ([R, L] log-probs, [R, L] entropies (no gradient), [B, S, D] document hidden states or None (naive)).
    """
    rows, length = thoughts_rl.shape
    prefix_len_r = jnp.repeat(positions_bk.reshape(-1), rs.group_size)
    cache, prefix, doc_hidden_bsd = branch_context(model, batch, prefix_len_r, rs, own_slots=length,
                                                   stop_prefix_grad=stop_prefix_grad)
    inputs_rl = jnp.concatenate([jnp.full((rows, 1), rs.think_id, jnp.int32), thoughts_rl[:, :-1]], axis=1)
    hidden_rld, _ = model.extend(inputs_rl, cache, prefix=prefix, return_hidden=True)
    logp_rl, entropy_rl = hidden_logprobs(
        model.logits_from_hidden, hidden_rld, thoughts_rl, chunk_tokens=rs.logits_chunk_tokens,
        temperature=rs.logprob_temperature, banned_x=(jnp.arange(length) < rs.min_thought_tokens)[None, :],
        banned_id=rs.end_think_id)
    return logp_rl, entropy_rl, doc_hidden_bsd
