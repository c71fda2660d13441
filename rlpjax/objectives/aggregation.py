"""Token aggregations, registered by name: how per-token losses [..., L] become one scalar.

Every aggregation is a ratio: `fn(weighted_xl, weights_xl, length_cap) -> (numerator, denominator)`, the value
being numerator / denominator. The denominator is also what a micro-batch weighs when gradients are accumulated
(`train.update.LOSS_WEIGHT`): summing the weighted numerators and denominators over micro-batches gives the ratio
of the whole batch, so "token_mean" is normalised over every token of the global batch (DAPO's token-level loss),
whatever the gradient accumulation. Under `jax.jit` over a mesh the sums run over all devices' rows already.

| name              | numerator                          | denominator                  | used by               |
|-------------------|------------------------------------|------------------------------|-----------------------|
| `token_mean`      | sum of all valid tokens' values    | valid tokens                 | GRPO (verl), DAPO     |
| `seq_mean`        | sum over sequences of their means  | sequences with a valid token | RLP (paper), GSPO     |
| `constant_length` | sum of all valid tokens' values    | sequences x length cap       | Dr.GRPO               |

Add one with `@register_aggregation("name")` and its name in `config.Aggregation` (see WORKSPACE.md).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from rlpjax.registry import Registry

LOSS_WEIGHT = "loss_weight"
"""The metric a loss returns with the count its value is a mean over (an aggregation's denominator, NTP's
tokens): `train.update.make_update_step` weighs each gradient-accumulation micro-batch by it."""

AGGREGATIONS = Registry("aggregation")
"""Aggregations `fn(weighted_xl, weights_xl, length_cap) -> (numerator, denominator)` by name."""
register_aggregation = AGGREGATIONS.register


def safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """numerator / denominator, and 0 where the denominator is 0 (an empty mask gives a zero metric, not NaN)."""
    nonzero = denominator != 0
    return jnp.where(nonzero, numerator / jnp.where(nonzero, denominator, 1), 0.0)


def aggregate_tokens(values_xl: jax.Array, token_mask_xl: jax.Array, aggregation: str,
                     length_cap: int | None = None) -> tuple[jax.Array, jax.Array]:
    """(value, weight): `aggregation` of per-token values [..., L] over the set entries of `token_mask_xl`.

    Entries outside the mask are never read (NaN or -inf there reaches neither the value nor its gradient).
    `weight` is the ratio's denominator (float32), what the batch weighs in gradient accumulation.
    """
    reduce = AGGREGATIONS.lookup(aggregation)
    weights_xl = token_mask_xl.astype(jnp.float32)
    weighted_xl = jnp.where(weights_xl != 0, values_xl * weights_xl, 0.0)
    numerator, denominator = reduce(weighted_xl, weights_xl, length_cap)
    denominator = jnp.asarray(denominator, jnp.float32)
    return safe_divide(numerator, denominator), jax.lax.stop_gradient(denominator)


@register_aggregation("token_mean")
def token_mean(weighted_xl, weights_xl, length_cap):
    """Every valid token of the batch weighs the same."""
    del length_cap
    return jnp.sum(weighted_xl), jnp.sum(weights_xl)


@register_aggregation("seq_mean")
def seq_mean(weighted_xl, weights_xl, length_cap):
    """Each sequence's mean over its valid tokens, averaged over the sequences with at least one (padding rows do
    not dilute it): every sequence weighs the same, whatever its length."""
    del length_cap
    lengths = jnp.sum(weights_xl, axis=-1)
    per_sequence = safe_divide(jnp.sum(weighted_xl, axis=-1), lengths)
    return jnp.sum(jnp.where(lengths > 0, per_sequence, 0.0)), jnp.sum(lengths > 0)


@register_aggregation("constant_length")
def constant_length(weighted_xl, weights_xl, length_cap):
    """The token sum over (every sequence of the leading axes x `length_cap`), as TRL's dr_grpo divides by rows x
    max_completion_length: a constant, so no sequence's length rescales its tokens."""
    del weights_xl
    if not length_cap:
        raise ValueError("aggregation 'constant_length' needs the length cap (e.g. grpo.max_new_tokens)")
    return jnp.sum(weighted_xl), math.prod(weighted_xl.shape[:-1]) * length_cap

