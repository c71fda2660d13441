"""Shared helpers of the trainer tests: a tiny NTP config, in-process and subprocess runs, reading metrics."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time


from rlpjax import config_io
from rlpjax.train.metrics import read_metrics

REPO = pathlib.Path(__file__).resolve().parents[2]
QUICKSTART = str(REPO / "experiments" / "quickstart.py")
TINY = ["data.seq_len=32", "model.max_seq_len=64", "data.global_batch_size=8", "run.progress=false",
        "run.peak_tflops=1", "checkpoint.keep_last=2"]
"""Overrides making the quickstart model small and fast on CPU."""


def tiny_config(run_dir, *overrides: str):
    """The quickstart config at toy size, writing to `run_dir`."""
    return config_io.resolve(QUICKSTART, [*TINY, f"run.run_dir={run_dir}", *overrides])


def train_command(run_dir, *overrides: str) -> list[str]:
    """`rlpjax train` with the same tiny config, as a subprocess command."""
    return [sys.executable, "-m", "rlpjax.cli", "train", "--config", QUICKSTART, *TINY, f"run.run_dir={run_dir}",
            *overrides]


def child_env(devices: int = 8) -> dict[str, str]:
    """Environment of a child JAX process on CPU with `devices` devices (replacing the count the parent forced)."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
    env["JAX_PLATFORMS"] = "cpu"
    env["RLPJAX_LOCAL_DEVICES"] = str(devices)
    for key in ("RLPJAX_COORDINATOR", "RLPJAX_NUM_PROCESSES", "RLPJAX_PROCESS_ID"):
        env.pop(key, None)
    return env


def losses(run_dir) -> dict[int, float]:
    """step -> loss of a run's metrics.jsonl (training records only)."""
    return {r["step"]: r["loss"] for r in read_metrics(run_dir) if "loss" in r}


def wait_for_step(run_dir, step: int, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    """Block until the run's metrics.jsonl records `step` (fails if the process ends or time runs out first)."""
    path = pathlib.Path(run_dir) / "metrics.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and any(f'"step": {step},' in line for line in path.read_text().splitlines()):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the training process ended (rc {proc.returncode}) before step {step}: "
                                 f"{proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.02)
    raise AssertionError(f"step {step} did not appear in {path} within {timeout} s")
