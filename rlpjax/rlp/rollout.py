"""RLP rollouts: choose positions, sample thoughts on shared-prefix branches, score them (no gradient).

For a batch of B documents, K positions each and G thoughts per position there are R = B*K*G branch rows, grouped
contiguously per document (row r: document r // (K*G), position slot (r // G) % K). One pass of the EMA teacher
gives S_ema at every position; one teacher-forced pass of the policy gives the documents' keys/values, which every
branch of the document attends to up to its own position t (a `PrefixKV`: never copied per branch, never
re-encoded). Each branch decodes `<think> c_1 .. c_n` (until `</think>` or the cap), then is extended by
`</think> x_t .. x_{t+h-1}` on the same cache to give S_pred.

`shared_prefix=False` is the naive layout of the public PyTorch prototypes, kept for the benchmark: every branch row
holds its own copy of `x_<t`, prefilled (re-encoded) per branch. Both layouts run the same functions below.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from rlpjax.model.kv_cache import KVCache, PrefixKV
from rlpjax.objectives.logprobs import hidden_logprobs
from rlpjax.rlp.branches import branch_context, thought_logprobs
from rlpjax.rlp.settings import RolloutSettings
from rlpjax.rlp.positions import select_positions
from rlpjax.sampling import SampleOutput, sample_with_cache


def map_documents(fn, tree: dict, docs_per_micro: int):
    """fn over micro-batches of `docs_per_micro` documents (every array leads with B), by `lax.map`, re-joined.

    One micro-batch (docs_per_micro == B) calls fn directly. Memory then scales with the micro-batch, not B.
    """
    num_docs = jax.tree.leaves(tree)[0].shape[0]
    if docs_per_micro >= num_docs:
        return fn(tree)
    n = num_docs // docs_per_micro
    split = jax.tree.map(lambda x: x.reshape((n, docs_per_micro) + x.shape[1:]), tree)
    return jax.tree.map(lambda x: x.reshape((num_docs,) + x.shape[2:]), jax.lax.map(fn, split))


def next_token_logprobs(model, hidden_bsd: jax.Array, tokens_bs: jax.Array, rs: RolloutSettings) -> jax.Array:
    """[B, S]: entry t is log p(x_t | x_<t) (temperature 1) from final hidden states; column 0 (no context) is 0."""
    logp_b_s1, _ = hidden_logprobs(model.logits_from_hidden, hidden_bsd[:, :-1], tokens_bs[:, 1:],
                                   chunk_tokens=rs.logits_chunk_tokens)
    return jnp.pad(logp_b_s1, ((0, 0), (1, 0)))


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class SampledBranches:
    """Stage one of a rollout: where each branch thinks and what it thought, with the cache to score it on."""

    s_ema_bs: jax.Array
    """[B, S] log p_ema(x_t | x_<t) at every position (column 0 is 0)."""
    positions_bk: jax.Array
    """[B, K] chosen positions t (predict x_t after thinking on x_<t)."""
    valid_bk: jax.Array
    """[B, K] False for padded positions of short documents."""
    thoughts: SampleOutput
    """The R = B*K*G sampled thoughts (tokens, lengths, log-probs, stop flags)."""
    cache: KVCache
    """The branches' caches after sampling (context, `<think>`, thought tokens)."""
    prefix: PrefixKV | None
    """The shared document prefix (None in the naive layout)."""


def choose_positions(teacher, batch: dict, key: jax.Array, rs: RolloutSettings):
    """S_ema [B, S] from the teacher (micro-batched by documents), the positions [B, K] and their validity."""
    s_ema_bs = map_documents(
        lambda d: next_token_logprobs(teacher, teacher(d["tokens"], d["positions"], d["segment_ids"],
                                                       return_hidden=True), d["tokens"], rs),
        {k: batch[k] for k in ("tokens", "positions", "segment_ids")}, rs.docs_per_microbatch(batch["tokens"].shape[0]))
    positions_bk, valid_bk = select_positions(rs.position_strategy, batch["lengths"], rs.positions_per_doc, key,
                                              ema_nll_bt=-s_ema_bs, tokens_bt=batch["tokens"],
                                              marker_id=rs.position_token_id)
    return s_ema_bs, positions_bk, valid_bk


def row_keys(key: jax.Array, rows: int) -> jax.Array:
    """One sampling key per branch row: fold_in(key, r), so a row's thought does not depend on the micro-batching."""
    return jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(rows))


def sample_thoughts(model, batch: dict, positions_bk: jax.Array, keys_r: jax.Array, rs: RolloutSettings):
    """G thoughts per position on shared-prefix branches -> (SampleOutput, cache, prefix)."""
    rows = positions_bk.size * rs.group_size
    L, h = rs.max_thought_tokens, rs.horizon
    prefix_len_r = jnp.repeat(positions_bk.reshape(-1), rs.group_size)
    # Prompt `<think>` on every branch; leave room for `</think> x_t .. x_{t+h-1}` after the thought.
    cache, prefix, _ = branch_context(model, batch, prefix_len_r, rs, own_slots=1 + L + 1 + h)
    think_r1 = jnp.full((rows, 1), rs.think_id, jnp.int32)
    thoughts, cache = sample_with_cache(model, think_r1, jnp.ones((rows,), jnp.int32), keys_r, rs.sampling(),
                                        prefix=prefix, cache=cache)
    return thoughts, cache, prefix


def sample_branches(model, teacher, batch: dict, key: jax.Array, rs: RolloutSettings) -> SampledBranches:
    """S_ema from the teacher, positions, then G thoughts per position on shared-prefix branches (one batch)."""
    position_key, sample_key = jax.random.split(key)
    s_ema_bs, positions_bk, valid_bk = choose_positions(teacher, batch, position_key, rs)
    keys_r = row_keys(sample_key, positions_bk.size * rs.group_size)
    thoughts, cache, prefix = sample_thoughts(model, batch, positions_bk, keys_r, rs)
    return SampledBranches(s_ema_bs, positions_bk, valid_bk, thoughts, cache, prefix)


def score_branches(model, batch: dict, sampled: SampledBranches, rs: RolloutSettings) -> dict:
    """S_pred by extending every branch with `</think> x_t .. x_{t+h-1}` on its own cache; the rollout batch.

    Each row is first rewound to just after its thought (a sampled `</think>` is dropped and re-appended, so cut and
    finished thoughts are scored alike, and pads written after a stop are overwritten).
    """
    tokens_bs, lengths_b = batch["tokens"], batch["lengths"]
    B, S = tokens_bs.shape
    K, G, h = rs.positions_per_doc, rs.group_size, rs.horizon
    rows = B * K * G
    out = sampled.thoughts
    prefix_len_r = jnp.repeat(sampled.positions_bk.reshape(-1), G)
    thought_end_r = out.lengths_b - out.stopped_b.astype(jnp.int32)
    context_r = jnp.zeros_like(prefix_len_r) if rs.shared_prefix else prefix_len_r  # cached before `<think>`
    cache = dataclasses.replace(sampled.cache, lengths=context_r + 1 + thought_end_r)
    doc_index_r = jnp.arange(rows) // (K * G)
    target_index_rh = prefix_len_r[:, None] + jnp.arange(h)[None, :]
    horizon_mask_rh = target_index_rh < lengths_b[doc_index_r][:, None]
    targets_rh = tokens_bs[doc_index_r[:, None], jnp.minimum(target_index_rh, S - 1)]
    score_in_rh = jnp.concatenate([jnp.full((rows, 1), rs.end_think_id, jnp.int32), targets_rh[:, :-1]], axis=1)
    score_hidden_rhd, _ = model.extend(score_in_rh, cache, prefix=sampled.prefix, return_hidden=True)
    s_pred_rh, _ = hidden_logprobs(model.logits_from_hidden, score_hidden_rhd, targets_rh,
                                   chunk_tokens=rs.logits_chunk_tokens)

    L = out.tokens_bl.shape[1]
    to_bkg = lambda x: x.reshape((B, K, G) + x.shape[1:])  # noqa: E731
    first_of_group = jnp.arange(0, rows, G)
    s_ema_rh = sampled.s_ema_bs[doc_index_r[:, None], jnp.minimum(target_index_rh, S - 1)]
    result = dict(batch)
    result.update(
        positions_bk=sampled.positions_bk,
        position_valid_bk=sampled.valid_bk,
        thoughts_bkgl=to_bkg(out.tokens_bl),
        thought_mask_bkgl=to_bkg(jnp.arange(L)[None, :] < out.lengths_b[:, None]),
        truncated_bkg=to_bkg(~out.stopped_b),
        logp_old_bkgl=to_bkg(out.logprobs_model_bl),  # at rs.logprob_temperature
        s_pred_bkgh=to_bkg(s_pred_rh),
        s_ema_bkh=s_ema_rh[first_of_group].reshape(B, K, h),
        horizon_mask_bkh=horizon_mask_rh[first_of_group].reshape(B, K, h),
    )
    return result


def rollout(graphdef: nnx.GraphDef, params, ema_params, ref_params, batch: dict, key: jax.Array,
            rs: RolloutSettings) -> dict:
    """Positions, thoughts, behaviour log-probs and scores for one document batch (no gradient).

    Returns a dict whose arrays all lead with the document axis B (so PPO minibatches can slice it):
    the document batch itself, `positions_bk`, `position_valid_bk`, `thoughts_bkgl`, `thought_mask_bkgl`,
    `truncated_bkg`, `logp_old_bkgl` (log-probs of the sampled tokens at `rs.logprob_temperature`), `s_pred_bkgh`,
    `s_ema_bkh`, `horizon_mask_bkh`, and `logp_ref_bkgl` when a reference is used.

    With `rs.microbatch_rows` the teacher pass and the branches (sampling, scoring, reference) run over micro-batches
    of whole documents (`microbatch_rows / (K*G)` documents each, a `lax.map`), so memory scales with the
    micro-batch. Positions are chosen for the whole batch and every row samples with its own key, so the result is
    the same for any micro-batching (tested).
    """
    model = nnx.merge(graphdef, params)
    B = batch["tokens"].shape[0]
    position_key, sample_key = jax.random.split(key)
    s_ema_bs, positions_bk, valid_bk = choose_positions(nnx.merge(graphdef, ema_params), batch, position_key, rs)
    keys_r = row_keys(sample_key, B * rs.branches_per_doc)
    per_doc = dict(batch, s_ema_bs=s_ema_bs, positions_bk=positions_bk, valid_bk=valid_bk,
                   keys_bx=keys_r.reshape((B, rs.branches_per_doc) + keys_r.shape[1:]))
    ref_model = nnx.merge(graphdef, ref_params) if rs.with_reference else None

    def branches(d: dict) -> dict:
        docs = {k: d[k] for k in batch}
        keys = d["keys_bx"].reshape((-1,) + d["keys_bx"].shape[2:])
        thoughts, cache, prefix = sample_thoughts(model, docs, d["positions_bk"], keys, rs)
        sampled = SampledBranches(d["s_ema_bs"], d["positions_bk"], d["valid_bk"], thoughts, cache, prefix)
        result = score_branches(model, docs, sampled, rs)
        if rs.with_reference:
            b, K, G, L = result["thoughts_bkgl"].shape
            logp_ref_rl, _, _ = thought_logprobs(ref_model, docs, d["positions_bk"], thoughts.tokens_bl, rs)
            result["logp_ref_bkgl"] = logp_ref_rl.reshape(b, K, G, L)
        return result

    return jax.lax.stop_gradient(map_documents(branches, per_doc, rs.docs_per_microbatch(B)))
