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
    return logz_x - jnp.sum(probs_xv * scaled_xv, axis=-1)
