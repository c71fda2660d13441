"""SIGTERM / SIGINT handling: the loop finishes the current step, saves, and exits 0.

On several processes the flag is agreed on by all of them (any process preempted means every process saves at
the same step), since a checkpoint needs every host.
"""

from __future__ import annotations

import signal

import jax
import numpy as np


class PreemptionGuard:
    """Records SIGTERM/SIGINT instead of dying; `requested()` tells the loop to save and stop."""

    def __init__(self):
        self._signal: int | None = None
        self._previous = {}

    def __enter__(self) -> "PreemptionGuard":
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, _frame) -> None:
        self._signal = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self._signal).name if self._signal else ""

    def requested(self) -> bool:
        """True when any process received a stop signal (a collective when there are several processes)."""
        local = self._signal is not None
        if jax.process_count() == 1:
            return local
        from jax.experimental import multihost_utils

        return bool(np.any(multihost_utils.process_allgather(np.array([local]))))
