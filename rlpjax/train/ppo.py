"""One training step's optimizer updates: `epochs` passes of `minibatches` updates over one (rollout) batch."""

from __future__ import annotations

import dataclasses

import jax

from rlpjax.train.state import TrainState


def minibatch_rows(rows: int, minibatches: int) -> int:
    """Rows of one minibatch; the batch must split evenly."""
    if rows % minibatches:
        raise ValueError(f"a rollout batch of {rows} rows does not split into {minibatches} minibatches")
    return rows // minibatches


def ppo_updates(update, state: TrainState, batch: dict, *, epochs: int = 1, minibatches: int = 1):
    """Run the update stage `epochs * minibatches` times over `batch` -> (state, metrics averaged on the host).

    Every array of `batch` is split along its leading axis into contiguous minibatches (callers order rows so that
    a group of samples of one prompt or document stays in one minibatch). Each update advances `state.updates`
    (inside the update stage); the training step counter `state.step` advances once here.
    """
    size = minibatch_rows(next(iter(batch.values())).shape[0], minibatches)
    per_update = []
    for _ in range(epochs):
        for i in range(minibatches):
            minibatch = batch if minibatches == 1 else jax.tree.map(lambda x, i=i: x[i * size:(i + 1) * size], batch)
            state, metrics = update(state, minibatch)
            per_update.append(metrics)
    per_update = jax.device_get(per_update)
    metrics = {k: float(sum(float(m[k]) for m in per_update) / len(per_update)) for k in per_update[0]}
    return dataclasses.replace(state, step=state.step + 1), metrics
