"""Per-token log-probabilities and entropies from logits, in float32 whatever the logits' dtype.

Shared by the next-token loss and by the RL train steps (which turn the policy's logits into the logp_new, logp_ref
and entropy arrays the objectives take). Only [..., V] -> [...] reductions are materialised: the full log-softmax
is never stored, which matters when V is large.
"""

from __future__ import annotations

import typing

import jax
import jax.numpy as jnp

from rlpjax.config import RatioLogprobs


RATIO_LOGPROBS = typing.get_args(RatioLogprobs)
"""`rlp.pg.ratio_logprobs` / `grpo.pg.ratio_logprobs`: the old, new and reference log-probs of the PPO ratio under
softmax(logits / temperature) (the sampled distribution, as TRL scores it; top-k / top-p are not applied) or under
the model itself (temperature 1)."""


def ratio_temperature(ratio_logprobs: str, sampling_temperature: float) -> float:
    """Temperature of the ratio's log-probs: the sampling one for "sampling" (1 when sampling is greedy), else 1."""
    return sampling_temperature if ratio_logprobs == "sampling" and sampling_temperature > 0 else 1.0


def target_logprobs(
    logits_xv: jax.Array, targets_x: jax.Array, *, temperature: float = 1.0
) -> tuple[jax.Array, jax.Array]:
    """log softmax(logits / temperature)[target] and the log-partition log sum_v exp(logits_v / temperature).

    logits_xv: [..., V] any float dtype; targets_x: [...] int token ids. Returns (logp_x, logz_x), both float32.
    The temperature is the sampler's: the behaviour policy of tempered sampling is softmax(logits / temperature).
    """
    scaled_xv = logits_xv.astype(jnp.float32) / temperature
    logz_x = jax.nn.logsumexp(scaled_xv, axis=-1)
    target_logit_x = jnp.take_along_axis(scaled_xv, targets_x[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return target_logit_x - logz_x, logz_x


def token_entropy(logits_xv: jax.Array, *, temperature: float = 1.0) -> jax.Array:
    """Entropy -sum_v p_v log p_v of softmax(logits / temperature) per position: [..., V] -> [...] float32."""
    scaled_xv = logits_xv.astype(jnp.float32) / temperature
    logz_x = jax.nn.logsumexp(scaled_xv, axis=-1)
    probs_xv = jnp.exp(scaled_xv - logz_x[..., None])
    return logz_x - jnp.sum(jnp.where(probs_xv > 0, probs_xv * scaled_xv, 0.0), axis=-1)  # masked (-inf) logits: 0


def hidden_logprobs(
    project, hidden_xd: jax.Array, targets_x: jax.Array, *, chunk_tokens: int = 0, temperature: float = 1.0,
    banned_x: jax.Array | None = None, banned_id: int = -1, entropy_grad: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """(log-prob of each target, entropy) from hidden states, about `chunk_tokens` tokens at a time.

    project: [..., D] -> [..., V] float32 logits (the model's `logits_from_hidden`); hidden_xd: [rows, ..., D];
    targets_x: [rows, ...] ids. Both under softmax(logits / temperature); where `banned_x` is True, token
    `banned_id` has logit -inf (the sampler's `min_new_tokens` mask). With chunk_tokens > 0 and more tokens than
    that, each row's tokens are flattened and every chunk takes the same max(1, chunk_tokens // rows) columns of
    all rows, projected in a `lax.map` whose body is rematerialised (`jax.checkpoint`): neither the forward nor the
    backward holds more than one chunk's [rows, columns, V] logits, and a batch sharded over its rows stays so
    (chunks of the flattened rows x columns would make every device project every token). Otherwise one projection
    (the same arithmetic per token). The entropy carries no gradient unless `entropy_grad` (an entropy bonus in the
    loss needs one; without it the backward skips the entropy's [chunk, V] terms).
    """
    lead = targets_x.shape
    rows = lead[0] if len(lead) > 1 else 1
    hidden_rnd = hidden_xd.reshape(rows, -1, hidden_xd.shape[-1])
    targets_rn = targets_x.reshape(rows, -1)
    banned_rn = (jnp.zeros(targets_rn.shape, bool) if banned_x is None
                 else jnp.broadcast_to(banned_x, lead).reshape(rows, -1))

    def stats(h_xd, t_x, b_x):
        logits_xv = project(h_xd)
        if banned_x is not None:
            logits_xv = jnp.where(b_x[..., None] & (jnp.arange(logits_xv.shape[-1]) == banned_id), -jnp.inf, logits_xv)
        logp_x, _ = target_logprobs(logits_xv, t_x, temperature=temperature)
        return logp_x, token_entropy(logits_xv if entropy_grad else jax.lax.stop_gradient(logits_xv),
                                     temperature=temperature)

    columns = targets_rn.shape[1]
    if chunk_tokens <= 0 or rows * columns <= chunk_tokens:
        logp_rn, entropy_rn = stats(hidden_rnd, targets_rn, banned_rn)
    else:
        width = max(1, chunk_tokens // rows)
        chunks = -(-columns // width)
        pad = chunks * width - columns

        def to_chunks(x_rn):  # [rows, columns, ...] -> [chunks, rows, width, ...], the last chunk padded
            x_rn = jnp.pad(x_rn, [(0, 0), (0, pad)] + [(0, 0)] * (x_rn.ndim - 2))
            return jnp.moveaxis(x_rn.reshape((rows, chunks, width) + x_rn.shape[2:]), 1, 0)

        def from_chunks(x_crw):  # [chunks, rows, width] -> [rows, columns]
            return jnp.moveaxis(x_crw, 0, 1).reshape(rows, -1)[:, :columns]

        logp_crw, entropy_crw = jax.lax.map(lambda args: jax.checkpoint(stats)(*args),
                                            (to_chunks(hidden_rnd), to_chunks(targets_rn), to_chunks(banned_rn)))
        logp_rn, entropy_rn = from_chunks(logp_crw), from_chunks(entropy_crw)
    return logp_rn.reshape(lead), entropy_rn.reshape(lead)
