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
from rlpjax.objectives.logprobs import target_logprobs
from rlpjax.objectives.positions import select_positions
from rlpjax.sampling import SampleOutput, SamplingSettings, sample_with_cache


@dataclasses.dataclass(frozen=True)
class RolloutSettings:
    """Static settings of one rollout (hashable: one compiled rollout per distinct value)."""

    positions_per_doc: int
    group_size: int
    position_strategy: str
    max_thought_tokens: int
    temperature: float
    top_p: float
    top_k: int
    horizon: int
    think_id: int
    end_think_id: int
    pad_id: int
    shared_prefix: bool = True
    with_reference: bool = False

    @classmethod
    def from_config(cls, rlp, *, think_id: int, end_think_id: int, pad_id: int, shared_prefix: bool = True,
                    with_reference: bool = False) -> "RolloutSettings":
        """The settings an `RLPConfig` asks for, with the thought-token ids of the run's tokenizer."""
        return cls(positions_per_doc=rlp.positions_per_doc, group_size=rlp.group_size,
                   position_strategy=rlp.position_strategy, max_thought_tokens=rlp.max_thought_tokens,
                   temperature=rlp.temperature, top_p=rlp.top_p, top_k=rlp.top_k, horizon=rlp.horizon,
                   think_id=think_id, end_think_id=end_think_id, pad_id=pad_id, shared_prefix=shared_prefix,
                   with_reference=with_reference)

    @property
    def branches_per_doc(self) -> int:
        return self.positions_per_doc * self.group_size

    def sampling(self) -> SamplingSettings:
        return SamplingSettings(max_new_tokens=self.max_thought_tokens, temperature=self.temperature,
                                top_p=self.top_p, top_k=self.top_k, stop_tokens=(self.end_think_id,),
                                pad_id=self.pad_id)


def next_token_logprobs(logits_bsv: jax.Array, tokens_bs: jax.Array) -> jax.Array:
    """[B, S]: entry t is log p(x_t | x_<t); column 0 (no context) is 0."""
    logp_b_s1, _ = target_logprobs(logits_bsv[:, :-1], tokens_bs[:, 1:])
    return jnp.pad(logp_b_s1, ((0, 0), (1, 0)))


def branch_context(model, batch: dict, prefix_len_r: jax.Array, rs: RolloutSettings, own_slots: int,
                   stop_prefix_grad: bool = False) -> tuple[KVCache, PrefixKV | None, jax.Array | None]:
    """The starting cache (and shared prefix) of the R branch rows, each continuing its document after t tokens.

    Shared layout: the documents are encoded once (teacher-forced, differentiable unless `stop_prefix_grad`) and
    returned as a `PrefixKV`, with that pass's document logits [B, S, V]; each row starts with an empty cache of
    `own_slots`. Naive layout: each row's cache is prefilled with its own copy of the document's first t tokens (the
    prefix is re-encoded per branch); no document logits.
    """
    rows = prefix_len_r.shape[0]
    if rs.shared_prefix:
        doc_logits_bsv, doc_kv = model(batch["tokens"], batch["positions"], batch["segment_ids"], return_kv=True)
        k, v = doc_kv.k, doc_kv.v
        if stop_prefix_grad:
            k, v = jax.lax.stop_gradient(k), jax.lax.stop_gradient(v)
        return model.init_cache(rows, own_slots), PrefixKV(k, v, prefix_len_r), doc_logits_bsv
    doc_tokens_rs = jnp.repeat(batch["tokens"], rs.branches_per_doc, axis=0)
    cache = model.init_cache(rows, doc_tokens_rs.shape[1] + own_slots)
    _, cache = model.extend(doc_tokens_rs, cache, num_new_b=prefix_len_r)
    if stop_prefix_grad:
        cache = jax.lax.stop_gradient(cache)
    return cache, None, None


def thought_logprobs(model, batch: dict, positions_bk: jax.Array, thoughts_rl: jax.Array, rs: RolloutSettings,
                     stop_prefix_grad: bool = False) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """Teacher-forced log pi(c_u | x_<t, <think>, c_<u) of every thought token, in the rollout's layout.

    `thoughts_rl` are the sampled tokens c_1 .. c_L (padded); the branch input is `<think> c_1 .. c_{L-1}`.
    Returns ([R, L] log-probs, [R, L, V] thought logits, [B, S, V] document logits or None (naive layout)).
    """
    rows, length = thoughts_rl.shape
    prefix_len_r = jnp.repeat(positions_bk.reshape(-1), rs.group_size)
    cache, prefix, doc_logits_bsv = branch_context(model, batch, prefix_len_r, rs, own_slots=length,
                                                   stop_prefix_grad=stop_prefix_grad)
    inputs_rl = jnp.concatenate([jnp.full((rows, 1), rs.think_id, jnp.int32), thoughts_rl[:, :-1]], axis=1)
    logits_rlv, _ = model.extend(inputs_rl, cache, prefix=prefix)
    logp_rl, _ = target_logprobs(logits_rlv, thoughts_rl)
    return logp_rl, logits_rlv, doc_logits_bsv


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


def sample_branches(model, teacher, batch: dict, key: jax.Array, rs: RolloutSettings) -> SampledBranches:
    """S_ema from one teacher pass, positions, then G thoughts per position on shared-prefix branches."""
    tokens_bs, lengths_b = batch["tokens"], batch["lengths"]
    B = tokens_bs.shape[0]
    K, G, L, h = rs.positions_per_doc, rs.group_size, rs.max_thought_tokens, rs.horizon
    rows = B * K * G
    position_key, sample_key = jax.random.split(key)
    s_ema_bs = next_token_logprobs(teacher(tokens_bs, batch["positions"], batch["segment_ids"]), tokens_bs)
    positions_bk, valid_bk = select_positions(rs.position_strategy, lengths_b, K, position_key,
                                              ema_nll_bt=-s_ema_bs)
    prefix_len_r = jnp.repeat(positions_bk.reshape(-1), G)
    # Prompt `<think>` on every branch; leave room for `</think> x_t .. x_{t+h-1}` after the thought.
    cache, prefix, _ = branch_context(model, batch, prefix_len_r, rs, own_slots=1 + L + 1 + h)
    think_r1 = jnp.full((rows, 1), rs.think_id, jnp.int32)
    thoughts, cache = sample_with_cache(model, think_r1, jnp.ones((rows,), jnp.int32), sample_key, rs.sampling(),
                                        prefix=prefix, cache=cache)
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
    score_logits_rhv, _ = model.extend(score_in_rh, cache, prefix=sampled.prefix)
    s_pred_rh, _ = target_logprobs(score_logits_rhv, targets_rh)

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
        logp_old_bkgl=to_bkg(out.logprobs_model_bl),
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
    `truncated_bkg`, `logp_old_bkgl` (model log-probs of the sampled tokens), `s_pred_bkgh`, `s_ema_bkh`,
    `horizon_mask_bkh`, and `logp_ref_bkgl` when a reference is used.
    """
    model = nnx.merge(graphdef, params)
    sampled = sample_branches(model, nnx.merge(graphdef, ema_params), batch, key, rs)
    result = score_branches(model, batch, sampled, rs)
    if rs.with_reference:
        B, K, G, L = result["thoughts_bkgl"].shape
        logp_ref_rl, _, _ = thought_logprobs(nnx.merge(graphdef, ref_params), batch, sampled.positions_bk,
                                             sampled.thoughts.tokens_bl, rs)
        result["logp_ref_bkgl"] = logp_ref_rl.reshape(B, K, G, L)
    return jax.lax.stop_gradient(result)
