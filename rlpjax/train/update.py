"""The generic pure update step shared by every objective.

`make_update_step(graphdef, loss_fn, tx, ...)` returns `step(state, batch) -> (state, metrics)`:
gradient of `loss_fn(model, batch, rng) -> (loss, metrics)` (accumulated over micro-batches by a scan, weighted by
the micro-batches' `metrics["loss_weight"]` counts so the result is the full batch's mean), one
optimizer update, an EMA update, and the divergence guard: when the loss or the gradient norm is not finite, the
parameters, optimizer state and EMA are left unchanged and `metrics["nonfinite"]` is 1 (`state.updates` and the RNG still advance, so a
resumed run replays the same keys; the logged learning rate is the one the optimizer applied, whose schedule
counter does not advance on a skipped step).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rlpjax.objectives.aggregation import LOSS_WEIGHT
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

        def weighted_terms(micro, key):
            """(weight * (loss, metrics, grads), weight) of one micro-batch, metrics in float32."""
            (loss, metrics), grads = grad_fn(params, micro, key)
            weight = jax.lax.stop_gradient(jnp.asarray(metrics.get(LOSS_WEIGHT, 1.0), jnp.float32))
            metrics = jax.tree.map(lambda m: jnp.asarray(m, jnp.float32), metrics)
            return jax.tree.map(lambda x: (weight * x).astype(x.dtype), (loss, metrics, grads)), weight

        def accumulate(carry, micro_and_key):
            return jax.tree.map(jnp.add, carry, weighted_terms(*micro_and_key)), None

        micro_batches = _split_micro_batches(batch, grad_accum_steps)
        keys = jax.random.split(rng, grad_accum_steps)
        first = jax.tree.map(lambda x: x[0], micro_batches)
        shapes = jax.eval_shape(weighted_terms, first, keys[0])
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        ((loss, metrics, grads), total_weight), _ = jax.lax.scan(accumulate, zeros, (micro_batches, keys))
        inverse = 1.0 / jnp.maximum(total_weight, jnp.finfo(jnp.float32).tiny)  # no counted item at all: zeros
        loss, metrics, grads = jax.tree.map(lambda x: (x * inverse).astype(x.dtype), (loss, metrics, grads))
        if LOSS_WEIGHT in metrics:
            metrics[LOSS_WEIGHT] = total_weight
        return loss, metrics, grads

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
            step=state.step,
            updates=state.updates + 1,
            params=_where_tree(finite, params, state.params),
            opt_state=_where_tree(finite, opt_state, state.opt_state),
            rng=rng,
            ema_params=None if ema is None else _where_tree(finite, ema, state.ema_params),
            ref_params=state.ref_params,
        )
        metrics = dict(metrics, loss=loss, grad_norm=grad_norm, learning_rate=schedule(_schedule_count(state.opt_state, state.updates)),
                       nonfinite=(~finite).astype(jnp.int32))
        return new_state, metrics

    return step

