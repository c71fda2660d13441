"""The pure update step: gradient accumulation equals the full-batch step; a non-finite loss skips the update."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import Config, ModelConfig, OptimizerConfig
from rlpjax.model.decoder import Decoder
from rlpjax.train.optimizer import make_optimizer
from rlpjax.train.state import init_train_state
from rlpjax.train.tasks.ntp import NTPTask
from rlpjax.train.update import make_update_step

MODEL = ModelConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, num_kv_heads=1,
                    head_dim=16, max_seq_len=32)


def _setup(accum: int, loss_fn=None):
    cfg = Config(model=MODEL, optimizer=OptimizerConfig(learning_rate=1e-2, warmup_steps=0, grad_accum_steps=accum))
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
    full, full_metrics = full_step(state, batch)
    accum, accum_metrics = accum_step(state2, batch)
    assert float(accum_metrics["loss"]) == pytest.approx(float(full_metrics["loss"]), rel=1e-5)
    assert float(accum_metrics["grad_norm"]) == pytest.approx(float(full_metrics["grad_norm"]), rel=1e-4)
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), full.params, state.params))
    assert max(float(m) for m in moved) > 1e-4  # the step really changed the parameters
    for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(accum.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


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
    assert int(new.step) == 1 and not np.array_equal(np.asarray(new.rng), before.rng)
    for field in ("params", "opt_state", "ema_params"):
        for a, b in zip(jax.tree.leaves(getattr(new, field)), jax.tree.leaves(getattr(before, field))):
            np.testing.assert_array_equal(np.asarray(a), b)
