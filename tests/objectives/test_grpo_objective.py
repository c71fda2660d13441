"""GRPO objective against NumPy written directly from the equations (loops over responses and tokens)."""

import jax
import numpy as np
import pytest

from rlpjax.objectives.grpo import grpo_advantages, grpo_loss

B, R, L = 3, 5, 6
EPS_LOW, EPS_HIGH, BETA, ENT = 0.2, 0.3, 1e-2, 0.05


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    logp_old = -rng.uniform(0.1, 3.0, (B, R, L)).astype(np.float32)
    logp_new = (logp_old + rng.normal(0.0, 0.6, (B, R, L))).astype(np.float32)
    logp_ref = (logp_old + rng.normal(0.0, 0.3, (B, R, L))).astype(np.float32)
    start = rng.integers(0, 2, (B, R))  # a prompt token or two at the front of some rows
    end = rng.integers(3, L + 1, (B, R))
    positions = np.arange(L)
    mask = (positions >= start[..., None]) & (positions < end[..., None])
    rewards = rng.integers(0, 2, (B, R)).astype(np.float32) * rng.uniform(0.2, 1.0, (B, R)).astype(np.float32)
    rewards[2] = 1.0  # a group with no signal
    entropy = rng.uniform(0.0, 2.0, (B, R, L)).astype(np.float32)
    truncated = rng.random((B, R)) < 0.4
    return dict(logp_new=logp_new, logp_old=logp_old, logp_ref=logp_ref, mask=mask, rewards=rewards,
                entropy=entropy, truncated=truncated)


def numpy_advantages(rewards, normalize_std, eps=1e-6):
    adv = np.zeros_like(rewards, dtype=np.float64)
    for b in range(rewards.shape[0]):
        group = rewards[b].astype(np.float64)
        mean = group.sum() / len(group)
        std = np.sqrt(((group - mean) ** 2).sum() / (len(group) - 1))
        adv[b] = (group - mean) / (std + eps) if normalize_std else group - mean
    return adv


def numpy_grpo(x, aggregation, normalize_std):
    adv = numpy_advantages(x["rewards"], normalize_std)
    pg, kl, ent = np.zeros((B, R, L)), np.zeros((B, R, L)), x["entropy"].astype(np.float64)
    low = high = 0
    for b, i, u in np.ndindex(B, R, L):
        rho = np.exp(float(x["logp_new"][b, i, u]) - float(x["logp_old"][b, i, u]))
        a = adv[b, i]
        pg[b, i, u] = -min(rho * a, np.clip(rho, 1 - EPS_LOW, 1 + EPS_HIGH) * a)
        d = float(x["logp_ref"][b, i, u]) - float(x["logp_new"][b, i, u])
        kl[b, i, u] = np.exp(d) - d - 1
        if x["mask"][b, i, u]:
            low += rho < 1 - EPS_LOW and a < 0
            high += rho > 1 + EPS_HIGH and a > 0
    m = x["mask"]

    def agg(v):
        if aggregation == "token_mean":
            return v[m].sum() / m.sum()
        if aggregation == "constant_length":  # Dr.GRPO: every response over the same fixed length, L
            return v[m].sum() / (B * R * L)
        return np.mean([v[b, i][m[b, i]].mean() for b, i in np.ndindex(B, R)])

    return {
        "loss": agg(pg) + BETA * agg(kl) - ENT * agg(ent),
        "pg_loss": agg(pg),
        "kl_ref": agg(kl),
        "entropy": agg(ent),
        "clip_frac_low": low / m.sum(),
        "clip_frac_high": high / m.sum(),
        "adv_mean": adv.mean(),
        "adv_max": adv.max(),
        "length_mean": m.sum(-1).mean(),
        "truncated_frac": x["truncated"].mean(),
        "reward_mean": x["rewards"].mean(),
        "best_of_group_gain": np.mean(x["rewards"].max(-1) - x["rewards"].mean(-1)),
        "no_signal_group_frac": np.mean([len(set(g)) == 1 for g in x["rewards"].tolist()]),
    }


def call_grpo(x, aggregation, normalize_std):
    return grpo_loss(x["logp_new"], x["logp_old"], x["mask"], x["rewards"], eps_low=EPS_LOW, eps_high=EPS_HIGH,
                     kl_beta=BETA, aggregation=aggregation, normalize_adv_std=normalize_std, entropy_coef=ENT,
                     logp_ref_brl=x["logp_ref"], entropy_brl=x["entropy"], truncated_br=x["truncated"], length_cap=L)


@pytest.mark.parametrize("normalize_std", [True, False])
def test_group_advantages_match_numpy(normalize_std):
    rewards = make_inputs(1)["rewards"]
    got = grpo_advantages(rewards, normalize_std=normalize_std)
    np.testing.assert_allclose(got, numpy_advantages(rewards, normalize_std), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(got)[2], 0.0)  # equal rewards: no signal, not NaN


@pytest.mark.parametrize("aggregation", ["token_mean", "seq_mean", "constant_length"])
@pytest.mark.parametrize("normalize_std", [True, False])
def test_grpo_loss_and_metrics_match_numpy(aggregation, normalize_std):
    x = make_inputs(0)
    want = numpy_grpo(x, aggregation, normalize_std)
    assert want["clip_frac_low"] > 0 and want["clip_frac_high"] > 0, "test data must clip on both sides"
    loss, metrics = call_grpo(x, aggregation, normalize_std)
    np.testing.assert_allclose(loss, want["loss"], rtol=1e-5, atol=1e-6)
    for name, value in want.items():
        np.testing.assert_allclose(metrics[name], value, rtol=1e-4, atol=1e-6, err_msg=name)


def test_token_mean_and_seq_mean_differ_on_ragged_responses():
    x = make_inputs(2)
    token_loss, _ = call_grpo(x, "token_mean", True)
    seq_loss, _ = call_grpo(x, "seq_mean", True)
    assert abs(float(token_loss) - float(seq_loss)) > 1e-4


def test_entropy_bonus_gradient_and_padding_gets_no_gradient():
    x = make_inputs(3)

    def loss_of(logp_new, entropy):
        return call_grpo(x | dict(logp_new=logp_new, entropy=entropy), "token_mean", True)[0]

    grad_logp, grad_entropy = jax.grad(loss_of, argnums=(0, 1))(x["logp_new"], x["entropy"])
    np.testing.assert_allclose(grad_entropy, np.where(x["mask"], -ENT / x["mask"].sum(), 0.0), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(grad_logp)[~x["mask"]], 0.0)


def test_constant_length_weighs_every_token_alike_whatever_its_response_length():
    """Dr.GRPO's point: under "seq_mean" a token of a short response carries more gradient than one of a long
    response with the same advantage; under "constant_length" every token's gradient is -A / (B R L)."""
    x = make_inputs(5)
    x["logp_old"] = x["logp_new"]  # ratio 1: d loss / d logp_new = -A per token, scaled by the aggregation
    x["rewards"][:] = np.arange(R, dtype=np.float32)  # every group the same, every response a nonzero advantage

    def loss_of(logp_new, aggregation):
        return grpo_loss(logp_new, x["logp_old"], x["mask"], x["rewards"], eps_low=EPS_LOW, eps_high=EPS_HIGH,
                         kl_beta=0.0, aggregation=aggregation, normalize_adv_std=False, length_cap=L)[0]

    adv = numpy_advantages(x["rewards"], normalize_std=False)[..., None]
    grad = np.asarray(jax.grad(loss_of)(x["logp_new"], "constant_length"))
    np.testing.assert_allclose(grad, np.where(x["mask"], -adv / (B * R * L), 0.0), rtol=1e-5, atol=1e-8)
    seq_grad = np.asarray(jax.grad(loss_of)(x["logp_new"], "seq_mean"))
    lengths = x["mask"].sum(-1, keepdims=True)
    np.testing.assert_allclose(seq_grad, np.where(x["mask"], -adv / (B * R * lengths), 0.0), rtol=1e-5, atol=1e-8)


def test_unknown_aggregation_is_an_error():
    with pytest.raises(ValueError, match="aggregation"):
        call_grpo(make_inputs(4), "sum", True)
