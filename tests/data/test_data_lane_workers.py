"""data.workers: a host's lanes built in worker processes give the one-process batches, states and stats for any
worker count, a state resumes under another count, and a worker's failure is the caller's, in one line."""

import json

import numpy as np
import pytest

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import build_train_iterator
from rlpjax.data.lane_workers import split_lanes
from data_corpus import sample_texts, write_shards


def _config(tmp_path, **overrides) -> DataConfig:
    write_shards(tmp_path / "web", sample_texts(40), "jsonl", shards=3)
    sources = (SourceConfig(name="web", path=str(tmp_path / "web")), SourceConfig(name="gen", weight=0.5))
    fields = dict(sources=sources, seq_len=24, global_batch_size=6, lanes=3, shuffle_window=4, seed=2,
                  prefetch_batches=0)
    return DataConfig(**(fields | overrides))


def _assert_same(got: dict, want: dict, what: str) -> None:
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=f"{what} {key}")


def test_workers_give_the_one_process_batches_and_states_and_resume_across_counts(tmp_path):
    cfg = _config(tmp_path)
    single = build_train_iterator(cfg)
    want = [next(single) for _ in range(7)]
    pooled = build_train_iterator(_config(tmp_path, workers=2, prefetch_batches=1))
    for step in range(3):
        _assert_same(next(pooled), want[step], f"step {step}")
    state = json.loads(json.dumps(pooled.get_state()))
    pooled.close()
    plain = build_train_iterator(cfg)  # the pooled state resumes without workers ...
    plain.set_state(state)
    for step in range(3, 5):
        _assert_same(next(plain), want[step], f"step {step}")
    resumed = build_train_iterator(_config(tmp_path, workers=3))  # ... and a plain one with another worker count
    resumed.set_state(json.loads(json.dumps(plain.get_state())))
    for step in range(5, 7):
        _assert_same(next(resumed), want[step], f"step {step}")
    assert resumed.get_state() == single.get_state() and resumed.stats() == single.stats()
    resumed.close()


def test_a_user_error_in_a_worker_is_one_config_error(tmp_path):
    cfg = _config(tmp_path, workers=2, sources=(SourceConfig(name="gone", path=str(tmp_path / "missing.jsonl")),))
    with pytest.raises(ConfigError, match="matches no file"):
        build_train_iterator(cfg)


def test_lanes_are_cut_into_ordered_blocks():
    assert split_lanes(range(2, 9), 3) == [range(2, 5), range(5, 7), range(7, 9)]
    assert split_lanes(range(0, 2), 2) == [range(0, 1), range(1, 2)]


def test_a_worker_that_dies_is_named_with_its_exit_code(tmp_path):
    pooled = build_train_iterator(_config(tmp_path, workers=2))
    next(pooled)
    worker_lanes = pooled._box[-1]
    worker_lanes._procs[1].kill()
    with pytest.raises(RuntimeError, match=r"data worker 1 \(lanes 2\.\.2\) died with exit code -9"):
        for _ in range(10):  # the batches it queued before dying come first
            next(pooled)
