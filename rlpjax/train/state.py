"""TrainState: everything that changes during training, as one pytree (checkpointed whole)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class TrainState:
    """The full training state.

    `params`, `ema_params` and `ref_params` are nnx parameter states of the same structure; `ema_params` is the
    slow teacher (RLP) or an evaluation EMA, `ref_params` a frozen reference for KL terms; either may be None.
    `rng` is a raw uint32[2] key so checkpoints stay plain arrays.
    """

    step: jax.Array
    """int32 scalar: training steps taken (one rollout and its PPO updates count once)."""
    params: Any
    """The policy's parameters (nnx.State of nnx.Param)."""
    opt_state: optax.OptState
    """The optimizer's state."""
    rng: jax.Array
    """uint32[2]: the key the next step splits."""
    ema_params: Any = None
    """Exponential moving average of `params` (RLP's teacher), or None."""
    ref_params: Any = None
    """Frozen reference parameters for KL penalties, or None."""
    updates: jax.Array = None
    """int32 scalar: optimizer updates attempted (skipped non-finite ones included); `step` times the task's
    updates per step."""


def init_train_state(params, tx: optax.GradientTransformation, seed: int, *, with_ema: bool = False,
                     with_ref: bool = False) -> TrainState:
    """A fresh state at step 0; EMA and reference start as copies of `params` (the teacher's lazy init).

    The EMA is kept in float32 whatever `param_dtype` is: in bfloat16, 1 - tau for tau = 0.999 is below half an
    ulp of 1, so `tau * e + (1 - tau) * p` rounds back to `e` and a bf16 EMA never moves (the cost: 4 bytes per
    parameter for the teacher instead of 2; the model casts it to `compute_dtype` where it is used)."""
    copy = lambda tree: jax.tree.map(jnp.copy, tree)  # noqa: E731
    float32_copy = lambda tree: jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)  # noqa: E731
    return TrainState(step=jnp.zeros((), jnp.int32), updates=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                      rng=jax.random.PRNGKey(seed), ema_params=float32_copy(params) if with_ema else None,
                      ref_params=copy(params) if with_ref else None)


def init_sharded_train_state(params, tx: optax.GradientTransformation, seed: int, mesh, *, with_ema: bool = False,
                             with_ref: bool = False) -> tuple[TrainState, Any]:
    """(state, shardings): `init_train_state` run inside one jit whose outputs carry the mesh's shardings.

    Every leaf, including the optimizer's step counters and the RNG key, is then a global array on `mesh`
    (parameters and moments by the logical-axis rules, scalars replicated). Building the state eagerly would leave
    those scalars on one local device, which makes the first jitted step compile twice and cannot work across hosts.
    """
    from rlpjax.sharding import state_shardings

    def make(p):
        return init_train_state(p, tx, seed, with_ema=with_ema, with_ref=with_ref)

    shardings = state_shardings(jax.eval_shape(make, params), mesh)
    return jax.jit(make, out_shardings=shardings)(params), shardings
