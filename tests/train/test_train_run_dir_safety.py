"""A run directory never loses a run: corrupt steps are moved aside and rewritten, all-corrupt and incompatible
resumes are refused in one line, resume-safe changes are allowed and said."""

import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax import config_io
from rlpjax.config import CheckpointConfig
from rlpjax.config_io import ConfigError
from rlpjax.train.checkpoint import CORRUPT_DIR, Checkpointer, abstract_like, config_changes


def _state(value: float):
    return {"w": jnp.full((16, 8), value, jnp.float32)}


def _truncate_step(directory, step: int) -> None:
    files = [p for p in (directory / str(step) / "state").rglob("*") if p.is_file()]
    biggest = max(files, key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])


def test_a_corrupt_step_is_moved_aside_and_its_next_save_is_written(tmp_path):
    ckpt = Checkpointer(tmp_path, CheckpointConfig(async_save=False))
    for step in (1, 2):
        ckpt.save(step, _state(float(step)), {"step": step})
    ckpt.close()
    _truncate_step(tmp_path, 2)
    reader = Checkpointer(tmp_path, CheckpointConfig(async_save=False))
    with pytest.warns(RuntimeWarning, match="moved to"):
        step, _, _, _ = reader.restore_latest(abstract_like(_state(0.0)))
    assert step == 1 and (tmp_path / CORRUPT_DIR / "2").is_dir() and reader.all_steps() == [1]
    reader.save(2, _state(20.0), {"step": 2})  # retraining the interval writes step 2 again
    reader.close()
    again = Checkpointer(tmp_path, CheckpointConfig())
    step, state, data, _ = again.restore_latest(abstract_like(_state(0.0)))
    again.close()
    assert step == 2 and data == {"step": 2}
    np.testing.assert_array_equal(np.asarray(state["w"]), np.full((16, 8), 20.0, np.float32))


def test_when_every_step_is_corrupt_restore_refuses_in_one_line(tmp_path):
    ckpt = Checkpointer(tmp_path, CheckpointConfig(async_save=False))
    ckpt.save(3, _state(3.0), {})
    ckpt.close()
    _truncate_step(tmp_path, 3)
    reader = Checkpointer(tmp_path, CheckpointConfig())
    with pytest.warns(RuntimeWarning), pytest.raises(ConfigError, match="--fresh") as err:
        reader.restore_latest(abstract_like(_state(0.0)))
    reader.close()
    assert "\n" not in str(err.value) and (tmp_path / CORRUPT_DIR / "3").is_dir()


def test_an_incompatible_resume_is_refused_and_a_safe_change_is_said(tmp_path, capsys):
    saved = config_io.to_dict(config_io.resolve(None))
    ckpt = Checkpointer(tmp_path, CheckpointConfig(async_save=False), run_config=saved)
    ckpt.save(5, _state(5.0), {})
    ckpt.close()
    changed_arch = config_io.to_dict(config_io.resolve(None, ["model.num_layers=3"]))
    reader = Checkpointer(tmp_path, CheckpointConfig(), run_config=changed_arch)
    with pytest.raises(ConfigError, match=r"model\.num_layers: 2 -> 3.*--fresh.*run\.name") as err:
        reader.restore_latest(abstract_like(_state(0.0)))
    reader.close()
    assert "\n" not in str(err.value) and (tmp_path / "5").is_dir()  # nothing was discarded
    longer = config_io.to_dict(config_io.resolve(None, ["run.steps=500", "run.log_every=10"]))
    reader = Checkpointer(tmp_path, CheckpointConfig(), run_config=longer)
    assert reader.restore_latest(abstract_like(_state(0.0)))[0] == 5
    reader.close()
    out = capsys.readouterr().out
    assert "run.steps: 50 -> 500" in out and "run.log_every: 1 -> 10" in out


def test_config_changes_classifies_fields():
    base = config_io.to_dict(config_io.resolve(None))
    other = config_io.to_dict(config_io.resolve(None, ["mesh.fsdp=2", "data.sources.0.path=x.jsonl",
                                                       "checkpoint.keep_last=9"]))
    unsafe, safe = config_changes(base, other)
    assert unsafe == ["data.sources.0.path: '' -> 'x.jsonl'"]
    assert sorted(safe) == ["checkpoint.keep_last: 3 -> 9", "mesh.fsdp: -1 -> 2"]
    older_schema = {**base, "run": {k: v for k, v in base["run"].items() if k != "trackers"}}
    assert config_changes(older_schema, base) == ([], [])  # a field added since the checkpoint is not a change


def test_rlpjax_train_refuses_a_changed_architecture_in_one_line_then_fresh_starts_over(tmp_path, capfd):
    """The probe of issue 14: a rerun with another architecture used to discard the run silently."""
    from rlpjax.cli import main
    from train_helpers import QUICKSTART, TINY

    run_dir = tmp_path / "run"
    base = ["train", "--config", QUICKSTART, *TINY, f"run.run_dir={run_dir}", "run.steps=2"]
    assert main(base) == 0
    metrics_before = (run_dir / "metrics.jsonl").read_text()
    capfd.readouterr()
    assert main([*base, "model.num_layers=3"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.num_layers: 2 -> 3" in err[0] and "--fresh" in err[0], err
    assert (run_dir / "checkpoints" / "2").is_dir() and (run_dir / "metrics.jsonl").read_text() == metrics_before
    assert main([*base, "model.num_layers=3", "--fresh"]) == 0
    assert "--fresh: deleted" in capfd.readouterr().out


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_during_start_up_exits_cleanly_in_one_line(tmp_path, signame):
    """Before the first step (imports, model build, compilation) a preemption signal is one line and exit 0."""
    import signal
    import subprocess
    import time

    from train_helpers import child_env, train_command

    process = subprocess.Popen(train_command(tmp_path / "run", "run.steps=2"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=child_env())
    # run_info.json is written as `train` starts, before the model is built and the first step compiles (seconds on
    # any machine): a signal sent then lands in start-up, whatever the machine's speed (a fixed sleep did not).
    deadline = time.monotonic() + 120
    while not (tmp_path / "run" / "run_info.json").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(getattr(signal, signame))
    out, err = process.communicate(timeout=120)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if process.returncode == 0 and not lines and "finished at step 2" in out:
        pytest.skip("the run finished before the signal arrived (machine much faster than assumed)")
    assert process.returncode == 0, err
    assert len(lines) == 1 and f"{signame} received" in lines[0], err
