"""Per-host lanes: two hosts' rows are the one-process batch's rows, and their merged state resumes on one process."""

import json

import numpy as np
import pytest

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import build_train_iterator, merge_states
from data_corpus import sample_texts, write_shards


def _config(tmp_path) -> DataConfig:
    write_shards(tmp_path / "web", sample_texts(30), "jsonl", shards=1)
    write_shards(tmp_path / "ar", sample_texts(17), "arrayrecord", shards=2)
    sources = (SourceConfig(name="web", path=str(tmp_path / "web")), SourceConfig(name="ar", path=str(tmp_path / "ar")),
               SourceConfig(name="gen"))
    return DataConfig(sources=sources, seq_len=48, global_batch_size=4, shuffle_window=3, seed=3, prefetch_batches=0)


def test_two_hosts_give_the_one_process_rows_and_resume_on_one_process(tmp_path):
    cfg = _config(tmp_path)
    single = build_train_iterator(cfg)
    want = [next(single) for _ in range(9)]
    hosts = [build_train_iterator(cfg, process_index=p, process_count=2) for p in range(2)]
    for step in range(5):
        parts = [next(host) for host in hosts]
        for key, value in want[step].items():
            np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), value, err_msg=key)
    state = json.loads(json.dumps(merge_states([host.get_state() for host in hosts])))
    resumed = build_train_iterator(cfg)
    resumed.set_state(state)
    for step in range(5, 9):
        got = next(resumed)
        for key, value in want[step].items():
            np.testing.assert_array_equal(got[key], value, err_msg=f"step {step} {key}")
    assert resumed.stats() == single.stats()


def test_a_host_state_alone_and_an_old_state_are_refused_in_one_line(tmp_path):
    cfg = _config(tmp_path)
    host0 = build_train_iterator(cfg, process_index=0, process_count=2)
    with pytest.raises(ConfigError, match="merged over every process"):
        build_train_iterator(cfg).set_state(host0.get_state())
    with pytest.raises(ConfigError, match="predates per-host lanes"):
        build_train_iterator(cfg).set_state({"version": 1})
    with pytest.raises(ConfigError, match="predates the grain dataset graph .*start the run afresh"):
        build_train_iterator(cfg).set_state({"version": 2, "lanes": {}})
