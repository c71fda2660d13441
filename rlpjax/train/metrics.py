"""Run metrics: JSONL and TensorBoard writers, throughput and model-FLOPs utilisation.

Only process 0 writes files: metrics.jsonl, and samples.jsonl with the sample tables (`run.samples_every`). Every
figure written is computed from what was measured in this run. The run directory may be local or a URL (gs://,
`rlpjax.paths`); the JSONL files are then rewritten whole instead of appended to (`open_jsonl`).
"""

from __future__ import annotations

import functools
import json
import os
import time
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from rlpjax.paths import Path, as_path, is_url

SYNC_SECONDS = 30.0
"""On an object store, the longest a new metrics record waits before metrics.jsonl is uploaded again (besides the
upload before every checkpoint save)."""


class MetricsWriter:
    """Appends one JSON object per logged step (with its wall-clock `time`) to `metrics.jsonl` and mirrors the
    scalars to the configured trackers (`rlpjax.train.trackers`: TensorBoard by default, W&B, trackio); tables of
    sample generations go to `samples.jsonl` and the trackers the same way (`write_table`)."""

    def __init__(self, run_dir: str | os.PathLike, enabled: bool = True, resume_step: int | None = None,
                 cfg=None):
        """`resume_step`: drop records of later steps (written by a run that stopped before its next checkpoint),
        so the file holds one trajectory: the steps this run repeats are written again. `cfg` (the run's Config)
        chooses the trackers and their project, run name and namespace; without it, TensorBoard only."""
        from rlpjax.train.trackers import open_trackers

        self.enabled = enabled
        run_dir = as_path(run_dir)
        self.path = run_dir / "metrics.jsonl"
        self.samples_path = run_dir / "samples.jsonl"
        self._trackers = []
        self._samples_file = None
        self._objective = cfg.run.objective if cfg is not None else "train"
        if enabled:
            from rlpjax import config_io

            names = cfg.run.trackers if cfg is not None else ("tensorboard",)
            self._trackers = open_trackers(
                names, run_dir, resume_step=resume_step,
                config=config_io.to_dict(cfg) if cfg is not None else {},
                project=cfg.run.tracker_project if cfg is not None else "rlpjax",
                name=cfg.run.name if cfg is not None else run_dir.name)
            self._file = open_jsonl(self.path, keep_through_step=resume_step)
            if cfg is not None and cfg.run.samples_every > 0:
                self._samples_file = open_jsonl(self.samples_path, keep_through_step=resume_step)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        """Append one record for `step` (no-op on processes other than 0)."""
        from rlpjax.train.trackers import finite_scalars

        if not self.enabled:
            return
        record = {"step": int(step), "time": round(time.time(), 3), **{k: _plain(v) for k, v in metrics.items()}}
        self._file.append(json.dumps(record))
        scalars = finite_scalars(record, self._objective)
        for tracker in self._trackers:
            tracker.log(int(step), scalars)

    def write_table(self, step: int, name: str, columns: list[str], rows: list[list]) -> None:
        """Append one table of sample generations for `step` to samples.jsonl ({"step", "name", "columns", "rows",
        "time"}) and log it to every tracker under `samples/<name>` (no-op on processes other than 0). The file is
        opened, and a resumed run's later tables dropped, only when the run's config asks for tables."""
        if not self.enabled:
            return
        if self._samples_file is None:
            raise RuntimeError("MetricsWriter.write_table needs a config with run.samples_every > 0")
        record = {"step": int(step), "name": name, "columns": list(columns), "rows": [list(r) for r in rows],
                  "time": round(time.time(), 3)}
        self._samples_file.append(json.dumps(record))
        for tracker in self._trackers:
            tracker.log_table(int(step), name, columns, rows)

    def flush(self) -> None:
        """Make the records written so far durable: the loop calls it before each checkpoint save, so a run killed
        later still has the metrics.jsonl records of every step its resume keeps (and the trackers what they had
        taken in: tensorboardX's writer thread may still hold the last few events)."""
        if self.enabled:
            for jsonl in self._jsonl_files():
                jsonl.sync()
            for tracker in self._trackers:
                tracker.flush()

    def close(self) -> None:
        """Flush and close the files and the trackers."""
        if self.enabled:
            for jsonl in self._jsonl_files():
                jsonl.close()
            for tracker in self._trackers:
                tracker.close()

    def _jsonl_files(self) -> list:
        return [self._file] + ([self._samples_file] if self._samples_file is not None else [])


def open_jsonl(path: Path, keep_through_step: int | None = None):
    """An appendable JSONL log at `path` (`append(line)`, `sync()`, `close()`): a local file appended to, or on an
    object store a whole-object rewrite. With `keep_through_step`, records of later steps are dropped first
    (written by a run that stopped before its next checkpoint), so the file holds one trajectory."""
    return (_ObjectJsonl if is_url(path) else _LocalJsonl)(path, keep_through_step)


class _LocalJsonl:
    """A local JSONL file: each line is appended and flushed at once (a killed run loses at most the line being
    written)."""

    def __init__(self, path: Path, keep_through_step: int | None):
        if keep_through_step is not None and path.exists():
            tmp = path.with_suffix(".jsonl.tmp")
            tmp.write_text(_joined(_records_through(path.read_text().splitlines(), keep_through_step)))
            tmp.replace(path)
        self._file = path.open("a")

    def append(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()

    def sync(self) -> None:
        """Nothing to do: every line is in the file once appended."""

    def close(self) -> None:
        self._file.close()


class _ObjectJsonl:
    """A JSONL object on an object store, which cannot append (gcsfs's mode "a" silently overwrites): the lines stay
    in memory and `sync` uploads the whole object again, before every checkpoint save (`MetricsWriter.flush`), when
    `SYNC_SECONDS` have passed at an append, and at close. A run killed between syncs loses at most the records
    after its newest checkpoint, which its resume writes again; the cost is one upload of the file per sync."""

    def __init__(self, path: Path, keep_through_step: int | None):
        lines = path.read_text().splitlines() if path.exists() else []
        self._lines = lines if keep_through_step is None else _records_through(lines, keep_through_step)
        self._path, self._synced = path, time.monotonic()

    def append(self, line: str) -> None:
        self._lines.append(line)
        if time.monotonic() - self._synced >= SYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        self._path.write_text(_joined(self._lines))
        self._synced = time.monotonic()

    def close(self) -> None:
        self.sync()


def _records_through(lines: list[str], step: int) -> list[str]:
    """The lines whose record's step is at most `step` (an unreadable line, cut short by a killed run, is dropped)."""
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    return kept


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _plain(value):
    value = np.asarray(value)
    return value.item() if value.size == 1 else value.tolist()


def read_metrics(run_dir: str | os.PathLike, file: str = "metrics.jsonl") -> list[dict]:
    """All records of a run's metrics.jsonl (or `file`, e.g. samples.jsonl), local or a URL (for reports and
    tests)."""
    path = as_path(run_dir) / file
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
