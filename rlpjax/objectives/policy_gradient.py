"""The policy-gradient loss RLP and GRPO share: a registered surrogate, a k3 KL, an entropy bonus, reward metrics.

Axis names used below: `...` are leading sequence axes (RLP: [B, K] documents x positions; GRPO: [B] prompts),
`G` the group axis (thoughts per position, rollouts per prompt) and `L` the token axis of a sampled sequence. A
"sequence" is one thought (RLP) or one response (GRPO).

All functions are pure `jax.numpy` and compile under `jax.jit` (string options are static Python values).
Rewards, advantages, behaviour log-probs and reference log-probs are constants w.r.t. the parameters: every one of
them goes through `jax.lax.stop_gradient` here, so a caller cannot leak a gradient through them by accident.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlpjax.objectives.aggregation import LOSS_WEIGHT, aggregate_tokens, safe_divide
from rlpjax.registry import Registry


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


@dataclasses.dataclass(frozen=True)
class SurrogateTerms:
    """What a policy loss gives per token [..., L]: the loss term and the ratio its clip acts on."""

    pg_xl: jax.Array
    """Per-token policy-gradient loss (to be aggregated)."""
    ratio_xl: jax.Array
    """The importance ratio the clip sees (token: rho_u; sequence: s_i on every token of sequence i)."""


POLICY_LOSSES = Registry("policy loss")
"""Surrogates `fn(log_ratio_xl, token_mask_xl, advantages_xl, eps_low, eps_high) -> SurrogateTerms` by name:
log_ratio_xl = logp_new - logp_old (gradient through logp_new), zero off the mask; advantages_xl [..., 1]
broadcast over the tokens. Add a name to `config.PolicyLoss` too."""
register_policy_loss = POLICY_LOSSES.register


def _clipped_surrogate(ratio_xl: jax.Array, advantages_xl: jax.Array, eps_low: float, eps_high: float) -> jax.Array:
    """-min(ratio A, clip(ratio, 1 - eps_low, 1 + eps_high) A): PPO's pessimistic clipped objective, negated."""
    clipped_xl = jnp.clip(ratio_xl, 1.0 - eps_low, 1.0 + eps_high)
    return -jnp.minimum(ratio_xl * advantages_xl, clipped_xl * advantages_xl)


@register_policy_loss("ppo_clip")
def ppo_clip(log_ratio_xl, token_mask_xl, advantages_xl, eps_low, eps_high) -> SurrogateTerms:
    """Token-level ratio rho_u = pi_new(y_u) / pi_old(y_u), clipped per token (PPO, GRPO, DAPO, RLP)."""
    del token_mask_xl
    ratio_xl = jnp.exp(log_ratio_xl)
    return SurrogateTerms(_clipped_surrogate(ratio_xl, advantages_xl, eps_low, eps_high), ratio_xl)


@register_policy_loss("gspo")
def gspo(log_ratio_xl, token_mask_xl, advantages_xl, eps_low, eps_high) -> SurrogateTerms:
    """GSPO's sequence-level ratio s_i = exp(mean_u log rho_u), clipped per sequence (Zheng et al. 2025).

    Written in GSPO-token form: token u carries s_iu = sg(s_i) * pi_new(y_u) / sg(pi_new(y_u)), whose value is s_i
    and whose gradient is s_i * grad log pi_new(y_u); under the "seq_mean" aggregation the gradient equals that of
    mean_i -min(s_i A_i, clip(s_i) A_i). Its clip ranges are much smaller than PPO's (the paper: 3e-4 / 4e-4).
    """
    lengths_x = jnp.sum(token_mask_xl, axis=-1)
    sequence_log_ratio_x = safe_divide(jnp.sum(jnp.where(token_mask_xl, log_ratio_xl, 0.0), axis=-1), lengths_x)
    token_log_ratio_xl = (log_ratio_xl - jax.lax.stop_gradient(log_ratio_xl)
                          + jax.lax.stop_gradient(sequence_log_ratio_x)[..., None])
    ratio_xl = jnp.exp(token_log_ratio_xl)
    return SurrogateTerms(_clipped_surrogate(ratio_xl, advantages_xl, eps_low, eps_high), ratio_xl)


def policy_gradient_loss(
    logp_new_xl: jax.Array,
    logp_old_xl: jax.Array,
    token_mask_xl: jax.Array,
    advantages_x: jax.Array,
    *,
    eps_low: float,
    eps_high: float,
    aggregation: str,
    policy_loss: str = "ppo_clip",
    kl_beta: float = 0.0,
    logp_ref_xl: jax.Array | None = None,
    entropy_xl: jax.Array | None = None,
    entropy_coef: float = 0.0,
    truncated_x: jax.Array | None = None,
    sequence_valid_x: jax.Array | None = None,
    length_cap: int | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The registered policy loss with an optional k3 KL and entropy bonus -> (loss, metrics).

    Per valid token u of sequence i, with the surrogate `policy_loss` (POLICY_LOSSES; "ppo_clip": the token ratio
    rho_u = exp(logp_new_u - logp_old_u)):
        pg_u  = -min(rho_u * A_i, clip(rho_u, 1 - eps_low, 1 + eps_high) * A_i)
        kl_u  = exp(d_u) - d_u - 1,  d_u = logp_ref_u - logp_new_u          (only when kl_beta > 0)
    loss = agg(pg) + kl_beta * agg(kl) - entropy_coef * agg(entropy), `agg` being `aggregation` (AGGREGATIONS).

    Shapes: logp_new_xl / logp_old_xl / logp_ref_xl / entropy_xl / token_mask_xl [..., L]; advantages_x,
    truncated_x (bool: the sequence hit the length cap) and sequence_valid_x (bool) [...]. A token counts when its
    mask is set and its sequence is valid. `length_cap`: the fixed length of the "constant_length" aggregation.
    logp_old, logp_ref and the advantages are stop-gradient'ed.

    Metrics (scalars): loss, pg_loss, kl_ref (agg(kl); 0 without a reference), entropy (agg(entropy), only when
    given), clip_frac_low / clip_frac_high (fraction of valid tokens whose gradient the lower / upper clip removes:
    ratio < 1 - eps_low with A < 0, ratio > 1 + eps_high with A > 0, `ratio` being the surrogate's), approx_kl_old
    (token mean of the k3 estimate of KL(pi_old || pi_new): rho - 1 - log rho), ratio_mean (the surrogate's
    ratio), adv_mean / adv_std (ddof 0) / adv_min / adv_max over valid sequences, length_mean (valid tokens per
    valid sequence), truncated_frac (only when given), num_sequences, num_tokens, and loss_weight (the
    aggregation's denominator: what this batch weighs in gradient accumulation, `train.update.LOSS_WEIGHT`).
    """
    surrogate = POLICY_LOSSES.lookup(policy_loss)
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
    terms = surrogate(log_ratio, token_mask, advantages_xl, eps_low, eps_high)
    pg_loss, weight = aggregate_tokens(terms.pg_xl, token_mask, aggregation, length_cap)
    loss = pg_loss

    metrics: dict[str, jax.Array] = {"pg_loss": pg_loss}
    if logp_ref_xl is not None:
        logp_ref = jnp.where(token_mask, jax.lax.stop_gradient(logp_ref_xl.astype(jnp.float32)), 0.0)
        kl_ref = aggregate_tokens(k3_kl(logp_ref, logp_new_xl), token_mask, aggregation, length_cap)[0]
        loss = loss + kl_beta * kl_ref
    else:
        kl_ref = jnp.zeros((), jnp.float32)
    metrics["kl_ref"] = kl_ref
    if entropy_xl is not None:
        entropy = aggregate_tokens(jnp.where(token_mask, entropy_xl.astype(jnp.float32), 0.0), token_mask, aggregation,
                                   length_cap)[0]
        loss = loss - entropy_coef * entropy
        metrics["entropy"] = entropy

    ratio = jax.lax.stop_gradient(terms.ratio_xl)
    clipped_low = (ratio < 1.0 - eps_low) & (advantages_xl < 0)
    clipped_high = (ratio > 1.0 + eps_high) & (advantages_xl > 0)
    adv_min, adv_max = masked_min_max(advantages, sequence_counted)
    token_ratio = jnp.exp(jax.lax.stop_gradient(log_ratio))
    metrics |= {
        "loss": loss,
        "clip_frac_low": masked_mean(clipped_low, token_mask),
        "clip_frac_high": masked_mean(clipped_high, token_mask),
        "approx_kl_old": masked_mean(token_ratio - 1.0 - jax.lax.stop_gradient(log_ratio), token_mask),
        "ratio_mean": masked_mean(ratio, token_mask),
        "adv_mean": masked_mean(advantages, sequence_counted),
        "adv_std": masked_std(advantages, sequence_counted),
        "adv_min": adv_min,
        "adv_max": adv_max,
        "length_mean": masked_mean(lengths_x.astype(jnp.float32), sequence_counted),
        "num_sequences": jnp.sum(sequence_counted).astype(jnp.float32),
        "num_tokens": jnp.sum(token_mask).astype(jnp.float32),
        LOSS_WEIGHT: weight,
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
