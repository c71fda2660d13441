"""Learning signal: on a toy corpus where a thought can help, RLP raises the mean information-gain reward.

The toy world (token ids are bytes: digits '0'..'9', '|' as separator, rlpjax's byte-level <think>/</think>):
- RLP documents are `BOS a1 a2 a3 a4 | y` with y = a4: the answer is a copy of the last digit before `|`.
- Pre-training (NTP) first teaches the model to copy a thought (`BOS a1..a4 | <think> X </think> X`, X random), then
  calibrates it on a mixture: half the rows `BOS a1..a4 | r` with r random (so without a thought the token after `|`
  is unpredictable: S_ema is about log(0.5/10)), half `BOS a1..a4 | <think> X </think> Y` with Y = X 70% of the time.
  The model thus trusts thoughts, but nothing taught it what to think: X is random in every pre-training row.
- Before RLP the thoughts are random digits and, with the group baseline, the mean reward starts near zero (about
  -0.2 on one x86 CPU, 0.5 on an AMD EPYC: a wrong thought costs a little, a right one, 1 in 10, gains about +2.4).
  Only by learning to think "X = a4" can the policy raise it; always right gives about +2.4.
Thresholds. XLA's CPU code differs between processors, and over 550 pre-training steps that changes the model RLP
starts from: the mean reward of the first 5 steps was -0.24 on one x86 CPU and 0.48 on an AMD EPYC (last 5: 2.24
and 0.97), so no fixed level holds on both. The test therefore asserts a RISE: the last 10 steps' mean reward
exceeds the first 10 steps' by more than 3 standard errors of that difference, the standard error estimated from
the spread of the per-step rewards inside the two windows (pooled; a trend inside a window only inflates it, which
makes the margin conservative). With learning switched off (lr 0) the two windows have the same expectation, so a
rise above 3 standard errors is a <0.2% accident. Observed on an AMD EPYC: rise 0.42 against a margin 0.28; with the
RLP learning rate set to 0 the test fails (rise -0.04, margin 0.07). The start must also be far from the
always-right +2.4 (below 1.2, halfway): the policy has not already learned the answer before RLP.
"""


import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rlpjax.config import ModelConfig, RLPConfig
from rlpjax.model.decoder import Decoder
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.rlp.loss import make_rlp_loss_fn
from rlpjax.rlp.rollout import RolloutSettings, rollout
from rlpjax.train.state import init_train_state
from rlpjax.train.update import make_update_step

BOS, THINK, END_THINK, SEP, PAD = 257, 259, 260, ord("|"), 256
DIGITS = np.arange(ord("0"), ord("9") + 1)
CFG = ModelConfig(family="qwen3", vocab_size=264, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=4,
                  num_kv_heads=2, head_dim=16, qk_norm=False)
RS = RolloutSettings(positions_per_doc=1, group_size=8, position_strategy="last", max_thought_tokens=2,
                     temperature=1.0, top_p=1.0, top_k=0, horizon=1, think_id=THINK, end_think_id=END_THINK,
                     pad_id=PAD)


def _pretraining_batch(rng, rows: int, copy_prob: float, thought_share: float) -> dict:
    """Plain `BOS a1..a4 | r` rows (padded) and, a `thought_share` of them, `BOS a1..a4 | <think> X </think> Y`."""
    tokens = np.full((rows, 10), PAD, np.int32)
    segments = np.zeros((rows, 10), np.int32)
    for row in range(rows):
        digits = rng.choice(DIGITS, size=4)
        if row >= thought_share * rows:
            doc = [BOS, *digits, SEP, rng.choice(DIGITS)]
        else:
            x = rng.choice(DIGITS)
            y = x if rng.random() < copy_prob else rng.choice(DIGITS)
            doc = [BOS, *digits, SEP, THINK, x, END_THINK, y]
        tokens[row, :len(doc)] = doc
        segments[row, :len(doc)] = 1
    positions = np.broadcast_to(np.arange(10, dtype=np.int32), (rows, 10))
    return {"tokens": jnp.asarray(tokens), "segment_ids": jnp.asarray(segments), "positions": jnp.asarray(positions)}


def _rlp_documents(rng, rows: int) -> dict:
    digits = rng.choice(DIGITS, size=(rows, 4))
    tokens = np.concatenate([np.full((rows, 1), BOS), digits, np.full((rows, 1), SEP), digits[:, -1:]], axis=1)
    return {"tokens": jnp.asarray(tokens, jnp.int32), "segment_ids": jnp.ones((rows, 7), jnp.int32),
            "positions": jnp.broadcast_to(jnp.arange(7, dtype=jnp.int32), (rows, 7)),
            "lengths": jnp.full((rows,), 7, jnp.int32)}


def _pretrain(graphdef, params, rng, phases):
    """NTP on the toy corpus; each phase is (steps, learning rate, copy_prob, thought_share). Only the tokens from
    `|` on carry loss (the digits a1..a4 are noise that would slow the test down)."""
    def loss_fn(model, batch, _):
        logits_btv = model(batch["tokens"], batch["positions"], batch["segment_ids"])
        return ntp_loss(logits_btv, batch["tokens"], batch["segment_ids"], loss_mask_bt=batch["positions"] >= 5)

    for steps, lr, copy_prob, thought_share in phases:
        tx = optax.adam(lr)
        step_fn = jax.jit(make_update_step(graphdef, loss_fn, tx, optax.constant_schedule(lr)))
        state = init_train_state(params, tx, seed=0)
        for _ in range(steps):
            state, _ = step_fn(state, _pretraining_batch(rng, 64, copy_prob, thought_share))
        params = state.params
    return params


def test_rlp_raises_the_information_gain_reward():
    rng = np.random.default_rng(0)
    graphdef, params = nnx.split(Decoder(CFG, rngs=nnx.Rngs(0)), nnx.Param)
    # First learn to copy a thought (every row thinks, Y = X), then calibrate: half the rows think, Y = X 70% of the time.
    params = _pretrain(graphdef, params, rng, [(400, 3e-3, 1.0, 1.0), (150, 1e-3, 0.7, 0.5)])

    rl_tx = optax.adam(1e-3)
    rlp = RLPConfig(group_size=RS.group_size, positions_per_doc=1, max_thought_tokens=2, ema_tau=0.999)
    state = init_train_state(params, rl_tx, seed=1, with_ema=True)
    sample_and_score = jax.jit(lambda s, docs, key: rollout(graphdef, s.params, s.ema_params, None, docs, key, RS))
    update = jax.jit(make_update_step(graphdef, make_rlp_loss_fn(RS, rlp), rl_tx, optax.constant_schedule(1e-3),
                                      ema_decay=rlp.ema_tau))
    rewards = []
    for step in range(60):
        rollout_batch = sample_and_score(state, _rlp_documents(rng, 16), jax.random.PRNGKey(step))
        state, metrics = update(state, rollout_batch)
        rewards.append(float(metrics["reward_mean"]))
    first_10, last_10 = np.asarray(rewards[:10]), np.asarray(rewards[-10:])
    pooled_std = np.sqrt((first_10.var(ddof=1) + last_10.var(ddof=1)) / 2)
    margin = 3 * pooled_std * np.sqrt(2 / 10)  # 3 standard errors of a difference of two 10-step means
    rise = last_10.mean() - first_10.mean()
    assert first_10.mean() < 1.2, f"the policy already thinks the answer before RLP: {first_10.mean():.3f}"
    assert rise > margin, f"RLP did not raise the reward: rise {rise:.3f}, margin {margin:.3f} ({rewards})"
