"""WORKSPACE.md "How to add a part of a group-RL algorithm", as tests: a new advantage estimator and a new reward
are registry entries, and the shared loss and reward lookup use them by name."""

import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax.objectives import advantages as advantages_module
from rlpjax.objectives.advantages import group_advantages
from rlpjax.objectives.policy_gradient import policy_gradient_loss
from rlpjax.reasoning import rewards as rewards_module
from rlpjax.reasoning.rewards import reward
from rlpjax.reasoning.verify import Verification


def median_baseline(rewards_xg):
    """A_i = r_i - median_j r_j: a baseline robust to one outlier rollout."""
    return rewards_xg - jnp.median(rewards_xg, axis=-1, keepdims=True)


def test_a_registered_advantage_estimator_drives_the_shared_loss(monkeypatch):
    # In the package this is `@register_advantage("median")` in objectives/advantages.py plus "median" in
    # config.Advantage; here the registry entry is scoped to the test.
    monkeypatch.setitem(advantages_module.ADVANTAGES, "median", median_baseline)
    rewards = np.array([[0.0, 1.0, 1.0, 5.0], [2.0, 2.0, 0.0, 1.0]], np.float32)
    got = np.asarray(group_advantages(rewards, "median", normalize_std=False))
    np.testing.assert_allclose(got, rewards - np.median(rewards, axis=1, keepdims=True))

    # With the ratio at 1 (logp_new = logp_old) and token_mean, the loss is minus the token-weighted advantage mean.
    rng = np.random.default_rng(0)
    logp = -rng.uniform(0.1, 2.0, (2, 4, 3)).astype(np.float32)
    mask = rng.random((2, 4, 3)) < 0.7
    mask[..., 0] = True
    loss, _ = policy_gradient_loss(logp, logp, mask, got, eps_low=0.2, eps_high=0.2, aggregation="token_mean")
    np.testing.assert_allclose(loss, -(got[..., None] * mask).sum() / mask.sum(), rtol=1e-6)


def test_a_registered_reward_is_looked_up_by_name(monkeypatch):
    # In the package: `@register_reward("answer_with_few_steps", weighted=True)` in reasoning/rewards.py.
    def answer_with_few_steps(verification, a=0.2):
        """R_out, lowered by a for every extra node."""
        return float(verification.answer_correct) - a * verification.extra_nodes

    monkeypatch.setitem(rewards_module.REWARDS, "answer_with_few_steps", answer_with_few_steps)
    monkeypatch.setattr(rewards_module, "WEIGHTED", rewards_module.WEIGHTED | {"answer_with_few_steps"})
    check = Verification(process_acc=1.0, answer_correct=True, verified_correct=False, reason="extra nodes",
                         value_errors=0, dependency_errors=0, missing_nodes=0, extra_nodes=2, answer_error=0,
                         predicted_answer="3", gold_nodes=3)
    assert reward("answer_with_few_steps", check, a=0.1) == pytest.approx(0.8)
