"""Jitted autoregressive sampling on the training model's own code path.

`sample(graphdef, params, prompt_tokens_bt, prompt_lengths_b, key, settings, prefix=None)` prefills a batch of
right-padded prompts of different lengths into a KV cache, then decodes inside one `jax.lax.while_loop` until every
row has emitted a stop token or `max_new_tokens`. It returns the tokens and, for each, two log-probs:

- `logprobs_sampling`: under the distribution actually sampled from (temperature, top-k and top-p applied), the
  behaviour policy's log-prob as PPO-style ratios need it when sampling is tempered;
- `logprobs_model`: under the model over the full vocabulary at `score_temperature` (default 1: the model itself),
  which a teacher-forced forward recomputes exactly (tested).

`key` is one key, or one key per row ([batch] typed or [batch, 2] raw keys): then row b's draws depend only on its
own key, so a batch split into parts samples exactly what the whole batch samples.

With `prefix` (a `PrefixKV`), rows are RLP branches: row r continues document r // N after its first
`prefix.lengths[r]` tokens, attending to the shared document cache without copying it.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import nnx

from rlpjax.model.kv_cache import KVCache, PrefixKV


@dataclasses.dataclass(frozen=True)
class SamplingSettings:
    """How to sample (hashable: one compiled sampler per distinct settings)."""

    max_new_tokens: int
    """Length cap of the continuation (stop token included)."""
    temperature: float = 1.0
    """Softmax temperature; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus mass; 1.0 disables."""
    top_k: int = 0
    """Keep only the k most likely tokens; 0 disables."""
    stop_tokens: tuple[int, ...] = ()
    """Token ids that end a row (the stop token itself is kept and counted)."""
    pad_id: int = 0
    """Id written after a row has stopped."""
    min_new_tokens: int = 0
    """The stop tokens are masked out (probability 0, in both log-probs) until a row has this many tokens."""
    score_temperature: float = 1.0
    """Temperature of `logprobs_model_bl`: log softmax(logits / score_temperature) over the full vocabulary (1: the
    model itself; the RLP rollout passes its sampling temperature, the tempered distribution TRL scores)."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class SampleOutput:
    """What `sample` returns; positions past a row's length hold `pad_id` and zero log-probs."""

    tokens_bl: jax.Array
    """[batch, max_new_tokens] int32 generated tokens."""
    lengths_b: jax.Array
    """[batch] int32 generated tokens per row (stop token included)."""
    logprobs_sampling_bl: jax.Array
    """[batch, max_new_tokens] float32 log-probs under the tempered / truncated sampling distribution."""
    logprobs_model_bl: jax.Array
    """[batch, max_new_tokens] float32 log-probs under the model at `score_temperature` (full vocabulary)."""
    stopped_b: jax.Array
    """[batch] bool: the row ended with a stop token (False: cut at max_new_tokens)."""


def sampling_logits(logits_bv: jax.Array, settings: SamplingSettings) -> jax.Array:
    """Logits of the distribution sampled from: tempered, then top-k, then top-p masked to -inf."""
    logits_bv = logits_bv.astype(jnp.float32) / max(settings.temperature, 1e-6)
    if settings.top_k > 0:
        kth_b1 = jax.lax.top_k(logits_bv, settings.top_k)[0][:, -1:]
        logits_bv = jnp.where(logits_bv < kth_b1, -jnp.inf, logits_bv)
    if settings.top_p < 1.0:
        sorted_bv = jnp.sort(logits_bv, axis=-1)[:, ::-1]
        probs_bv = jax.nn.softmax(sorted_bv, axis=-1)
        mass_before_bv = jnp.cumsum(probs_bv, axis=-1) - probs_bv
        kept_bv = mass_before_bv < settings.top_p  # the most likely token is always kept
        threshold_b1 = jnp.min(jnp.where(kept_bv, sorted_bv, jnp.inf), axis=-1, keepdims=True)
        logits_bv = jnp.where(logits_bv < threshold_b1, -jnp.inf, logits_bv)
    return logits_bv


def _choose(logits_bv: jax.Array, key: jax.Array, settings: SamplingSettings, step: jax.Array):
    """(token [batch], log-prob under the sampling distribution, log-prob at `score_temperature`).

    `key` is one key, or [batch] keys (row b draws with fold_in(key_b, step)). Before `min_new_tokens` tokens the
    stop tokens' logits are -inf.
    """
    logits_bv = logits_bv.astype(jnp.float32)
    if settings.min_new_tokens > 0 and settings.stop_tokens:
        stop_v = jnp.isin(jnp.arange(logits_bv.shape[-1]), jnp.asarray(settings.stop_tokens))
        logits_bv = jnp.where((step < settings.min_new_tokens) & stop_v, -jnp.inf, logits_bv)
    if settings.temperature == 0.0:
        token_b = jnp.argmax(logits_bv, axis=-1).astype(jnp.int32)
        logp_sampling_b = jnp.zeros(token_b.shape, jnp.float32)
    else:
        tempered_bv = sampling_logits(logits_bv, settings)
        if _per_row(key):
            draw = lambda k, l: jax.random.categorical(jax.random.fold_in(k, step), l)  # noqa: E731
            token_b = jax.vmap(draw)(key, tempered_bv).astype(jnp.int32)
        else:
            token_b = jax.random.categorical(key, tempered_bv, axis=-1).astype(jnp.int32)
        logp_sampling_b = _gather(jax.nn.log_softmax(tempered_bv, axis=-1), token_b)
    logp_model_b = _gather(jax.nn.log_softmax(logits_bv / settings.score_temperature, axis=-1), token_b)
    return token_b, logp_sampling_b, logp_model_b


def _per_row(key: jax.Array) -> bool:
    """True for a batch of keys ([batch] typed or [batch, 2] raw), False for one key."""
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    return key.ndim == (1 if typed else 2)


def _gather(values_bv: jax.Array, index_b: jax.Array) -> jax.Array:
    return jnp.take_along_axis(values_bv, index_b[:, None], axis=-1)[:, 0]


@functools.partial(jax.jit, static_argnames=("graphdef", "settings"))
def sample(graphdef: nnx.GraphDef, params, prompt_tokens_bt: jax.Array, prompt_lengths_b: jax.Array,
           key: jax.Array, settings: SamplingSettings, prefix: PrefixKV | None = None) -> SampleOutput:
    """Sample continuations of right-padded prompts (each row's real tokens are its first prompt_lengths[b])."""
    return sample_with_cache(nnx.merge(graphdef, params), prompt_tokens_bt, prompt_lengths_b, key, settings,
                             prefix)[0]


def sample_with_cache(model, prompt_tokens_bt: jax.Array, prompt_lengths_b: jax.Array, key: jax.Array,
                      settings: SamplingSettings, prefix: PrefixKV | None = None, cache: KVCache | None = None,
                      extra_slots: int = 0) -> tuple[SampleOutput, KVCache]:
    """`sample` for callers inside their own jit that start from, or continue with, the cache (RLP).

    `cache` may already hold context (the prompt is appended after each row's `cache.lengths`); by default a new
    cache of prompt + max_new_tokens + `extra_slots` slots is made. The returned cache holds every row's prompt and
    generated tokens (rows that stopped early also hold pads after their stop token: set `cache.lengths` back to
    continue right after the real tokens).
    """
    batch, prompt_len = prompt_tokens_bt.shape
    steps = settings.max_new_tokens
    if cache is None:
        cache = model.init_cache(batch, prompt_len + steps + extra_slots)
    logits_btv, cache = model.extend(prompt_tokens_bt, cache, num_new_b=prompt_lengths_b, prefix=prefix)
    last_logits_bv = jnp.take_along_axis(logits_btv, (prompt_lengths_b - 1)[:, None, None], axis=1)[:, 0]
    stop_ids = jnp.asarray(settings.stop_tokens or (-1,), jnp.int32)

    def not_done(carry):
        i, _cache, _logits, _out, done_b, _key = carry
        return (i < steps) & ~jnp.all(done_b)

    def decode_one(carry):
        i, cache, logits_bv, out, done_b, key = carry
        key, step_key = (key, key) if _per_row(key) else jax.random.split(key)
        token_b, logp_sampling_b, logp_model_b = _choose(logits_bv, step_key, settings, i)
        live_b = ~done_b
        out = SampleOutput(
            tokens_bl=out.tokens_bl.at[:, i].set(jnp.where(live_b, token_b, settings.pad_id)),
            lengths_b=out.lengths_b + live_b.astype(jnp.int32),
            logprobs_sampling_bl=out.logprobs_sampling_bl.at[:, i].set(jnp.where(live_b, logp_sampling_b, 0.0)),
            logprobs_model_bl=out.logprobs_model_bl.at[:, i].set(jnp.where(live_b, logp_model_b, 0.0)),
            stopped_b=out.stopped_b | (live_b & jnp.isin(token_b, stop_ids)),
        )
        done_b = done_b | out.stopped_b
        next_logits_btv, cache = model.extend(token_b[:, None], cache, prefix=prefix)
        return i + 1, cache, next_logits_btv[:, 0], out, done_b, key

    empty = SampleOutput(
        tokens_bl=jnp.full((batch, steps), settings.pad_id, jnp.int32),
        lengths_b=jnp.zeros((batch,), jnp.int32),
        logprobs_sampling_bl=jnp.zeros((batch, steps), jnp.float32),
        logprobs_model_bl=jnp.zeros((batch, steps), jnp.float32),
        stopped_b=jnp.zeros((batch,), bool),
    )
    carry = (jnp.int32(0), cache, last_logits_bv, empty, jnp.zeros((batch,), bool), key)
    _, cache, _, out, _, _ = jax.lax.while_loop(not_done, decode_one, carry)
    return out, cache
