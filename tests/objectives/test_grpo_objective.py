"""The group-RL parts against NumPy written directly from the equations (loops over responses and tokens):
advantage estimators, aggregations, the PPO-clip and GSPO surrogates, with GRPO's composition of them."""

import typing

import jax
import numpy as np
import pytest

from rlpjax import config
from rlpjax.objectives.advantages import ADVANTAGES, group_advantages
from rlpjax.objectives.aggregation import AGGREGATIONS
from rlpjax.objectives.policy_gradient import POLICY_LOSSES, group_reward_metrics, policy_gradient_loss

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


def numpy_advantages(rewards, normalize_std, eps=1e-6, estimator="group_mean"):
    adv = np.zeros_like(rewards, dtype=np.float64)
    for b in range(rewards.shape[0]):
        group = rewards[b].astype(np.float64)
        mean = group.sum() / len(group)
        std = np.sqrt(((group - mean) ** 2).sum() / (len(group) - 1))
        for i in range(len(group)):
            baseline = mean if estimator == "group_mean" else (group.sum() - group[i]) / (len(group) - 1)
            adv[b, i] = (group[i] - baseline) / (std + eps) if normalize_std else group[i] - baseline
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


def call_grpo(x, aggregation, normalize_std, **changes):
    """GRPO's composition (as `train.tasks.grpo` runs it): group advantages, then the policy-gradient loss."""
    advantages = group_advantages(x["rewards"], changes.pop("advantage", "group_mean"), normalize_std=normalize_std)
    kwargs = dict(eps_low=EPS_LOW, eps_high=EPS_HIGH, aggregation=aggregation, kl_beta=BETA, entropy_coef=ENT,
                  logp_ref_xl=x["logp_ref"], entropy_xl=x["entropy"], truncated_x=x["truncated"], length_cap=L)
    loss, metrics = policy_gradient_loss(x["logp_new"], x["logp_old"], x["mask"], advantages, **kwargs | changes)
    return loss, metrics | group_reward_metrics(x["rewards"])


def test_registries_and_config_choices_name_the_same_entries():
    """A registered part must be a typed config choice too (config_io rejects the others before JAX starts)."""
    assert set(ADVANTAGES) == set(typing.get_args(config.Advantage))
    assert set(AGGREGATIONS) == set(typing.get_args(config.Aggregation))
    assert set(POLICY_LOSSES) == set(typing.get_args(config.PolicyLoss))


@pytest.mark.parametrize("estimator", ["group_mean", "leave_one_out"])
@pytest.mark.parametrize("normalize_std", [True, False])
def test_group_advantages_match_numpy(normalize_std, estimator):
    rewards = make_inputs(1)["rewards"]
    got = group_advantages(rewards, estimator, normalize_std=normalize_std)
    want = numpy_advantages(rewards, normalize_std, estimator=estimator)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
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
        advantages = group_advantages(x["rewards"], "group_mean", normalize_std=False)
        return policy_gradient_loss(logp_new, x["logp_old"], x["mask"], advantages, eps_low=EPS_LOW,
                                    eps_high=EPS_HIGH, aggregation=aggregation, length_cap=L)[0]

    adv = numpy_advantages(x["rewards"], normalize_std=False)[..., None]
    grad = np.asarray(jax.grad(loss_of)(x["logp_new"], "constant_length"))
    np.testing.assert_allclose(grad, np.where(x["mask"], -adv / (B * R * L), 0.0), rtol=1e-5, atol=1e-8)
    seq_grad = np.asarray(jax.grad(loss_of)(x["logp_new"], "seq_mean"))
    lengths = x["mask"].sum(-1, keepdims=True)
    np.testing.assert_allclose(seq_grad, np.where(x["mask"], -adv / (B * R * lengths), 0.0), rtol=1e-5, atol=1e-8)


def test_unknown_parts_are_errors():
    with pytest.raises(ValueError, match="aggregation"):
        call_grpo(make_inputs(4), "sum", True)
    with pytest.raises(ValueError, match="policy loss"):
        call_grpo(make_inputs(4), "token_mean", True, policy_loss="cispo")
    with pytest.raises(ValueError, match="advantage estimator"):
        call_grpo(make_inputs(4), "token_mean", True, advantage="vtrace")


def numpy_gspo(x, advantages, eps_low, eps_high):
    """GSPO's objective as its paper writes it: per response i, s_i = exp(mean over its tokens of log rho) and
    loss_i = -min(s_i A_i, clip(s_i, 1 - eps_low, 1 + eps_high) A_i); the loss is the mean over responses. The
    gradient w.r.t. logp_new_u of response i is -(A_i s_i / |y_i|) / (B R) where the clip is inactive, else 0."""
    m = x["mask"]
    losses, grad = [], np.zeros((B, R, L))
    for b, i in np.ndindex(B, R):
        n = m[b, i].sum()
        s = np.exp(sum(float(x["logp_new"][b, i, u]) - float(x["logp_old"][b, i, u]) for u in range(L) if m[b, i, u]) / n)
        a = advantages[b, i]
        clipped = np.clip(s, 1 - eps_low, 1 + eps_high)
        losses.append(-min(s * a, clipped * a))
        if s * a <= clipped * a:  # the unclipped term is the minimum: it carries the gradient
            grad[b, i] = np.where(m[b, i], -a * s / n / (B * R), 0.0)
    return np.mean(losses), grad


def test_gspo_sequence_ratio_loss_and_gradient_match_numpy():
    """The GSPO-token form under "seq_mean": value and gradient equal the sequence-level objective's."""
    x = make_inputs(6)
    x["logp_new"] = (x["logp_old"] + 0.3 * (x["logp_new"] - x["logp_old"])).astype(np.float32)
    adv = numpy_advantages(x["rewards"], normalize_std=True)
    eps_low, eps_high = 0.05, 0.08

    def loss_of(logp_new):
        return policy_gradient_loss(logp_new, x["logp_old"], x["mask"], adv.astype(np.float32), eps_low=eps_low,
                                    eps_high=eps_high, aggregation="seq_mean", policy_loss="gspo")

    want_loss, want_grad = numpy_gspo(x, adv, eps_low, eps_high)
    (loss, metrics), grad = jax.value_and_grad(loss_of, has_aux=True)(x["logp_new"])
    assert 0 < metrics["clip_frac_low"] + metrics["clip_frac_high"] < 1, "test data must clip some responses"
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-7)
    token_loss, _ = policy_gradient_loss(x["logp_new"], x["logp_old"], x["mask"], adv.astype(np.float32),
                                         eps_low=eps_low, eps_high=eps_high, aggregation="seq_mean")
    assert abs(float(token_loss) - float(loss)) > 1e-4  # the token-level ratio is a different objective


@pytest.mark.parametrize("aggregation", ["token_mean", "seq_mean", "constant_length"])
def test_loss_weight_makes_micro_batches_combine_to_the_full_batch(aggregation):
    """Gradient accumulation weighs each micro-batch by its `loss_weight` (train.update): two micro-batches with
    different token counts must combine to the full batch's loss, so "token_mean" is normalised over the tokens of
    the whole batch (DAPO's token-level loss), not averaged per micro-batch."""
    x = make_inputs(7)
    x["mask"][0] = True  # prompt 0's responses: all L tokens; the others are ragged and shorter
    advantages = group_advantages(x["rewards"], "group_mean", normalize_std=True)

    def loss_and_weight(rows):
        loss, metrics = policy_gradient_loss(x["logp_new"][rows], x["logp_old"][rows], x["mask"][rows],
                                             advantages[rows], eps_low=EPS_LOW, eps_high=EPS_HIGH,
                                             aggregation=aggregation, length_cap=L)
        return float(loss), float(metrics["loss_weight"])

    full, _ = loss_and_weight(slice(None))
    (first, w1), (second, w2) = loss_and_weight(slice(0, 1)), loss_and_weight(slice(1, None))
    np.testing.assert_allclose((w1 * first + w2 * second) / (w1 + w2), full, rtol=1e-5)
    if aggregation == "token_mean":
        assert abs((first + second) / 2 - full) > 1e-3  # an unweighted mean of micro-batch means would differ
