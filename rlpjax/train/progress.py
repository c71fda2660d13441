"""A tqdm progress bar with ETA and the key metrics of the latest step."""

from __future__ import annotations

from tqdm.auto import tqdm

KEY_METRICS = ("loss", "reward_mean", "grad_norm", "tokens_per_s", "mfu")
"""Shown in the bar when present, in this order."""


class Progress:
    def __init__(self, start_step: int, total_steps: int, enabled: bool = True, desc: str = "train"):
        self._bar = tqdm(total=total_steps, initial=start_step, desc=desc, disable=not enabled,
                         dynamic_ncols=True, leave=True)
        self._step = start_step

    def update(self, step: int, metrics: dict) -> None:
        shown = {k: f"{metrics[k]:.4g}" for k in KEY_METRICS if k in metrics}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(step - self._step)
        self._step = step

    def close(self) -> None:
        self._bar.close()
