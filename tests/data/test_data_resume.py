"""Exact resume: N batches, save the state with orbax, restore in a new process: the next M batches are N+1..N+M."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import orbax.checkpoint as ocp
import pytest

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.config_io import ConfigError, to_dict
from rlpjax.data import build_train_iterator
from data_corpus import sample_texts, write_shards

WORKER = pathlib.Path(__file__).with_name("data_resume_worker.py")


def _config(tmp_path: pathlib.Path, mode: str, prefetch: int) -> DataConfig:
    """A shuffled, multi-epoch mixture of 3 JSONL shards (one gzip), ArrayRecord shards and the built-in corpus."""
    texts = sample_texts(37)
    write_shards(tmp_path / "web", texts[:20], "jsonl", shards=2)
    write_shards(tmp_path / "web", texts[20:25], "jsonl.gz", shards=1)
    write_shards(tmp_path / "ar", texts[25:], "arrayrecord", shards=2)
    sources = (SourceConfig(name="web", path=str(tmp_path / "web" / "part-*"), weight=2.0),
               SourceConfig(name="ar", path=str(tmp_path / "ar"), weight=1.0),
               SourceConfig(name="gen", weight=1.0))
    return DataConfig(sources=sources, seq_len=64, global_batch_size=6, mode=mode, shuffle_window=4, seed=7,
                      prefetch_batches=prefetch)


@pytest.mark.parametrize("mode,prefetch", [("packed", 2), ("documents", 0), ("padded", 3)])
def test_restore_in_a_new_process_continues_exactly(tmp_path, mode, prefetch):
    cfg = _config(tmp_path, mode, prefetch)
    first, then = 23, 8  # several tokenization chunks of 64 documents, several blocks and epochs
    reference = build_train_iterator(cfg, process_index=0, process_count=1)
    expected = [next(reference) for _ in range(first + then)]
    assert reference.stats()["docs/web"] > 25  # the web source went past one epoch

    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    for _ in range(first):
        next(iterator)
    state = iterator.get_state()
    json.dumps(state)  # JSON-serialisable as promised
    checkpoint = tmp_path / "checkpoint" / "data"
    ocp.Checkpointer(ocp.JsonCheckpointHandler()).save(checkpoint, args=ocp.args.JsonSave(state))
    config_path = tmp_path / "data_config.json"
    config_path.write_text(json.dumps(to_dict(cfg)))
    out = tmp_path / "resumed.npz"
    subprocess.run([sys.executable, str(WORKER), str(config_path), str(checkpoint), str(then), str(out)],
                   check=True, cwd=WORKER.parents[2], timeout=120)
    resumed = np.load(out)
    for i in range(then):
        for key, value in expected[first + i].items():
            np.testing.assert_array_equal(resumed[f"{i}/{key}"], value, err_msg=f"batch {first + i} {key}")
    assert json.loads(str(resumed["stats"])) == reference.stats()


def test_state_from_a_different_config_is_refused(tmp_path):
    cfg = _config(tmp_path, "packed", 0)
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    next(iterator)
    other = build_train_iterator(DataConfig(seq_len=32, prefetch_batches=0), process_index=0, process_count=1)
    with pytest.raises(ConfigError, match="different|same data"):
        other.set_state(iterator.get_state())
