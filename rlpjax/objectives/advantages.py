"""Group advantage estimators, registered by name: rewards [..., G] of a group's samples -> advantages [..., G].

`G` is the group axis (RLP: thoughts at one position; GRPO: rollouts of one prompt). With r the group's rewards:

| name            | A_i                                                   | used by                   |
|-----------------|-------------------------------------------------------|---------------------------|
| `group_mean`    | r_i - mean_j r_j                                      | GRPO, Dr.GRPO, DAPO, GSPO |
| `leave_one_out` | r_i - mean_{j != i} r_j = G/(G-1) (r_i - mean_j r_j)  | RLP (the paper), RLOO     |

With `normalize_std` either is divided by (std_j r_j + eps), the unbiased sample standard deviation (ddof 1), as
verl's GRPO; eps keeps a group whose rewards are all equal at advantage 0 instead of NaN. Advantages are constants
w.r.t. the parameters (stop-gradient'ed here). Add one with `@register_advantage("name")` and its name in
`config.Advantage`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlpjax.registry import Registry

ADVANTAGES = Registry("advantage estimator")
"""Estimators `fn(rewards_xg float32) -> advantages_xg` by name."""
register_advantage = ADVANTAGES.register


def group_advantages(rewards_xg: jax.Array, estimator: str, *, normalize_std: bool, eps: float = 1e-6) -> jax.Array:
    """Advantages of `estimator` over the last (group) axis, optionally std-normalised (module docstring).

    rewards_xg: [..., G] float, G >= 2. Returns [..., G] float32, stop-gradient'ed.
    """
    estimate = ADVANTAGES.lookup(estimator)
    if rewards_xg.shape[-1] < 2:
        raise ValueError(f"group advantages need at least 2 samples per group, got G = {rewards_xg.shape[-1]}")
    rewards = jax.lax.stop_gradient(jnp.asarray(rewards_xg, jnp.float32))
    advantages = estimate(rewards)
    if normalize_std:
        advantages = advantages / (jnp.std(rewards, axis=-1, ddof=1, keepdims=True) + eps)
    return advantages


@register_advantage("group_mean")
def group_mean(rewards_xg: jax.Array) -> jax.Array:
    """r_i minus the group's mean reward (GRPO's baseline)."""
    return rewards_xg - jnp.mean(rewards_xg, axis=-1, keepdims=True)


@register_advantage("leave_one_out")
def leave_one_out(rewards_xg: jax.Array) -> jax.Array:
    """r_i minus the mean of the other G - 1 rewards (RLOO's baseline; RLP's, which is unbiased for each sample)."""
    group_size = rewards_xg.shape[-1]
    return (rewards_xg - jnp.mean(rewards_xg, axis=-1, keepdims=True)) * (group_size / (group_size - 1))
