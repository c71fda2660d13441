"""Progress of a run: a tqdm bar with ETA and the key metrics (`run.log_mode=bar`), or one plain line every
`run.log_every` steps (`lines`, for `nohup` logs and log collectors, where a bar's carriage returns are noise).

Both say what the first step is doing, since it includes compilation and can take minutes.
"""

from __future__ import annotations

import time

from tqdm.auto import tqdm

KEY_METRICS = ("loss", "reward_mean", "grad_norm", "tokens_per_s", "mfu")
"""Shown when present, in this order. RLP's and GRPO's `loss` is the clipped surrogate, which is 0 at ratio 1 by
construction (one PPO epoch): the reward beside it is what shows learning."""

LOG_MODES = ("bar", "lines")


class Progress:
    def __init__(self, start_step: int, total_steps: int, enabled: bool = True, desc: str = "train",
                 mode: str = "bar", every: int = 1):
        self._mode, self._every, self._desc, self._enabled = mode, max(1, every), desc, enabled
        self._total, self._step, self._start = total_steps, start_step, (start_step, time.perf_counter())
        self._bar = None
        if mode == "bar":
            self._bar = tqdm(total=total_steps, initial=start_step, desc=desc, disable=not enabled,
                             dynamic_ncols=True, leave=True)
            if start_step < total_steps:
                self._bar.set_postfix_str("compiling the first step ...")
        elif enabled and start_step < total_steps:
            print(f"[rlpjax] {desc}: step {start_step + 1} of {total_steps} compiles the step functions first "
                  "(can take minutes on a large model)", flush=True)

    def update(self, step: int, metrics: dict) -> None:
        shown = {k: f"{metrics[k]:.4g}" for k in KEY_METRICS if k in metrics}
        if self._bar is not None:
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(step - self._step)
        elif self._enabled and (step % self._every == 0 or step == self._total):
            first, started = self._start
            per_step = (time.perf_counter() - started) / max(1, step - first)
            eta = per_step * (self._total - step)
            fields = " ".join(f"{k} {v}" for k, v in shown.items())
            print(f"[rlpjax] {self._desc}: step {step}/{self._total} {fields} | {per_step:.3g} s/step, "
                  f"ETA {_duration(eta)}", flush=True)
        self._step = step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
