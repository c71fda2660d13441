"""The EMA teacher with bfloat16 parameters: kept in float32, it moves by the closed form (a bf16 EMA would not)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.model.decoder import Decoder
from rlpjax.train.state import init_train_state
from rlpjax.train.update import make_update_step

MODEL = ModelConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1,
                    head_dim=16, max_seq_len=16, param_dtype="bfloat16", compute_dtype="bfloat16")


def test_bfloat16_params_keep_a_float32_ema_that_moves_by_the_closed_form():
    """Parameters held at p1 (SGD with learning rate 0) and the EMA started at p0: after n updates with tau = 0.999,
    ema = tau^n p0 + (1 - tau^n) p1. In bf16 arithmetic 1 - 0.001 rounds to 1 and the EMA would stay at p0."""
    tau, steps = 0.999, 3
    graphdef, p0 = nnx.split(Decoder(MODEL, rngs=nnx.Rngs(0)), nnx.Param)
    p1 = jax.tree.map(lambda x: x + jnp.asarray(1.0, x.dtype), p0)
    tx = optax.sgd(0.0)

    def zero_loss(model, batch, rng):  # a finite loss whose update is zero: the parameters stay at p1
        return 0.0 * jnp.sum(model.embed_vd[...].astype(jnp.float32)), {}

    state = init_train_state(p0, tx, seed=0, with_ema=True)
    assert {x.dtype for x in jax.tree.leaves(state.ema_params)} == {jnp.dtype(jnp.float32)}
    assert {x.dtype for x in jax.tree.leaves(state.params)} == {jnp.dtype(jnp.bfloat16)}
    state = dataclasses.replace(state, params=p1)
    step = jax.jit(make_update_step(graphdef, zero_loss, tx, optax.constant_schedule(0.0), ema_decay=tau))
    for _ in range(steps):
        state, _ = step(state, {"tokens": jnp.zeros((2, 4), jnp.int32)})
    for e, a, b in zip(jax.tree.leaves(state.ema_params), jax.tree.leaves(p0), jax.tree.leaves(p1)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        expected = tau ** steps * a + (1 - tau ** steps) * b  # NumPy float64, from the bf16 values themselves
        # float32 EMA of O(1) values over 3 steps: errors ~1e-7 absolute against a move of 3e-3 (a bf16 EMA: 0).
        np.testing.assert_allclose(np.asarray(e, np.float64), expected, rtol=0, atol=2e-6)
        assert np.all(np.abs(np.asarray(e, np.float64) - a) > 2.9e-3)
