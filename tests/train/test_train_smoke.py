"""CPU smoke run on real web text: experiments/c4_ntp.py, loss falls over 50 steps; the run directory's files."""

import dataclasses
import json

import numpy as np

from rlpjax import __version__, config_io
from rlpjax.config import SourceConfig
from rlpjax.train.loop import train
from rlpjax.train.metrics import read_metrics
from train_helpers import REPO



def test_c4_ntp_loss_falls_over_50_steps(tmp_path, shared_data, monkeypatch):
    monkeypatch.chdir(REPO)  # the preset's paths are relative to the repository root
    cfg = config_io.resolve("experiments/c4_ntp.py", [f"run.run_dir={tmp_path}", "run.progress=false",
                                                      "run.peak_tflops=1", "run.eval_every=25", "run.eval_batches=2"])
    eval_source = SourceConfig(name="c4_eval", path=str(shared_data / "web" / "c4_en_sample_1000.jsonl"), format="jsonl")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, eval_sources=(eval_source,)))
    result = train(cfg)
    assert result.last_step == 50
    records = read_metrics(tmp_path)
    train_records = [r for r in records if "loss" in r]
    assert [r["step"] for r in train_records] == list(range(1, 51))
    loss = np.array([r["loss"] for r in train_records])
    assert np.all(np.isfinite(loss))
    assert loss[-5:].mean() < loss[:5].mean() - 1.0, f"loss did not fall: {loss[:5]} -> {loss[-5:]}"
    for r in train_records:
        assert r["tokens_per_s"] > 0 and 0 < r["mfu"] < 1 and r["perplexity"] > 1 and r["grad_norm"] > 0
    evals = [r for r in records if "eval/loss" in r]
    assert [r["step"] for r in evals] == [25, 50] and evals[1]["eval/loss"] < evals[0]["eval/loss"]
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["run"]["steps"] == 50 and saved["data"]["tokenizer"].endswith("stories260K")
    assert json.loads((tmp_path / "run_info.json").read_text())["rlpjax_version"] == __version__
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == [25, 50]
