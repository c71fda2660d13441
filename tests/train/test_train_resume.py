"""Exact resume: SIGKILL mid-run then restart gives bitwise the uninterrupted losses; SIGTERM saves and exits 0."""

import signal
import subprocess

import pytest

from rlpjax.train.checkpoint import Checkpointer
from rlpjax.config import CheckpointConfig
from rlpjax.train.loop import train
from train_helpers import REPO, child_env, losses, tiny_config, train_command, wait_for_step


STEPS = 16
RUN = [f"run.steps={STEPS}", "checkpoint.every_steps=1"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """step -> loss of the uninterrupted run."""
    run_dir = tmp_path_factory.mktemp("reference")
    train(tiny_config(run_dir, *RUN))
    got = losses(run_dir)
    assert sorted(got) == list(range(1, STEPS + 1))
    return got


def _start(run_dir) -> subprocess.Popen:
    return subprocess.Popen(train_command(run_dir, *RUN), cwd=REPO, env=child_env(8), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _saved_steps(run_dir) -> list[int]:
    ckpt = Checkpointer(run_dir / "checkpoints", CheckpointConfig())
    try:
        return ckpt.all_steps()
    finally:
        ckpt.close()


def test_sigkill_then_restart_reproduces_every_loss_bitwise(tmp_path, reference, capsys):
    proc = _start(tmp_path)
    wait_for_step(tmp_path, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    resumed_from = _saved_steps(tmp_path)[-1]
    assert 1 <= resumed_from < STEPS, "the kill came too late to test a resume"
    result = train(tiny_config(tmp_path, *RUN))
    assert f"from step {resumed_from}" in capsys.readouterr().out
    assert result.last_step == STEPS
    assert losses(tmp_path) == reference  # every step, bitwise (JSON keeps all float32 digits)


def test_sigterm_saves_the_step_reached_and_the_restart_continues(tmp_path, reference, capsys):
    proc = _start(tmp_path)
    wait_for_step(tmp_path, 3, proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    reached = max(losses(tmp_path))
    assert reached < STEPS, "SIGTERM came too late to test a stop"
    assert out.strip().splitlines()[-1].startswith(f"[rlpjax] SIGTERM received: saved step {reached} to ")
    assert _saved_steps(tmp_path)[-1] == reached
    train(tiny_config(tmp_path, *RUN))
    assert f"from step {reached}" in capsys.readouterr().out
    assert losses(tmp_path) == reference
