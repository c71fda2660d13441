"""gs:// run directories end to end against a local GCS emulator, so the real client code runs: gcsfs through
etils.epath (config.json, run_info.json, metrics.jsonl, eval reports), TensorStore's own GCS driver (orbax's arrays)
and google-cloud-storage (tensorboardX's events file).

One cycle: train, SIGKILL after the first checkpoint is committed, rerun (it must resume from the newest committed
step and finish), check metrics.jsonl and the TensorBoard events on the bucket, then `rlpjax eval` the gs:// run.
The bucket is read back here with gcsfs directly, independently of rlpjax's path code.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import gcs_emulator
from train_helpers import QUICKSTART, REPO, child_env, train_command

BUCKET = "rlpjax-test"
RUN = f"gs://{BUCKET}/run"


@pytest.fixture(scope="module")
def gcs():
    """(environment of a child process pointed at the emulator, gcsfs filesystem on it) while the emulator runs."""
    pytest.importorskip("gcp_storage_emulator", reason="gcp-storage-emulator (in the test extra) is not installed")
    import gcsfs.core

    server, url = gcs_emulator.start(BUCKET)
    env = {**child_env(8), **gcs_emulator.emulator_env(url)}
    try:
        # the plain filesystem class (not gcsfs's zonal extension, see emulator_env), without listing caches
        yield env, gcsfs.core.GCSFileSystem(endpoint_url=url, token="anon", use_listings_cache=False)
    finally:
        server.kill()
        server.wait(timeout=30)


def _committed_steps(fs) -> list[int]:
    """Checkpoint steps orbax finished on the bucket (on GCS it writes commit_success.txt last, instead of a
    rename)."""
    return sorted(int(path.split("/")[-2]) for path in fs.glob(f"{BUCKET}/run/checkpoints/*/commit_success.txt"))


def _events(data: bytes) -> list:
    """The Event protos of one TensorBoard events file (TFRecords read by `tb_events.read_records`)."""
    from tensorboardX.proto.event_pb2 import Event

    from rlpjax.train.tb_events import read_records

    return [Event.FromString(record) for record in read_records(data)]


def _losses_and_purge(events) -> tuple[list[int], int | None]:
    """(steps with a train/loss scalar, the step of the SessionLog.START purge marker or None) of one file."""
    steps = [e.step for e in events if any(v.tag == "train/loss" for v in e.summary.value)]
    starts = [e.step for e in events if e.HasField("session_log") and e.session_log.status == e.session_log.START]
    return steps, (starts[0] if starts else None)


def test_train_sigkill_resume_and_eval_on_a_gs_run_directory(gcs):
    env, fs = gcs
    # a run far longer than the test waits for, checkpointing every 2 steps; the rerun shortens it (run.steps is
    # safe to change across a resume), so it finishes 2 steps after the step it resumes from
    first = subprocess.Popen(train_command(RUN, "run.steps=1000", "checkpoint.every_steps=2", "run.log_every=1"),
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not _committed_steps(fs):
        assert first.poll() is None, f"training ended (rc {first.returncode}) before a checkpoint: {first.stdout.read()}"
        assert time.monotonic() < deadline, "no checkpoint was committed to the bucket within 120 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    first.stdout.close()
    resumed_from = _committed_steps(fs)[-1]
    final = resumed_from + 2

    resume_started = time.time()
    rerun = subprocess.run(train_command(RUN, f"run.steps={final}", "checkpoint.every_steps=2", "run.log_every=1"),
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"[rlpjax] resuming {RUN} from step {resumed_from}" in rerun.stdout
    assert f"finished at step {final}" in rerun.stdout
    assert _committed_steps(fs)[-1] == final
    assert json.loads(fs.cat(f"{BUCKET}/run/config.json"))["run"]["steps"] == final  # rewritten by the rerun

    # metrics.jsonl: one record per step; up to the resume step from the killed run, after it from the rerun
    records = [json.loads(line) for line in fs.cat(f"{BUCKET}/run/metrics.jsonl").decode().splitlines()]
    assert [r["step"] for r in records] == list(range(1, final + 1))
    assert all((r["time"] < resume_started) == (r["step"] <= resumed_from) for r in records)

    # TensorBoard: one events file per run. The rerun folded the killed run's events up to the resume step into its
    # own file (only those of its last upload: tensorboardX's writer thread may not have taken the newest ones in)
    # and deleted it; closed cleanly, the file then holds all of the rerun's own steps
    files = sorted(fs.glob(f"{BUCKET}/run/tensorboard/events.out.tfevents.*"))
    assert len(files) == 1, files
    steps, purge = _losses_and_purge(_events(fs.cat(files[0])))
    assert purge is None
    folded = [s for s in steps if s <= resumed_from]
    assert folded == list(range(1, len(folded) + 1)) and steps[len(folded):] == list(range(resumed_from + 1, final + 1))

    # eval reads the run's newest checkpoint from the bucket and writes its report beside it
    evaluate = subprocess.run(
        [sys.executable, "-m", "rlpjax.cli", "eval", "--checkpoint", RUN, "--ops", "2", "--per-op", "2",
         "--templates", "A", "--modes", "forward", "--samples", "2", "--max-new-tokens", "8", "--batch-size", "8",
         "--no-progress"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert evaluate.returncode == 0, evaluate.stdout + evaluate.stderr
    out = f"{BUCKET}/run/eval/controlled"
    assert sorted(p.split("/")[-1] for p in fs.ls(out)) == [
        "examples.jsonl", "failures.png", "nll_by_op.png", "passk_by_context.png", "passk_by_op.png",
        "passk_by_split.png", "report.json", "report.md"]
    report = json.loads(fs.cat(f"{out}/report.json"))
    assert report["meta"]["checkpoint"] == f"run directory {RUN}, step {final} (newest)"
    assert report["by_op"]["2"]["problems"] == 2
    assert fs.cat(f"{out}/passk_by_op.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fs.cat(f"{out}/examples.jsonl").decode().splitlines()) >= 1

    # the run exports to a Hugging Face directory on the bucket, which loads back with the run's architecture
    hf_dir = f"gs://{BUCKET}/hf"
    convert = subprocess.run([sys.executable, "-m", "rlpjax.cli", "convert", "rlpjax-to-hf", RUN, hf_dir],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert convert.returncode == 0, convert.stdout + convert.stderr
    assert {"config.json", "generation_config.json", "model.safetensors"} <= {
        p.split("/")[-1] for p in fs.ls(f"{BUCKET}/hf")}
    check = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import json
        from rlpjax.model.hf import load_hf_model
        from rlpjax.paths import local_dir
        with local_dir("{hf_dir}") as local:
            cfg, _ = load_hf_model(local)
        saved = json.loads(open("/dev/stdin").read())
        print(cfg.num_layers == saved["model"]["num_layers"], cfg.hidden_size == saved["model"]["hidden_size"])
        """)], input=fs.cat(f"{BUCKET}/run/config.json").decode(), cwd=REPO, env=env, capture_output=True,
        text=True, timeout=300)
    assert check.stdout.split() == ["True", "True"], check.stdout + check.stderr


def test_move_and_local_dir_on_gcs(gcs):
    """`paths.move` (copy then delete: no rename on an object store) and `paths.local_dir` (a temporary download)
    against the emulator, in a child process so that its gcsfs reads the emulator's environment."""
    env, fs = gcs
    fs.pipe({f"{BUCKET}/tree/a.txt": b"alpha", f"{BUCKET}/tree/sub/b.bin": b"\x00\x01"})
    script = textwrap.dedent(f"""
        import os
        from rlpjax.paths import as_path, local_dir, move
        src, dst = as_path("gs://{BUCKET}/tree"), as_path("gs://{BUCKET}/moved/tree")
        move(src, dst)
        with local_dir(dst) as local:
            print(sorted(os.path.relpath(os.path.join(r, f), local) for r, _, fs in os.walk(local) for f in fs))
            print((local / "sub" / "b.bin").read_bytes())
        print(os.path.exists(local))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['a.txt', 'sub/b.bin']", "b'\\x00\\x01'", "False"]
    assert fs.find(f"{BUCKET}/tree") == []
    assert fs.cat(f"{BUCKET}/moved/tree/a.txt") == b"alpha"


def test_data_tokenize_writes_a_token_cache_to_gs(gcs, tmp_path):
    """`rlpjax data tokenize --out gs://...` uploads the same bytes as a local run, and the tokens source finds its
    manifest and shards there. (Training then reads the shards through array_record's own GCS client, which cannot
    be pointed at this emulator, so that read is not run here; the arrayrecord format shares it.)"""
    env, fs = gcs
    texts = [f"document {i} " + "word " * (i % 7) for i in range(40)]
    (tmp_path / "text.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    local = tmp_path / "cache"
    script = textwrap.dedent(f"""
        from rlpjax.cli import main
        from rlpjax.data import token_cache
        for out in ("{local}", "gs://{BUCKET}/cache"):
            assert main(["data", "tokenize", "--input", "{tmp_path / 'text.jsonl'}", "--out", out,
                         "--shard-tokens", "200"]) == 0
        manifest = token_cache.read_manifest("gs://{BUCKET}/cache")
        token_cache.check_tokenizer(manifest, "byte", "gs://{BUCKET}/cache")
        print(token_cache.shard_paths(manifest, "gs://{BUCKET}/cache")[0])
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    names = sorted(path.name for path in local.iterdir())
    assert "manifest.json" in names and len(names) > 2
    for name in names:
        assert fs.cat(f"{BUCKET}/cache/{name}") == (local / name).read_bytes(), name
    assert done.stdout.strip().splitlines()[-1] == f"gs://{BUCKET}/cache/tokens-00000.array_record"


def test_a_gs_run_directory_without_gcsfs_is_one_line_naming_the_extra(monkeypatch, capsys):
    import importlib.util

    from rlpjax.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("gcsfs", "tensorflow") else real(name, *a))
    assert main(["train", "--config", QUICKSTART, f"run.run_dir={RUN}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"run.run_dir {RUN!r} needs the gcsfs package" in err and 'pip install -e ".[gcp]"' in err
