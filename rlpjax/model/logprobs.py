"""Per-token log-probabilities from logits."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def token_logprobs(logits_btv: jnp.ndarray, targets_bt: jnp.ndarray) -> jnp.ndarray:
    """log softmax(logits)[target] per position, float32 [batch, time]."""
    logits = logits_btv.astype(jnp.float32)
    log_z_bt = jax.nn.logsumexp(logits, axis=-1)
    target_logit_bt = jnp.take_along_axis(logits, targets_bt[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return target_logit_bt - log_z_bt
