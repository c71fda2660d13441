"""The pieces RLP and GRPO share: group advantages, the clipped surrogate with a k3 KL, and group reward metrics.

Axis names used below: `...` are leading sequence axes (RLP: [B, K] documents x positions; GRPO: [B] prompts),
`G` the group axis (thoughts per position, rollouts per prompt) and `L` the token axis of a sampled sequence. A
"sequence" is one thought (RLP) or one response (GRPO).

All functions are pure `jax.numpy` and compile under `jax.jit` (string options are static Python values).
Rewards, advantages, behaviour log-probs and reference log-probs are constants w.r.t. the parameters: every one of
them goes through `jax.lax.stop_gradient` here, so a caller cannot leak a gradient through them by accident.
"""

from __future__ import annotations

import math
import typing

import jax
import jax.numpy as jnp

from rlpjax.config import Aggregation

AGGREGATIONS = typing.get_args(Aggregation)
"""Ways to reduce per-token losses: "token_mean" (sum over all valid tokens / their count), "seq_mean" (mean over
each sequence's valid tokens, then mean over the valid sequences) or "constant_length" (sum over all valid tokens /
(sequences x a fixed length cap), Dr.GRPO's normaliser: a constant, so it biases no sequence by its length)."""


def safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """numerator / denominator, and 0 where the denominator is 0 (an empty mask gives a zero metric, not NaN)."""
    nonzero = denominator != 0
    return jnp.where(nonzero, numerator / jnp.where(nonzero, denominator, 1), 0.0)


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of `values` over the entries where `mask` (broadcastable, bool or 0/1 weights) is set; 0 if none.

    Entries outside the mask are never read (a NaN or inf there does not leak into the mean).
    """
    weights = jnp.broadcast_to(mask, values.shape).astype(jnp.float32)
    return safe_divide(jnp.sum(jnp.where(weights != 0, values * weights, 0.0)), jnp.sum(weights))


def masked_std(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Population standard deviation (ddof 0) of `values` over the set entries of `mask`; 0 if none."""
    mean = masked_mean(values, mask)
    return jnp.sqrt(masked_mean(jnp.square(values - mean), mask))


def masked_min_max(values: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(min, max) of `values` over the set entries of boolean `mask`; (0, 0) if none is set."""
    mask = jnp.broadcast_to(mask, values.shape)
    any_set = jnp.any(mask)
    low = jnp.min(jnp.where(mask, values, jnp.inf))
    high = jnp.max(jnp.where(mask, values, -jnp.inf))
    return jnp.where(any_set, low, 0.0), jnp.where(any_set, high, 0.0)


def k3_kl(logp_target: jax.Array, logp_sampled: jax.Array) -> jax.Array:
    """Per-token k3 estimator exp(d) - d - 1 with d = logp_target - logp_sampled (Schulman's low-variance form).

    With tokens drawn from the policy that `logp_sampled` scores, its mean estimates KL(sampled || target); it is
    non-negative for every token. Gradients flow through both arguments (callers stop the ones that are constants).
    """
    d = logp_target - logp_sampled
    return jnp.exp(d) - d - 1.0


def group_advantages(
    rewards_xg: jax.Array, *, leave_one_out: bool, normalize_std: bool, eps: float = 1e-6
) -> jax.Array:
    """Advantages over the last (group) axis, as constants w.r.t. the parameters.

    A_i = s * (r_i - mean_j r_j), with s = G / (G - 1) when `leave_one_out` (RLP: this equals r_i minus the mean of
    the other G - 1 rewards) and s = 1 otherwise (GRPO). With `normalize_std` the result is divided by
    (std_j r_j + eps), std being the unbiased sample standard deviation (ddof 1) of the group's rewards, as in
    verl's GRPO; eps (default 1e-6) keeps groups whose rewards are all equal at advantage 0 instead of NaN.

    rewards_xg: [..., G] float, G >= 2. Returns [..., G] float32.
    """
    group_size = rewards_xg.shape[-1]
    if group_size < 2:
        raise ValueError(f"group advantages need at least 2 samples per group, got G = {group_size}")
    rewards = jax.lax.stop_gradient(rewards_xg.astype(jnp.float32))
    advantages = rewards - jnp.mean(rewards, axis=-1, keepdims=True)
    if leave_one_out:
        advantages = advantages * (group_size / (group_size - 1))
    if normalize_std:
        advantages = advantages / (jnp.std(rewards, axis=-1, ddof=1, keepdims=True) + eps)
    return advantages


def aggregate_tokens(values_xl: jax.Array, token_mask_xl: jax.Array, aggregation: str,
                     length_cap: int | None = None) -> jax.Array:
    """Reduce per-token values [..., L] to a scalar with `aggregation` (see AGGREGATIONS).

    "seq_mean" counts only sequences with at least one valid token, so padding rows do not dilute the mean;
    "constant_length" divides by every sequence of the leading axes times `length_cap` (required), as TRL's
    dr_grpo divides by rows x max_completion_length.
    """
    weights = token_mask_xl.astype(jnp.float32)
    weighted_xl = jnp.where(weights != 0, values_xl * weights, 0.0)
    if aggregation == "token_mean":
        return safe_divide(jnp.sum(weighted_xl), jnp.sum(weights))
    if aggregation == "seq_mean":
        lengths = jnp.sum(weights, axis=-1)
        per_sequence = safe_divide(jnp.sum(weighted_xl, axis=-1), lengths)
        return masked_mean(per_sequence, lengths > 0)
    if aggregation == "constant_length":
        if not length_cap:
            raise ValueError("aggregation 'constant_length' needs the length cap (e.g. grpo.max_new_tokens)")
        return jnp.sum(weighted_xl) / (math.prod(values_xl.shape[:-1]) * length_cap)
    raise ValueError(f"unknown aggregation {aggregation!r}; expected one of {AGGREGATIONS}")


def clipped_policy_loss(
    logp_new_xl: jax.Array,
    logp_old_xl: jax.Array,
    token_mask_xl: jax.Array,
    advantages_x: jax.Array,
    *,
    eps_low: float,
    eps_high: float,
    aggregation: str,
    kl_beta: float = 0.0,
    logp_ref_xl: jax.Array | None = None,
    entropy_xl: jax.Array | None = None,
    entropy_coef: float = 0.0,
    truncated_x: jax.Array | None = None,
    sequence_valid_x: jax.Array | None = None,
    length_cap: int | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The clipped policy-gradient loss with an optional k3 KL and entropy bonus -> (loss, metrics).

    Per valid token u of sequence i: rho_u = exp(logp_new_u - logp_old_u) and
        pg_u  = -min(rho_u * A_i, clip(rho_u, 1 - eps_low, 1 + eps_high) * A_i)
        kl_u  = exp(d_u) - d_u - 1,  d_u = logp_ref_u - logp_new_u          (only when kl_beta > 0)
    loss = agg(pg) + kl_beta * agg(kl) - entropy_coef * agg(entropy), `agg` being `aggregation`.

    Shapes: logp_new_xl / logp_old_xl / logp_ref_xl / entropy_xl / token_mask_xl [..., L]; advantages_x,
    truncated_x (bool: the sequence hit the length cap) and sequence_valid_x (bool) [...]. A token counts when its
    mask is set and its sequence is valid. `length_cap`: the fixed length of the "constant_length" aggregation.
    logp_old, logp_ref and the advantages are stop-gradient'ed.

    Metrics (scalars): loss, pg_loss, kl_ref (agg(kl); 0 without a reference), entropy (agg(entropy), only when
    given), clip_frac_low / clip_frac_high (fraction of valid tokens whose gradient the lower / upper clip removes:
    rho < 1 - eps_low with A < 0, rho > 1 + eps_high with A > 0), approx_kl_old (token mean of the k3 estimate of
    KL(pi_old || pi_new): rho - 1 - log rho), ratio_mean, adv_mean / adv_std (ddof 0) / adv_min / adv_max over valid
    sequences, length_mean (valid tokens per valid sequence), truncated_frac (only when given), num_sequences,
    num_tokens.
    """
    if kl_beta != 0.0 and logp_ref_xl is None:
        raise ValueError("kl_beta > 0 needs the reference log-probs logp_ref_xl")
    if entropy_coef != 0.0 and entropy_xl is None:
        raise ValueError("entropy_coef != 0 needs the per-token entropies entropy_xl")
    if sequence_valid_x is None:
        sequence_valid_x = jnp.ones(advantages_x.shape, dtype=bool)
    token_mask = token_mask_xl.astype(bool) & sequence_valid_x[..., None]
    lengths_x = jnp.sum(token_mask, axis=-1)
    sequence_counted = sequence_valid_x & (lengths_x > 0)

    # Masked-out entries are replaced by constants before any arithmetic, so garbage there (NaN rewards of padded
    # positions, -inf log-probs of padding tokens) reaches neither the loss nor its gradient.
    logp_new_xl = jnp.where(token_mask, logp_new_xl.astype(jnp.float32), 0.0)
    advantages = jnp.where(sequence_valid_x, jax.lax.stop_gradient(advantages_x.astype(jnp.float32)), 0.0)
    advantages_xl = advantages[..., None]
    log_ratio = logp_new_xl - jnp.where(token_mask, jax.lax.stop_gradient(logp_old_xl.astype(jnp.float32)), 0.0)
    ratio = jnp.exp(log_ratio)
    clipped_ratio = jnp.clip(ratio, 1.0 - eps_low, 1.0 + eps_high)
    pg_xl = -jnp.minimum(ratio * advantages_xl, clipped_ratio * advantages_xl)
    pg_loss = aggregate_tokens(pg_xl, token_mask, aggregation, length_cap)
    loss = pg_loss

    metrics: dict[str, jax.Array] = {"pg_loss": pg_loss}
    if logp_ref_xl is not None:
        logp_ref = jnp.where(token_mask, jax.lax.stop_gradient(logp_ref_xl.astype(jnp.float32)), 0.0)
        kl_ref = aggregate_tokens(k3_kl(logp_ref, logp_new_xl), token_mask, aggregation, length_cap)
        loss = loss + kl_beta * kl_ref
    else:
        kl_ref = jnp.zeros((), jnp.float32)
    metrics["kl_ref"] = kl_ref
    if entropy_xl is not None:
        entropy = aggregate_tokens(jnp.where(token_mask, entropy_xl.astype(jnp.float32), 0.0), token_mask, aggregation,
                                   length_cap)
        loss = loss - entropy_coef * entropy
        metrics["entropy"] = entropy

    clipped_low = (ratio < 1.0 - eps_low) & (advantages_xl < 0)
    clipped_high = (ratio > 1.0 + eps_high) & (advantages_xl > 0)
    adv_min, adv_max = masked_min_max(advantages, sequence_counted)
    metrics |= {
        "loss": loss,
        "clip_frac_low": masked_mean(clipped_low, token_mask),
        "clip_frac_high": masked_mean(clipped_high, token_mask),
        "approx_kl_old": jax.lax.stop_gradient(masked_mean(ratio - 1.0 - log_ratio, token_mask)),
        "ratio_mean": jax.lax.stop_gradient(masked_mean(ratio, token_mask)),
        "adv_mean": masked_mean(advantages, sequence_counted),
        "adv_std": masked_std(advantages, sequence_counted),
        "adv_min": adv_min,
        "adv_max": adv_max,
        "length_mean": masked_mean(lengths_x.astype(jnp.float32), sequence_counted),
        "num_sequences": jnp.sum(sequence_counted).astype(jnp.float32),
        "num_tokens": jnp.sum(token_mask).astype(jnp.float32),
    }
    if truncated_x is not None:
        metrics["truncated_frac"] = masked_mean(truncated_x.astype(jnp.float32), sequence_counted)
    return loss, metrics


def group_reward_metrics(rewards_xg: jax.Array, group_valid_x: jax.Array | None = None) -> dict[str, jax.Array]:
    """Reward statistics over the valid groups of rewards_xg [..., G] (group_valid_x: bool [...], default all).

    reward_mean, reward_std (population, ddof 0, over all rewards of valid groups), best_of_group_gain (mean over
    valid groups of max_i r_i - mean_i r_i: what picking the best of G samples would add over an average sample),
    reward_group_std (mean over valid groups of the within-group population std: the signal the advantages see) and
    no_signal_group_frac (fraction of valid groups whose G rewards are all equal, so every advantage is 0).
    """
    rewards = jax.lax.stop_gradient(rewards_xg.astype(jnp.float32))
    if group_valid_x is None:
        group_valid_x = jnp.ones(rewards.shape[:-1], dtype=bool)
    group_mean = jnp.mean(rewards, axis=-1)
    group_max = jnp.max(rewards, axis=-1)
    group_min = jnp.min(rewards, axis=-1)
    return {
        "reward_mean": masked_mean(rewards, group_valid_x[..., None]),
        "reward_std": masked_std(rewards, group_valid_x[..., None]),
        "best_of_group_gain": masked_mean(group_max - group_mean, group_valid_x),
        "reward_group_std": masked_mean(jnp.std(rewards, axis=-1), group_valid_x),
        "no_signal_group_frac": masked_mean((group_max == group_min).astype(jnp.float32), group_valid_x),
    }
