"""RLP objective against NumPy written directly from RLP.md's equations (loops, no shared code)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax.objectives.advantages import group_advantages
from rlpjax.objectives.rlp import information_gain_rewards, rlp_loss

B, K, G, L, H = 2, 3, 4, 7, 3
EPS_LOW, EPS_HIGH, GAMMA, BETA = 0.2, 0.28, 0.9, 0.05


def make_inputs(seed=0):
    """Random rollout batch with ragged thoughts, ratios far from 1 and one padded position."""
    rng = np.random.default_rng(seed)
    logp_old = -rng.uniform(0.1, 3.0, (B, K, G, L)).astype(np.float32)
    logp_new = (logp_old + rng.normal(0.0, 0.6, (B, K, G, L))).astype(np.float32)
    logp_ref = (logp_old + rng.normal(0.0, 0.3, (B, K, G, L))).astype(np.float32)
    lengths = rng.integers(1, L + 1, (B, K, G))
    mask = np.arange(L)[None, None, None, :] < lengths[..., None]
    s_pred = -rng.uniform(0.0, 4.0, (B, K, G, H)).astype(np.float32)
    s_ema = -rng.uniform(0.0, 4.0, (B, K, H)).astype(np.float32)
    horizon_mask = np.ones((B, K, H), bool)
    horizon_mask[0, 1, 2:] = False
    position_valid = np.ones((B, K), bool)
    position_valid[1, 2] = False
    truncated = rng.random((B, K, G)) < 0.3
    entropy = rng.uniform(0.0, 2.0, (B, K, G, L)).astype(np.float32)
    return dict(logp_new=logp_new, logp_old=logp_old, logp_ref=logp_ref, mask=mask, s_pred=s_pred, s_ema=s_ema,
                horizon_mask=horizon_mask, position_valid=position_valid, truncated=truncated, entropy=entropy)


def numpy_rewards(s_pred, s_ema, horizon_mask, gamma):
    rewards = np.zeros(s_pred.shape[:-1])
    for idx in np.ndindex(*s_pred.shape[:-1]):
        for j in range(s_pred.shape[-1]):
            if horizon_mask[idx[:-1]][j]:
                rewards[idx] += gamma**j * (s_pred[idx][j] - s_ema[idx[:-1]][j])
    return rewards


def numpy_rlp(x, normalize_std=False, eps=1e-6, aggregation="seq_mean", advantage="leave_one_out"):
    """Loss and metrics by loops over thoughts and tokens, from the spec (the paper: seq_mean, leave_one_out);
    "token_mean" weighs every thought token alike, "group_mean" subtracts the mean of all G rewards."""
    rewards = numpy_rewards(x["s_pred"], x["s_ema"], x["horizon_mask"], GAMMA)
    per_thought, kl_per_thought, ent_per_thought, advs, lens, truncs = [], [], [], [], [], []
    low = high = approx = tokens = pg_sum = kl_sum = ent_sum = 0
    for b, k in np.ndindex(B, K):
        if not x["position_valid"][b, k]:
            continue
        r = rewards[b, k]
        for i in range(G):
            a = r[i] - (r.sum() - r[i]) / (G - 1) if advantage == "leave_one_out" else r[i] - r.mean()
            if normalize_std:
                a = a / (np.std(r, ddof=1) + eps)
            pg, kl, ent, n = 0.0, 0.0, 0.0, 0
            for u in range(L):
                if not x["mask"][b, k, i, u]:
                    continue
                rho = np.exp(float(x["logp_new"][b, k, i, u]) - float(x["logp_old"][b, k, i, u]))
                pg += -min(rho * a, np.clip(rho, 1 - EPS_LOW, 1 + EPS_HIGH) * a)
                d = float(x["logp_ref"][b, k, i, u]) - float(x["logp_new"][b, k, i, u])
                kl += np.exp(d) - d - 1
                ent += x["entropy"][b, k, i, u]
                low += rho < 1 - EPS_LOW and a < 0
                high += rho > 1 + EPS_HIGH and a > 0
                approx += rho - 1 - np.log(rho)
                n += 1
            tokens += n
            pg_sum, kl_sum, ent_sum = pg_sum + pg, kl_sum + kl, ent_sum + ent
            per_thought.append(pg / n)
            kl_per_thought.append(kl / n)
            ent_per_thought.append(ent / n)
            advs.append(a)
            lens.append(n)
            truncs.append(x["truncated"][b, k, i])
    valid = x["position_valid"]
    r_valid = rewards[valid]
    if aggregation == "seq_mean":
        pg_loss, kl_loss, entropy, weight = (np.mean(per_thought), np.mean(kl_per_thought), np.mean(ent_per_thought),
                                             len(per_thought))
    else:
        pg_loss, kl_loss, entropy, weight = pg_sum / tokens, kl_sum / tokens, ent_sum / tokens, tokens
    hv = x["horizon_mask"] & valid[..., None]
    metrics = {
        "loss": pg_loss + BETA * kl_loss,
        "pg_loss": pg_loss,
        "kl_ref": kl_loss,
        "entropy": entropy,
        "loss_weight": weight,
        "clip_frac_low": low / tokens,
        "clip_frac_high": high / tokens,
        "approx_kl_old": approx / tokens,
        "adv_mean": np.mean(advs),
        "adv_std": np.std(advs),
        "adv_min": np.min(advs),
        "adv_max": np.max(advs),
        "length_mean": np.mean(lens),
        "truncated_frac": np.mean(truncs),
        "num_tokens": tokens,
        "num_sequences": len(advs),
        "reward_mean": r_valid.mean(),
        "reward_std": r_valid.std(),
        "best_of_group_gain": np.mean(r_valid.max(-1) - r_valid.mean(-1)),
        "s_pred_mean": np.mean([x["s_pred"][b, k, g, j] for b, k, g, j in np.ndindex(B, K, G, H) if hv[b, k, j]]),
        "s_ema_mean": x["s_ema"][hv].mean(),
    }
    return metrics


def call_rlp(x, **overrides):
    kwargs = dict(gamma=GAMMA, eps_low=EPS_LOW, eps_high=EPS_HIGH, kl_beta=BETA, logp_ref_xgl=x["logp_ref"],
                  entropy_xgl=x["entropy"], truncated_xg=x["truncated"], horizon_mask_xh=x["horizon_mask"],
                  position_valid_x=x["position_valid"])
    kwargs |= overrides
    return rlp_loss(x["logp_new"], x["logp_old"], x["mask"], x["s_pred"], x["s_ema"], **kwargs)


def test_leave_one_out_identity():
    rewards = np.random.default_rng(1).normal(size=(3, 2, 5)).astype(np.float32)
    got = np.asarray(group_advantages(jnp.asarray(rewards), "leave_one_out", normalize_std=False))
    others_mean = (rewards.sum(-1, keepdims=True) - rewards) / 4
    np.testing.assert_allclose(got, rewards - others_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, 5 / 4 * (rewards - rewards.mean(-1, keepdims=True)), rtol=1e-5, atol=1e-6)


def test_leave_one_out_std_normalisation():
    rewards = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    got = np.asarray(group_advantages(jnp.asarray(rewards), "leave_one_out", normalize_std=True, eps=1e-3))
    want = 6 / 5 * (rewards - rewards.mean(-1, keepdims=True)) / (rewards.std(-1, ddof=1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_rewards_with_horizon_and_discount():
    x = make_inputs(3)
    got = information_gain_rewards(x["s_pred"], x["s_ema"], gamma=GAMMA, horizon_mask_xh=x["horizon_mask"])
    np.testing.assert_allclose(got, numpy_rewards(x["s_pred"], x["s_ema"], x["horizon_mask"], GAMMA), rtol=1e-5)
    one_token = information_gain_rewards(x["s_pred"][..., :1], x["s_ema"][..., :1], gamma=GAMMA)
    np.testing.assert_allclose(one_token, x["s_pred"][..., 0] - x["s_ema"][..., None, 0], rtol=1e-6)


@pytest.mark.parametrize("normalize_std, aggregation, advantage", [
    (False, "seq_mean", "leave_one_out"), (True, "seq_mean", "leave_one_out"), (False, "token_mean", "group_mean")])
def test_rlp_loss_and_metrics_match_numpy(normalize_std, aggregation, advantage):
    """The paper's parts, with and without std normalisation, and RLP with other registered parts."""
    x = make_inputs(0)
    want = numpy_rlp(x, normalize_std=normalize_std, aggregation=aggregation, advantage=advantage)
    assert want["clip_frac_low"] > 0 and want["clip_frac_high"] > 0, "test data must clip on both sides"
    loss, metrics = call_rlp(x, normalize_adv_std=normalize_std, aggregation=aggregation, advantage=advantage)
    np.testing.assert_allclose(loss, want["loss"], rtol=1e-5, atol=1e-6)
    for name, value in want.items():
        np.testing.assert_allclose(metrics[name], value, rtol=1e-4, atol=1e-6, err_msg=name)


def test_rlp_loss_jits_and_matches_eager():
    x = make_inputs(4)
    jitted = jax.jit(functools.partial(rlp_loss, gamma=GAMMA, eps_low=EPS_LOW, eps_high=EPS_HIGH))
    got, _ = jitted(x["logp_new"], x["logp_old"], x["mask"], x["s_pred"], x["s_ema"])
    want, _ = rlp_loss(x["logp_new"], x["logp_old"], x["mask"], x["s_pred"], x["s_ema"],
                       gamma=GAMMA, eps_low=EPS_LOW, eps_high=EPS_HIGH)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_gradient_matches_analytic_form():
    """d loss / d logp_new_u = w_i * (-A_i rho_u [unclipped] + beta (1 - exp(d_u))), w_i = 1 / (#thoughts |c_i|)."""
    x = make_inputs(5)
    grads = jax.grad(lambda lp, lo, sp: call_rlp(x | dict(logp_new=lp, logp_old=lo, s_pred=sp))[0], argnums=(0, 1, 2))(
        x["logp_new"], x["logp_old"], x["s_pred"])
    rewards = numpy_rewards(x["s_pred"], x["s_ema"], x["horizon_mask"], GAMMA)
    num_thoughts = x["position_valid"].sum() * G
    want = np.zeros((B, K, G, L))
    for b, k, i in np.ndindex(B, K, G):
        if not x["position_valid"][b, k]:
            continue
        r = rewards[b, k]
        a = G / (G - 1) * (r[i] - r.mean())
        n = x["mask"][b, k, i].sum()
        for u in range(L):
            if not x["mask"][b, k, i, u]:
                continue
            rho = np.exp(float(x["logp_new"][b, k, i, u]) - float(x["logp_old"][b, k, i, u]))
            clipped = (rho < 1 - EPS_LOW and a < 0) or (rho > 1 + EPS_HIGH and a > 0)
            d = float(x["logp_ref"][b, k, i, u]) - float(x["logp_new"][b, k, i, u])
            want[b, k, i, u] = (0.0 if clipped else -a * rho) / (num_thoughts * n) + BETA * (1 - np.exp(d)) / (
                num_thoughts * n)
    np.testing.assert_allclose(grads[0], want, rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(grads[1], 0.0)  # behaviour log-probs are constants
    np.testing.assert_array_equal(grads[2], 0.0)  # the reward is a constant


def test_kl_weight_without_reference_is_an_error():
    x = make_inputs(6)
    with pytest.raises(ValueError, match="logp_ref"):
        call_rlp(x, logp_ref_xgl=None)


def test_garbage_in_masked_entries_changes_nothing():
    """-inf log-probs on padding tokens and NaN scores at padded positions leave loss, metrics and gradient as is."""
    x = make_inputs(7)
    dirty = dict(x)
    for name in ("logp_new", "logp_old", "logp_ref"):
        dirty[name] = np.where(x["mask"], x[name], -np.inf).astype(np.float32)
    dirty["s_pred"] = x["s_pred"].copy()
    dirty["s_pred"][~x["position_valid"]] = np.nan
    dirty["s_ema"] = np.where(x["position_valid"][..., None], x["s_ema"], np.nan).astype(np.float32)

    def loss_and_grad(inputs):
        return jax.value_and_grad(lambda lp: call_rlp(inputs | dict(logp_new=lp))[0])(inputs["logp_new"])

    (clean_loss, clean_grad), (dirty_loss, dirty_grad) = loss_and_grad(x), loss_and_grad(dirty)
    np.testing.assert_allclose(dirty_loss, clean_loss, rtol=1e-6)
    np.testing.assert_allclose(dirty_grad, np.where(x["mask"], clean_grad, 0.0), rtol=1e-6)
    _, clean_metrics = call_rlp(x)
    _, dirty_metrics = call_rlp(dirty)
    for name, value in clean_metrics.items():
        np.testing.assert_allclose(dirty_metrics[name], value, rtol=1e-5, err_msg=name)
