"""Next-token prediction over a packed batch (pretraining, continued pretraining, mid-training).

A row of `T` tokens holds several documents; `segment_ids_bt` numbers them 1, 2, ... and 0 marks padding. The logits
at position t predict token t + 1, and that prediction counts only when tokens t and t + 1 carry the same nonzero
segment id (no prediction across a document boundary, none into or out of padding).

    nll    = sum_t w_t * (-log softmax(logits_t)[x_{t+1}]) / sum_t w_t
    z_loss = sum_t w_t * (log Z_t)^2 / sum_t w_t                  (log Z_t = logsumexp of the logits at t)
    loss   = nll + z_loss_weight * z_loss
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlpjax.objectives.logprobs import target_logprobs
from rlpjax.objectives.aggregation import LOSS_WEIGHT, safe_divide


def next_token_weights(segment_ids_bt: jax.Array, loss_mask_bt: jax.Array | None = None) -> jax.Array:
    """Weights [B, T-1] of the predictions logits[:, t] -> tokens[:, t+1] (see the module docstring).

    loss_mask_bt: optional [B, T] weights aligned with the *predicted* token: loss_mask_bt[b, t] scales the loss of
    predicting tokens[b, t] (column 0 is never predicted and is ignored), e.g. 0 on a prompt to train on answers only.
    """
    target_segment = segment_ids_bt[:, 1:]
    weights = ((target_segment == segment_ids_bt[:, :-1]) & (target_segment != 0)).astype(jnp.float32)
    if loss_mask_bt is not None:
        weights = weights * loss_mask_bt[:, 1:].astype(jnp.float32)
    return weights


def ntp_loss(
    logits_btv: jax.Array,
    tokens_bt: jax.Array,
    segment_ids_bt: jax.Array,
    *,
    z_loss_weight: float = 0.0,
    loss_mask_bt: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean next-token loss over the counted predictions -> (loss, metrics).

    logits_btv: [B, T, V] (any float dtype; reduced in float32); tokens_bt, segment_ids_bt: [B, T] int.
    Metrics: loss (with the z-loss), nll (cross-entropy alone), perplexity = exp(nll), z_loss (mean (log Z)^2,
    unweighted), num_tokens (sum of the prediction weights) and loss_weight (the same count: gradient accumulation
    weighs each micro-batch by it, see train.update).
    """
    # Every column of the logits is scored against the next token (the last column against a dummy 0 with weight 0):
    # slicing the [B, T, V] logits to T-1 columns would copy them, and pad their gradient back, once each per step.
    weights_bt = jnp.pad(next_token_weights(segment_ids_bt, loss_mask_bt), ((0, 0), (0, 1)))
    logp_bt, logz_bt = target_logprobs(logits_btv, jnp.pad(tokens_bt[:, 1:], ((0, 0), (0, 1))))
    num_tokens = jnp.sum(weights_bt)
    nll = safe_divide(jnp.sum(jnp.where(weights_bt != 0, -logp_bt * weights_bt, 0.0)), num_tokens)
    z_loss = safe_divide(jnp.sum(jnp.where(weights_bt != 0, jnp.square(logz_bt) * weights_bt, 0.0)), num_tokens)
    loss = nll + z_loss_weight * z_loss
    metrics = {
        "loss": loss,
        "nll": nll,
        "perplexity": jnp.exp(nll),
        "z_loss": z_loss,
        "num_tokens": num_tokens,
        LOSS_WEIGHT: num_tokens,
    }
    return loss, metrics
