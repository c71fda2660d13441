"""Divergence guard: a NaN loss skips the update and is counted; N in a row stop the run naming step and checkpoint.

The NaN comes from a test-only Task registered under its own objective name (no production debug switch).
"""

import numpy as np
import pytest

from rlpjax.train import task as task_registry
from rlpjax.train.loop import DivergenceError, train
from rlpjax.train.metrics import read_metrics
from rlpjax.train.tasks.ntp import NTPTask
from train_helpers import tiny_config



class PoisonedNTP(NTPTask):
    """NTP whose loss is NaN at the steps in `POISONED` (the batch carries a per-row NaN or 0 added to the loss)."""

    POISONED: set[int] = set()

    def _loss_fn(self):
        base = super()._loss_fn()

        def loss_fn(model, batch, rng):
            poison = batch.pop("poison")
            loss, metrics = base(model, batch, rng)
            return loss + 0.0 * poison.sum(), metrics

        return loss_fn

    def make_step(self, ctx):
        step = super().make_step(ctx)

        def poisoned(state, batch):
            value = np.nan if int(state.step) + 1 in self.POISONED else 0.0
            return step(state, dict(batch, poison=np.full(len(batch["tokens"]), value, np.float32)))

        return poisoned


@pytest.fixture
def poisoned_objective(monkeypatch):
    monkeypatch.setitem(task_registry.TASKS, "poisoned_ntp", f"{__name__}:PoisonedNTP")
    return ["run.objective=poisoned_ntp", "run.max_nonfinite_steps=3", "checkpoint.every_steps=2", "run.steps=8"]


def test_nan_steps_are_skipped_counted_and_three_in_a_row_stop_the_run(tmp_path, poisoned_objective, monkeypatch):
    monkeypatch.setattr(PoisonedNTP, "POISONED", {2, 5, 6, 7})
    with pytest.raises(DivergenceError) as err:
        train(tiny_config(tmp_path, *poisoned_objective))
    message = str(err.value)
    assert message.startswith("step 7: non-finite loss or gradient for 3 steps in a row")
    assert f"step 6 in {tmp_path / 'checkpoints'}" in message
    records = {r["step"]: r for r in read_metrics(tmp_path)}
    assert sorted(records) == list(range(1, 8))
    assert [records[s]["nonfinite"] for s in range(1, 8)] == [0, 1, 0, 0, 1, 1, 1]
    assert [records[s]["nonfinite_total"] for s in range(1, 8)] == [0, 1, 1, 1, 2, 3, 4]
    assert np.isnan(records[2]["loss"]) and np.isfinite(records[3]["loss"])
    # The learning rate the optimizer applied does not advance on a skipped step.
    assert records[3]["learning_rate"] == records[2]["learning_rate"]

    # The restart (data fixed) resumes from step 6 and keeps counting from the saved total.
    monkeypatch.setattr(PoisonedNTP, "POISONED", set())
    result = train(tiny_config(tmp_path, *poisoned_objective))
    records = {r["step"]: r for r in read_metrics(tmp_path)}
    assert result.last_step == 8
    assert records[7]["nonfinite"] == 0 and records[7]["nonfinite_total"] == 3
