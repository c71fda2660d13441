"""Per-token log-probabilities and entropies from logits, in float32 whatever the logits' dtype.

Shared by the next-token loss and by the RL train steps (which turn the policy's logits into the logp_new, logp_ref
and entropy arrays the objectives take). Only [..., V] -> [...] reductions are materialised: the full log-softmax
is never stored, which matters when V is large.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
    banned_x: jax.Array | None = None, banned_id: int = -1,
) -> tuple[jax.Array, jax.Array]:
    """(log-prob of each target, entropy without gradient) from hidden states, `chunk_tokens` tokens at a time.

    project: [n, D] -> [n, V] float32 logits (the model's `logits_from_hidden`); hidden_xd: [..., D]; targets_x:
    [...] ids. Both under softmax(logits / temperature); where `banned_x` is True, token `banned_id` has logit -inf
    (the sampler's `min_new_tokens` mask). With chunk_tokens > 0 and more tokens than that, the tokens are flattened
    and projected chunk by chunk in a `lax.map` whose body is rematerialised (`jax.checkpoint`), so neither the
    forward nor the backward holds more than one chunk's [chunk_tokens, V] logits; otherwise one projection (the
    same arithmetic per token).
    """
    lead = targets_x.shape
    hidden_nd = hidden_xd.reshape(-1, hidden_xd.shape[-1])
    targets_n = targets_x.reshape(-1)
    banned_n = jnp.zeros(targets_n.shape, bool) if banned_x is None else jnp.broadcast_to(banned_x, lead).reshape(-1)

    def stats(h_nd, t_n, b_n):
        logits_nv = project(h_nd)
        if banned_x is not None:
            logits_nv = jnp.where(b_n[:, None] & (jnp.arange(logits_nv.shape[-1]) == banned_id), -jnp.inf, logits_nv)
        logp_n, _ = target_logprobs(logits_nv, t_n, temperature=temperature)
        return logp_n, token_entropy(jax.lax.stop_gradient(logits_nv), temperature=temperature)

    n = targets_n.shape[0]
    if chunk_tokens <= 0 or n <= chunk_tokens:
        logp_n, entropy_n = stats(hidden_nd, targets_n, banned_n)
    else:
        chunks = -(-n // chunk_tokens)
        pad = chunks * chunk_tokens - n
        to_chunks = lambda x: jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(  # noqa: E731
            (chunks, chunk_tokens) + x.shape[1:])
        logp_cn, entropy_cn = jax.lax.map(lambda args: jax.checkpoint(stats)(*args),
                                          (to_chunks(hidden_nd), to_chunks(targets_n), to_chunks(banned_n)))
        logp_n, entropy_n = logp_cn.reshape(-1)[:n], entropy_cn.reshape(-1)[:n]
    return logp_n.reshape(lead), entropy_n.reshape(lead)
