"""The RLP objective (../shared/spec/RLP.md): information-gain rewards, leave-one-out advantages, clipped loss.

Shapes: `B` documents, `K` positions per document, `G` thoughts per position, `L` thought tokens (padded to the
cap), `h` scored tokens after each thought (the horizon; h = 1 is the paper). The functions accept any leading axes in
place of [B, K] (written `...` below), so a caller may also flatten them.

    reward     r(c) = sum_{j<h} gamma^j (S_pred_j(c) - S_ema_j)                    (constant w.r.t. theta)
    advantage  A_i = G/(G-1) (r_i - mean_j r_j) = r_i - mean_{j != i} r_j          (optionally / (std + eps))
    loss       mean over thoughts of  -(1/|c_i|) sum_u min(rho_u A_i, clip(rho_u, 1-eps_low, 1+eps_high) A_i)
               + kl_beta * the same aggregation of the k3 KL to a frozen reference

That is the paper's choice of the three registered parts (objectives/advantages.py: "leave_one_out";
objectives/aggregation.py: "seq_mean"; objectives/policy_gradient.py: "ppo_clip"); `rlp_loss` takes any other.

S_pred_j(c) = log p_theta(x_{t+j} | x_<t, <think> c </think>, x_t..x_{t+j-1}) and S_ema_j = log p_phi(x_{t+j} |
x_<{t+j}) are scored by the caller (teacher-forced, no gradient); this module only combines them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlpjax.objectives.advantages import group_advantages
from rlpjax.objectives.policy_gradient import group_reward_metrics, masked_mean, policy_gradient_loss


def information_gain_rewards(
    s_pred_xgh: jax.Array,
    s_ema_xh: jax.Array,
    *,
    gamma: float,
    horizon_mask_xh: jax.Array | None = None,
) -> jax.Array:
    """r(c) = sum_{j<h} gamma^j (S_pred_j(c) - S_ema_j) per thought, as a constant w.r.t. the parameters.

    s_pred_xgh: [..., G, h] log-probs of the h scored tokens after each thought (current network).
    s_ema_xh:   [..., h]    log-probs of the same tokens from the EMA teacher without a thought (shared by the group).
    horizon_mask_xh: bool [..., h], False where token t + j does not exist (the document ends first); those terms
        are dropped. Default: all h terms count.
    Returns rewards_xg [..., G] float32.
    """
    horizon = s_pred_xgh.shape[-1]
    gain_xgh = s_pred_xgh.astype(jnp.float32) - s_ema_xh.astype(jnp.float32)[..., None, :]
    discount_h = jnp.asarray(gamma, jnp.float32) ** jnp.arange(horizon, dtype=jnp.float32)
    weights_xh = jnp.broadcast_to(discount_h, s_ema_xh.shape)
    if horizon_mask_xh is not None:
        weights_xh = jnp.where(horizon_mask_xh, weights_xh, 0.0)
    weighted_xgh = jnp.where(weights_xh[..., None, :] != 0, gain_xgh * weights_xh[..., None, :], 0.0)
    return jax.lax.stop_gradient(jnp.sum(weighted_xgh, axis=-1))


def rlp_loss(
    logp_new_xgl: jax.Array,
    logp_old_xgl: jax.Array,
    thought_mask_xgl: jax.Array,
    s_pred_xgh: jax.Array,
    s_ema_xh: jax.Array,
    *,
    gamma: float,
    eps_low: float,
    eps_high: float,
    kl_beta: float = 0.0,
    normalize_adv_std: bool = False,
    adv_eps: float = 1e-6,
    advantage: str = "leave_one_out",
    aggregation: str = "seq_mean",
    policy_loss: str = "ppo_clip",
    length_cap: int | None = None,
    logp_ref_xgl: jax.Array | None = None,
    entropy_xgl: jax.Array | None = None,
    truncated_xg: jax.Array | None = None,
    horizon_mask_xh: jax.Array | None = None,
    position_valid_x: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The RLP loss for one rollout batch -> (loss, metrics).

    logp_new_xgl: [..., G, L] log pi_theta of each thought token (with gradient).
    logp_old_xgl: [..., G, L] log pi_theta_old of the same tokens (the behaviour snapshot that sampled them).
    thought_mask_xgl: [..., G, L] bool, True on the thought tokens that get gradient (ragged lengths).
    s_pred_xgh, s_ema_xh, horizon_mask_xh: see `information_gain_rewards`.
    logp_ref_xgl: [..., G, L] frozen-reference log-probs, needed when kl_beta > 0.
    entropy_xgl: [..., G, L] per-token policy entropies, reported as the `entropy` metric when given.
    truncated_xg: bool [..., G], True for thoughts cut at max_thought_tokens (gives `truncated_frac`).
    position_valid_x: bool [...], False for padded positions (documents with fewer than K valid positions, see
        positions.select_positions); their thoughts are left out of the loss and of every metric.
    advantage / aggregation / policy_loss: registered names (defaults: the paper's); length_cap: the thought
        length cap of the "constant_length" aggregation.

    With the defaults each thought's per-token terms are averaged over its own tokens, then over all valid thoughts
    (the paper's 1/|c_i| normalisation and mean over B*G thoughts). Metrics: those of `policy_gradient_loss` (loss,
    pg_loss, kl_ref, clip fractions, approx_kl_old, advantage stats, length_mean = thought length, truncated_frac,
    entropy, loss_weight), those of `group_reward_metrics` (reward_mean/std, best_of_group_gain, ...), and s_pred_mean / s_ema_mean (mean
    scored log-prob per horizon token over valid positions).
    """
    group_size = s_pred_xgh.shape[-2]
    if position_valid_x is None:
        position_valid_x = jnp.ones(s_ema_xh.shape[:-1], dtype=bool)
    rewards_xg = information_gain_rewards(s_pred_xgh, s_ema_xh, gamma=gamma, horizon_mask_xh=horizon_mask_xh)
    rewards_xg = jnp.where(position_valid_x[..., None], rewards_xg, 0.0)  # padded positions may hold garbage scores
    advantages_xg = group_advantages(rewards_xg, advantage, normalize_std=normalize_adv_std, eps=adv_eps)
    thought_valid_xg = jnp.broadcast_to(position_valid_x[..., None], rewards_xg.shape)
    loss, metrics = policy_gradient_loss(
        logp_new_xgl,
        logp_old_xgl,
        thought_mask_xgl,
        advantages_xg,
        eps_low=eps_low,
        eps_high=eps_high,
        aggregation=aggregation,
        policy_loss=policy_loss,
        kl_beta=kl_beta,
        logp_ref_xl=logp_ref_xgl,
        entropy_xl=entropy_xgl,
        truncated_x=truncated_xg,
        sequence_valid_x=thought_valid_xg,
        length_cap=length_cap,
    )
    horizon_valid_xh = position_valid_x[..., None]
    if horizon_mask_xh is not None:
        horizon_valid_xh = horizon_valid_xh & horizon_mask_xh
    horizon_valid_xh = jnp.broadcast_to(horizon_valid_xh, s_ema_xh.shape)
    metrics |= group_reward_metrics(rewards_xg, position_valid_x)
    metrics["s_pred_mean"] = masked_mean(
        jax.lax.stop_gradient(s_pred_xgh.astype(jnp.float32)),
        jnp.repeat(horizon_valid_xh[..., None, :], group_size, axis=-2),
    )
    metrics["s_ema_mean"] = masked_mean(jax.lax.stop_gradient(s_ema_xh.astype(jnp.float32)), horizon_valid_xh)
    return loss, metrics
