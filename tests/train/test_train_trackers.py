"""Trackers beside metrics.jsonl: namespaced tags, TensorBoard purge on resume, W&B (offline) and trackio runs,
the plain line log mode, and a wall-clock time in every record."""

import json
import sqlite3
import struct

import pytest

from rlpjax.config_checks import MULTI_CHOICES
from rlpjax.train.trackers import TRACKER_NAMES, tag
from train_helpers import tiny_config


def test_tags_are_namespaced():
    assert tag("loss", "rlp") == "train/loss" and tag("mfu", "ntp") == "train/mfu"
    assert tag("reward_mean", "rlp") == "rlp/reward_mean" and tag("eval/loss", "rlp") == "eval/loss"
    assert tag("data/docs/web", "ntp") == "data/docs/web"
    assert MULTI_CHOICES["run.trackers"] == TRACKER_NAMES


def _events(directory) -> list:
    """Every Event proto of the TFRecord files in `directory` (length, crc, payload, crc framing)."""
    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset: offset + 8])
            payload = data[offset + 12: offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event()
            event.ParseFromString(payload)
            events.append(event)
    return events


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

    train(tiny_config(run_dir, "run.steps=3", *common))  # resume: TensorBoard purges the replayed steps
    events = _events(run_dir / "tensorboard")
    tags = {v.tag for e in events for v in e.summary.value}
    assert {"train/loss", "train/grad_norm", "train/learning_rate"} <= tags and "loss" not in tags
    starts = [e.step for e in events if e.HasField("session_log") and e.session_log.status == 1]
    assert starts == [3]

    wandb_files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert wandb_files and all(b"train/loss" in f.read_bytes() for f in wandb_files)
    (db,) = list(tmp_path.rglob("rlpjax-test.db"))  # trackio's store for the project, kept inside tmp_path
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT metrics FROM metrics").fetchall()
    assert any(b"train/loss" in (row[0] if isinstance(row[0], bytes) else row[0].encode()) for row in rows)
