"""The pure update step: gradient accumulation equals the full-batch step; a non-finite loss skips the update."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import Config, DataConfig, ModelConfig, OptimizerConfig
from rlpjax.model.decoder import Decoder
from rlpjax.train.optimizer import make_optimizer
from rlpjax.train.state import init_train_state
from rlpjax.train.tasks.ntp import NTPTask
from rlpjax.train.update import make_update_step

MODEL = ModelConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, num_kv_heads=1,
                    head_dim=16, max_seq_len=128)


def _setup(accum: int, loss_fn=None):
    cfg = Config(model=MODEL, data=DataConfig(global_batch_size=accum),  # the step itself takes any batch
                 optimizer=OptimizerConfig(learning_rate=1e-2, warmup_steps=0, grad_accum_steps=accum))
    graphdef, params = nnx.split(Decoder(MODEL, rngs=nnx.Rngs(0)), nnx.Param)
    tx, schedule = make_optimizer(cfg.optimizer, total_steps=10)
    step = make_update_step(graphdef, loss_fn or NTPTask(cfg)._loss_fn(), tx, schedule, grad_accum_steps=accum,
                            ema_decay=0.5)
    return jax.jit(step), init_train_state(params, tx, seed=0, with_ema=True)


def _batch(rows=8, length=16):
    tokens = np.random.default_rng(0).integers(1, MODEL.vocab_size, (rows, length), dtype=np.int32)
    return {"tokens": jnp.asarray(tokens), "positions": jnp.tile(jnp.arange(length, dtype=jnp.int32), (rows, 1)),
            "segment_ids": jnp.ones((rows, length), jnp.int32)}  # full rows: every micro-batch has equal token counts


def test_two_accumulation_steps_over_half_batches_equal_one_full_batch_step():
    full_step, state = _setup(accum=1)
    accum_step, state2 = _setup(accum=2)
    batch = _batch()
    _, full_metrics = full_step(state, batch)
    _, accum_metrics = accum_step(state2, batch)
    assert float(accum_metrics["loss"]) == pytest.approx(float(full_metrics["loss"]), rel=1e-5)
    assert float(accum_metrics["grad_norm"]) == pytest.approx(float(full_metrics["grad_norm"]), rel=1e-4)
    # The parameters are compared through optimizer-free SGD (learning rate 1: the change IS the gradient), not after
    # the AdamW step above: Adam's first step is lr * g / (|g| + eps), about lr * sign(g), so for a near-zero gradient
    # entry a float32 summation-order difference (XLA's CPU code differs between processors: 1.9e-4 relative was
    # seen on an AMD EPYC) is amplified up to lr. Two half-batch sums instead of one, float32: rtol 1e-4 on the
    # O(1e-2) gradient entries, atol 1e-6 for the entries that are themselves summation noise.
    import optax

    graphdef, params = nnx.split(Decoder(MODEL, rngs=nnx.Rngs(0)), nnx.Param)
    sgd = optax.sgd(1.0)
    sgd_state = init_train_state(params, sgd, seed=0, with_ema=False)
    changes = [jax.tree.map(lambda a, b: a - b, sgd_state.params, jax.jit(make_update_step(
        graphdef, NTPTask(Config(model=MODEL))._loss_fn(), sgd, optax.constant_schedule(1.0),
        grad_accum_steps=accum))(sgd_state, batch)[0].params) for accum in (1, 2)]
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(changes[0])) > 1e-3  # a real gradient
    for full_grad, accum_grad in zip(jax.tree.leaves(changes[0]), jax.tree.leaves(changes[1])):
        np.testing.assert_allclose(np.asarray(accum_grad), np.asarray(full_grad), rtol=1e-4, atol=1e-6)


def test_accumulation_rejects_a_batch_that_does_not_split():
    accum_step, state = _setup(accum=3)
    with pytest.raises(ValueError, match="does not split into 3 gradient-accumulation steps"):
        accum_step(state, _batch(rows=8))


def test_nonfinite_loss_leaves_params_optimizer_and_ema_unchanged():
    def nan_loss(model, batch, rng):
        logits = model(batch["tokens"], batch["positions"], batch["segment_ids"])
        return jnp.mean(logits) * jnp.nan, {}

    step, state = _setup(accum=1, loss_fn=nan_loss)
    before = jax.tree.map(np.asarray, dataclasses.replace(state))
    new, metrics = step(state, _batch())
    assert int(metrics["nonfinite"]) == 1
    assert int(new.updates) == 1 and int(new.step) == 0 and not np.array_equal(np.asarray(new.rng), before.rng)
    for field in ("params", "opt_state", "ema_params"):
        for a, b in zip(jax.tree.leaves(getattr(new, field)), jax.tree.leaves(getattr(before, field))):
            np.testing.assert_array_equal(np.asarray(a), b)


def test_accumulation_is_one_token_weighted_mean_over_ragged_micro_batches():
    """Micro-batches with 30 and 10 counted tokens: the accumulated gradient (SGD, learning rate 1: the parameter
    change) equals the gradient of the full batch's mean NLL over all 40 tokens, not a mean of the two means."""
    import optax

    from rlpjax.objectives.ntp import ntp_loss

    batch = _batch(rows=4)
    batch["segment_ids"] = jnp.asarray(np.array([[1] * 16, [1] * 16, [1] * 6 + [0] * 10, [1] * 6 + [0] * 10]))
    loss_fn = NTPTask(Config(model=MODEL))._loss_fn()
    graphdef, params = nnx.split(Decoder(MODEL, rngs=nnx.Rngs(0)), nnx.Param)

    def full_nll(p):
        return ntp_loss(nnx.merge(graphdef, p)(batch["tokens"], batch["positions"], batch["segment_ids"]),
                        batch["tokens"], batch["segment_ids"])[0]

    expected = jax.jit(jax.grad(full_nll))(params)
    tx = optax.sgd(1.0)
    step = jax.jit(make_update_step(graphdef, loss_fn, tx, optax.constant_schedule(1.0), grad_accum_steps=2))
    new, metrics = step(init_train_state(params, tx, seed=0, with_ema=False), batch)
    assert float(metrics["loss_weight"]) == 15 + 15 + 5 + 5  # predictions within each row's segment
    assert float(metrics["loss"]) == pytest.approx(float(full_nll(params)), rel=1e-5)  # float32 sums, O(1) loss
    for a, b, g in zip(jax.tree.leaves(params), jax.tree.leaves(new.params), jax.tree.leaves(expected)):
        # Two partial sums instead of one (float32): relative 1e-4 on the O(1e-2) gradient entries.
        np.testing.assert_allclose(np.asarray(a - b), np.asarray(g), rtol=1e-4, atol=1e-6)
