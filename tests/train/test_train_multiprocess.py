"""Multi-host: 2 processes x 4 CPU devices train and checkpoint; 1 process x 8 devices resumes the same trajectory."""

import subprocess

import numpy as np

from rlpjax.train.loop import train
from train_helpers import REPO, child_env, losses, tiny_config  # noqa: F401

# A constant schedule after warmup: the learning rate of a step does not depend on run.steps, so a 3-step run
# and a 6-step run follow the same trajectory.
RUN = ["optimizer.schedule=constant", "optimizer.warmup_steps=2", "checkpoint.every_steps=1", "run.seed=1"]


def test_two_processes_checkpoint_and_one_process_continues_like_a_single_process_run(tmp_path, capsys):
    multi = tmp_path / "multi"
    args = ["--config", str(REPO / "experiments" / "quickstart.py"), "data.seq_len=32", "model.max_seq_len=64",
            "run.progress=false", "run.peak_tflops=1", f"run.run_dir={multi}", "run.steps=3", *RUN]
    env = child_env(4)
    proc = subprocess.run([str(REPO / "launch" / "local.sh"), "2", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(losses(multi)) == [1, 2, 3]

    train(tiny_config(multi, "run.steps=6", *RUN))  # this process: 1 process x 8 devices
    assert "from step 3" in capsys.readouterr().out
    single = tmp_path / "single"
    train(tiny_config(single, "run.steps=6", *RUN))
    got, want = losses(multi), losses(single)
    assert sorted(got) == sorted(want) == list(range(1, 7))
    # Equal up to the summation order of cross-process reductions (gloo) versus in-process ones.
    np.testing.assert_allclose([got[s] for s in range(1, 7)], [want[s] for s in range(1, 7)], rtol=2e-5)


def test_local_launcher_dry_run_prints_one_command_per_process():
    out = subprocess.run([str(REPO / "launch" / "local.sh"), "--dry-run", "3", "run.steps=2"], cwd=REPO,
                         env=child_env(2), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines):
        assert f"RLPJAX_PROCESS_ID={i} " in line and "RLPJAX_NUM_PROCESSES=3 " in line
        assert "xla_force_host_platform_device_count=2" in line and "-m rlpjax.cli train run.steps=2" in line


def test_local_launcher_help_and_bad_count():
    helped = subprocess.run([str(REPO / "launch" / "local.sh"), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "Usage: launch/local.sh" in helped.stdout
    bad = subprocess.run([str(REPO / "launch" / "local.sh"), "two"], capture_output=True, text=True)
    assert bad.returncode == 2 and "number of processes" in bad.stderr


def test_local_launcher_fails_when_a_process_fails(tmp_path):
    bad = subprocess.run([str(REPO / "launch" / "local.sh"), "2", "--config", str(tmp_path / "missing.py")],
                         cwd=REPO, env=child_env(1), capture_output=True, text=True, timeout=200)
    assert bad.returncode != 0
