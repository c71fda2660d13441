"""Trackers beside metrics.jsonl: namespaced tags, TensorBoard purge on resume, W&B (offline) and trackio runs,
the plain line log mode, and a wall-clock time in every record."""

import json
import sqlite3

import pytest

from rlpjax.train.trackers import tag
from train_helpers import tiny_config


def test_tags_are_namespaced():
    assert tag("loss", "rlp") == "train/loss" and tag("mfu", "ntp") == "train/mfu"
    assert tag("reward_mean", "rlp") == "rlp/reward_mean" and tag("eval/loss", "rlp") == "eval/loss"
    assert tag("data/docs/web", "ntp") == "data/docs/web"


def _events(directory) -> list:
    """Every Event proto of the events files in `directory` (TFRecords read by `tb_events.read_records`)."""
    from tensorboardX.proto import event_pb2

    from rlpjax.train.tb_events import read_records

    return [event_pb2.Event.FromString(record) for path in sorted(directory.glob("events.out.tfevents.*"))
            for record in read_records(path.read_bytes())]


def test_a_run_feeds_every_tracker_and_logs_lines(tmp_path, monkeypatch, capsys):
    pytest.importorskip("wandb", reason="the trackers extra (wandb) is not installed")
    pytest.importorskip("trackio", reason="the trackers extra (trackio) is not installed")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    import sys

    import trackio  # noqa: F401  (trackio reads TRACKIO_DIR once, at import: point every module's copy here)

    for name, module in list(sys.modules.items()):
        if name.startswith("trackio") and hasattr(module, "TRACKIO_DIR"):
            monkeypatch.setattr(module, "TRACKIO_DIR", tmp_path / "trackio")
    from rlpjax.train.loop import train

    run_dir = tmp_path / "run"
    common = ["run.trackers=tensorboard,wandb,trackio", "run.log_mode=lines", "run.progress=true",
              "run.log_every=1", "run.tracker_project=rlpjax-test"]
    train(tiny_config(run_dir, "run.steps=2", *common))
    out = capsys.readouterr().out
    assert "compiles the step functions first" in out and "step 2/2 loss" in out and "ETA" in out
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(isinstance(r["time"], float) for r in records)

    train(tiny_config(run_dir, "run.steps=3", *common))  # resume: the first session's events join the new file
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 1
    events = _events(run_dir / "tensorboard")
    tags = {v.tag for e in events for v in e.summary.value}
    assert {"train/loss", "train/grad_norm", "train/learning_rate"} <= tags and "loss" not in tags
    assert [e.step for e in events for v in e.summary.value if v.tag == "train/loss"] == [1, 2, 3]

    wandb_files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert wandb_files and all(b"train/loss" in f.read_bytes() for f in wandb_files)
    (db,) = list(tmp_path.rglob("rlpjax-test.db"))  # trackio's store for the project, kept inside tmp_path
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT metrics FROM metrics").fetchall()
    assert any(b"train/loss" in (row[0] if isinstance(row[0], bytes) else row[0].encode()) for row in rows)


def test_a_resumed_writer_folds_earlier_files_through_the_resume_step_and_keeps_a_cut_tail_out(tmp_path):
    """Earlier files as an older version left them (one per session: steps 1-4, then a purge marker at 3 and steps
    3-6, ending in a record cut by a kill), folded at resume step 5: one file holding steps 1-2 of the first session
    and 3-5 of the second with their wall times, then the new session's own step 6."""
    from tensorboardX import SummaryWriter

    from rlpjax.train.tb_events import EVENTS_GLOB, fold_earlier_files

    log_dir = tmp_path / "tb"
    for steps, suffix, purge in ((range(1, 5), ".a", None), (range(3, 7), ".b", 3)):
        writer = SummaryWriter(str(log_dir), filename_suffix=suffix, purge_step=purge)
        for step in steps:
            writer.add_scalar("train/loss", float(step) + (0.5 if purge else 0.0), step, walltime=1000.0 + step)
        writer.close()
    (cut,) = log_dir.glob("*.b")
    cut.write_bytes(cut.read_bytes() + b"\x10\x00\x00")  # a record cut short by a kill
    earlier = sorted(log_dir.glob(EVENTS_GLOB), key=lambda p: p.suffix)
    writer = SummaryWriter(str(log_dir), filename_suffix=".c")
    fold_earlier_files(writer, earlier, last_step=5)
    writer.add_scalar("train/loss", 6.0, 6, walltime=2000.0)
    writer.close()
    (only,) = log_dir.glob(EVENTS_GLOB)
    assert only.name.endswith(".c")
    losses = [(e.step, v.simple_value, e.wall_time) for e in _events(log_dir) for v in e.summary.value]
    assert losses == [(1, 1.0, 1001.0), (2, 2.0, 1002.0), (3, 3.5, 1003.0), (4, 4.5, 1004.0), (5, 5.5, 1005.0),
                      (6, 6.0, 2000.0)]
