"""Run metrics: JSONL and TensorBoard writers, throughput and model-FLOPs utilisation.

Only process 0 writes files. Every figure written is computed from what was measured in this run.
"""

from __future__ import annotations

import functools
import json
import pathlib
import time
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np


class MetricsWriter:
    """Appends one JSON object per logged step (with its wall-clock `time`) to `metrics.jsonl` and mirrors the
    scalars to the configured trackers (`rlpjax.train.trackers`: TensorBoard by default, W&B, trackio)."""

    def __init__(self, run_dir: str | pathlib.Path, enabled: bool = True, resume_step: int | None = None,
                 cfg=None):
        """`resume_step`: drop records of later steps (written by a run that stopped before its next checkpoint),
        so the file holds one trajectory: the steps this run repeats are written again. `cfg` (the run's Config)
        chooses the trackers and their project, run name and namespace; without it, TensorBoard only."""
        from rlpjax.train.trackers import open_trackers

        self.enabled = enabled
        self.path = pathlib.Path(run_dir) / "metrics.jsonl"
        self._trackers = []
        self._objective = cfg.run.objective if cfg is not None else "train"
        if enabled:
            if resume_step is not None and self.path.exists():
                _drop_records_after(self.path, resume_step)
            from rlpjax import config_io

            names = cfg.run.trackers if cfg is not None else ("tensorboard",)
            self._trackers = open_trackers(
                names, pathlib.Path(run_dir), resume_step=resume_step,
                config=config_io.to_dict(cfg) if cfg is not None else {},
                project=cfg.run.tracker_project if cfg is not None else "rlpjax",
                name=cfg.run.name if cfg is not None else pathlib.Path(run_dir).name)
            self._file = self.path.open("a")

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        """Append one record for `step` (no-op on processes other than 0)."""
        from rlpjax.train.trackers import finite_scalars

        if not self.enabled:
            return
        record = {"step": int(step), "time": round(time.time(), 3), **{k: _plain(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        scalars = finite_scalars(record, self._objective)
        for tracker in self._trackers:
            tracker.log(int(step), scalars)

    def close(self) -> None:
        """Flush and close the file and the trackers."""
        if self.enabled:
            self._file.close()
            for tracker in self._trackers:
                tracker.close()


def _drop_records_after(path: pathlib.Path, step: int) -> None:
    """Rewrite `path` without the records of steps after `step` (an unreadable trailing line is dropped too)."""
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a killed run
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    tmp.replace(path)


def _plain(value):
    value = np.asarray(value)
    return value.item() if value.size == 1 else value.tolist()


def read_metrics(run_dir: str | pathlib.Path) -> list[dict]:
    """All records of a run's metrics.jsonl (for reports and tests)."""
    path = pathlib.Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@functools.cache
def measure_peak_tflops(size: int = 2048, repeats: int = 5) -> float:
    """Measured dense matmul TFLOP/s of the first device (float32 on CPU, bfloat16 on accelerators).

    Measured once per process and size: several runs in one process (the main job's base, RLP and CPT arms, a
    benchmark suite) share the figure instead of paying for the matmuls at every start.
    """
    device = jax.devices()[0]
    dtype = jnp.float32 if device.platform == "cpu" else jnp.bfloat16
    a = jax.device_put(jnp.ones((size, size), dtype), device)
    matmul = jax.jit(lambda x: x @ x)
    matmul(a).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = matmul(a)
    out.block_until_ready()
    seconds = (time.perf_counter() - start) / repeats
    return 2 * size**3 / seconds / 1e12


class Throughput:
    """Tokens/s and MFU from the measured wall time of each step (data wait, step and metric fetch; evaluation and
    checkpoint saves are outside the timed span).

    The first step of a process includes compilation: it is reported as `compile_step_s` and left out of the
    averages, except that a window holding only that step reports it (so every logged record carries
    `tokens_per_s` and `mfu`) with `includes_compile` = 1.
    """

    def __init__(self, flops_per_step: float, tokens_per_step: int, peak_tflops_per_device: float):
        self.flops_per_step = flops_per_step
        self.tokens_per_step = tokens_per_step
        self.peak_flops = peak_tflops_per_device * 1e12 * jax.device_count()
        self._seconds, self._steps, self._flops = 0.0, 0, 0.0
        self._compile_step_s: float | None = None
        self._compile_step_flops = 0.0
        self._reported_compile = False

    def add(self, seconds: float, flops: float | None = None) -> None:
        """Record one step that took `seconds` and did `flops` model FLOPs (default: `flops_per_step`)."""
        flops = self.flops_per_step if flops is None else flops
        if self._compile_step_s is None:
            self._compile_step_s, self._compile_step_flops = seconds, flops
        else:
            self._seconds += seconds
            self._steps += 1
            self._flops += flops

    def read(self) -> dict[str, float]:
        """{"tokens_per_s", "step_time_s", "mfu", ...} averaged over the steps since the last read; resets."""
        if self._compile_step_s is None:
            return {}
        out: dict[str, float] = {}
        if not self._reported_compile:
            out["compile_step_s"] = self._compile_step_s
            self._reported_compile = True
        if self._steps:
            seconds, flops = self._seconds / self._steps, self._flops / self._steps
        elif "compile_step_s" in out:
            seconds, flops, out["includes_compile"] = self._compile_step_s, self._compile_step_flops, 1
        else:
            return out
        out.update(tokens_per_s=self.tokens_per_step / seconds, step_time_s=seconds,
                   mfu=flops / seconds / self.peak_flops if self.peak_flops > 0 else 0.0)
        self._seconds, self._steps, self._flops = 0.0, 0, 0.0
        return out
