"""The GRPO objective (post-training with verifier rewards, ../shared/spec/CONTROLLED.md).

Shapes: `B` prompts, `R` rollouts per prompt (GRPOConfig.num_rollouts), `L` response tokens (padded to the cap).

    advantage  A_i = (r_i - mean_j r_j) / (std_j r_j + eps)       (std: ddof 1, as verl; or no division)
    loss       agg(-min(rho A, clip(rho, 1-eps_low, 1+eps_high) A)) + kl_beta agg(k3) - entropy_coef agg(H)

`agg` is "token_mean" (all response tokens of the batch weigh the same), "seq_mean" (each response weighs the
same) or "constant_length" (Dr.GRPO: token sum / (responses x max_new_tokens), with normalize_adv_std=False).
k3 = exp(d) - d - 1 with d = logp_ref - logp_new, the low-variance KL to the frozen reference.

`grpo_loss` computes the advantages from the rewards of whole groups. A trainer that splits a rollout batch into
minibatches across the members of a group computes `grpo_advantages` once over the full batch and calls
`policy_gradient.clipped_policy_loss` on each minibatch instead.
"""

from __future__ import annotations

import jax

from rlpjax.objectives.policy_gradient import clipped_policy_loss, group_advantages, group_reward_metrics


def grpo_advantages(rewards_br: jax.Array, *, normalize_std: bool, eps: float = 1e-6) -> jax.Array:
    """A = r - mean over the rollouts of the prompt, divided by (std (ddof 1) + eps) when normalize_std.

    rewards_br: [B, R] (any leading axes), R >= 2. Returns [B, R] float32, stop-gradient'ed.
    """
    return group_advantages(rewards_br, leave_one_out=False, normalize_std=normalize_std, eps=eps)


def grpo_loss(
    logp_new_brl: jax.Array,
    logp_old_brl: jax.Array,
    response_mask_brl: jax.Array,
    rewards_br: jax.Array,
    *,
    eps_low: float,
    eps_high: float,
    kl_beta: float,
    aggregation: str,
    normalize_adv_std: bool = True,
    adv_eps: float = 1e-6,
    entropy_coef: float = 0.0,
    logp_ref_brl: jax.Array | None = None,
    entropy_brl: jax.Array | None = None,
    truncated_br: jax.Array | None = None,
    length_cap: int | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The GRPO loss for one rollout batch -> (loss, metrics).

    logp_new_brl: [B, R, L] log pi_theta of each response token (with gradient).
    logp_old_brl: [B, R, L] log-probs of the behaviour policy that sampled the responses.
    response_mask_brl: [B, R, L] bool, True on response tokens (False on the prompt side and on padding).
    rewards_br: [B, R] verifier rewards.
    logp_ref_brl: [B, R, L] frozen-reference log-probs (needed when kl_beta > 0).
    entropy_brl: [B, R, L] per-token policy entropies (needed when entropy_coef != 0; reported when given).
    truncated_br: bool [B, R], responses cut at max_new_tokens (gives `truncated_frac`).
    length_cap: max_new_tokens, the normaliser of the "constant_length" (Dr.GRPO) aggregation.

    Metrics: those of `policy_gradient.clipped_policy_loss` (length_mean is the response length) and of
    `policy_gradient.group_reward_metrics` over the prompts.
    """
    advantages_br = grpo_advantages(rewards_br, normalize_std=normalize_adv_std, eps=adv_eps)
    loss, metrics = clipped_policy_loss(
        logp_new_brl,
        logp_old_brl,
        response_mask_brl,
        advantages_br,
        eps_low=eps_low,
        eps_high=eps_high,
        aggregation=aggregation,
        kl_beta=kl_beta,
        logp_ref_xl=logp_ref_brl,
        entropy_xl=entropy_brl,
        entropy_coef=entropy_coef,
        truncated_x=truncated_br,
        length_cap=length_cap,
    )
    metrics |= group_reward_metrics(rewards_br)
    return loss, metrics
