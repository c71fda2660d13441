"""The generic pure update step shared by every objective.

`make_update_step(graphdef, loss_fn, tx, ...)` returns `step(state, batch) -> (state, metrics)`:
gradient of `loss_fn(model, batch, rng) -> (loss, metrics)` (accumulated over micro-batches by a scan), one
optimizer update, an EMA update, and the divergence guard: when the loss or the gradient norm is not finite, the
parameters, optimizer state and EMA are left unchanged and `metrics["nonfinite"]` is 1 (`state.step` and the RNG still advance, so a
resumed run replays the same keys; the logged learning rate is the one the optimizer applied, whose schedule
counter does not advance on a skipped step).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rlpjax.train.state import TrainState

LossFn = Callable[[nnx.Module, dict, jax.Array], tuple[jax.Array, dict]]


def _split_micro_batches(batch: dict, n: int) -> dict:
    """[B, ...] -> [n, B/n, ...] for every array of the batch."""
    def split(x):
        if x.shape[0] % n:
            raise ValueError(f"batch of {x.shape[0]} rows does not split into {n} gradient-accumulation steps")
        return x.reshape((n, x.shape[0] // n) + x.shape[1:])
    return jax.tree.map(split, batch)


def _where_tree(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def _schedule_count(opt_state, fallback: jax.Array) -> jax.Array:
    """The optimizer's own schedule counter (it does not advance on skipped steps), else `fallback`."""
    is_schedule = lambda x: isinstance(x, optax.ScaleByScheduleState)  # noqa: E731
    counts = [s.count for s in jax.tree.leaves(opt_state, is_leaf=is_schedule) if is_schedule(s)]
    return counts[0] if counts else fallback


def make_update_step(graphdef: nnx.GraphDef, loss_fn: LossFn, tx: optax.GradientTransformation,
                     schedule: optax.Schedule, *, grad_accum_steps: int = 1, ema_decay: float | None = None):
    """The pure step (not yet jitted: the loop jits it with explicit shardings and donation)."""

    def grads_and_metrics(params, batch, rng):
        def loss_of_params(p, micro, r):
            return loss_fn(nnx.merge(graphdef, p), micro, r)

        grad_fn = jax.value_and_grad(loss_of_params, has_aux=True)
        if grad_accum_steps == 1:
            (loss, metrics), grads = grad_fn(params, batch, rng)
            return loss, metrics, grads

        def accumulate(carry, micro_and_key):
            micro, key = micro_and_key
            return jax.tree.map(jnp.add, carry, grad_fn(params, micro, key)), None

        micro_batches = _split_micro_batches(batch, grad_accum_steps)
        keys = jax.random.split(rng, grad_accum_steps)
        first = jax.tree.map(lambda x: x[0], micro_batches)
        shapes = jax.eval_shape(grad_fn, params, first, keys[0])
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        ((loss, metrics), grads), _ = jax.lax.scan(accumulate, zeros, (micro_batches, keys))
        return jax.tree.map(lambda x: x / grad_accum_steps, (loss, metrics, grads))

    def step(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        rng, step_rng = jax.random.split(state.rng)
        loss, metrics, grads = grads_and_metrics(state.params, batch, step_rng)
        grad_norm = optax.global_norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = state.ema_params
        if ema is not None and ema_decay is not None:
            ema = jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p.astype(e.dtype), ema, params)
        new_state = TrainState(
            step=state.step + 1,
            params=_where_tree(finite, params, state.params),
            opt_state=_where_tree(finite, opt_state, state.opt_state),
            rng=rng,
            ema_params=None if ema is None else _where_tree(finite, ema, state.ema_params),
            ref_params=state.ref_params,
        )
        metrics = dict(metrics, loss=loss, grad_norm=grad_norm, learning_rate=schedule(_schedule_count(state.opt_state, state.step)),
                       nonfinite=(~finite).astype(jnp.int32))
        return new_state, metrics

    return step


def ppo_updates(update, state: TrainState, rollout_batch: dict, *, epochs: int, minibatches: int):
    """`epochs` passes of `minibatches` optimizer updates over one rollout batch -> (state, mean metrics).

    Every array of `rollout_batch` is split along its leading axis into contiguous minibatches (callers order rows
    so that a group of samples of one prompt or document stays in one minibatch). Each update advances
    `state.step`; a training step counts once however many updates it made, so the count is corrected after.
    Metrics are averaged over the updates on the host.
    """
    rows = next(iter(rollout_batch.values())).shape[0]
    if rows % minibatches:
        raise ValueError(f"a rollout batch of {rows} rows does not split into {minibatches} minibatches")
    size = rows // minibatches
    per_update = []
    for _ in range(epochs):
        for i in range(minibatches):
            minibatch = jax.tree.map(lambda x, i=i: x[i * size:(i + 1) * size], rollout_batch) if minibatches > 1 \
                else rollout_batch
            state, metrics = update(state, minibatch)
            per_update.append(metrics)
    per_update = jax.device_get(per_update)
    metrics = {k: float(sum(float(m[k]) for m in per_update) / len(per_update)) for k in per_update[0]}
    if len(per_update) > 1:
        state = dataclasses.replace(state, step=state.step - (len(per_update) - 1))
    return state, metrics
