"""Two simulated processes read disjoint shares covering the corpus; host batches become global sharded arrays."""

import jax
import numpy as np
import pytest

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.data import build_train_iterator
from rlpjax.data.generated import builtin_document
from rlpjax.data.sources import Share, open_source
from rlpjax.train.batches import to_device_batch
from data_corpus import sample_texts, write_shards


def _epoch(path: str, process_index: int, process_count: int) -> list[str]:
    return list(open_source(SourceConfig(path=path), Share(index=process_index, count=process_count, seed=3,
                                                           shuffle=True, window=5, num_epochs=1)))


@pytest.mark.parametrize("fmt,shards", [("jsonl", 1), ("jsonl", 4), ("parquet", 3), ("arrayrecord", 2)])
def test_two_hosts_read_disjoint_shares_whose_union_is_the_corpus(tmp_path, fmt, shards):
    texts = sample_texts(41)
    write_shards(tmp_path, texts, fmt, shards=shards)
    host0, host1 = _epoch(str(tmp_path), 0, 2), _epoch(str(tmp_path), 1, 2)
    assert not set(host0) & set(host1)
    assert sorted(host0 + host1) == sorted(texts)
    assert min(len(host0), len(host1)) >= 41 // 4  # both hosts get a real share


def test_builtin_hosts_interleave_the_global_sequence():
    streams = [iter(open_source(SourceConfig(), Share(index=p, count=2, seed=5, num_epochs=0))) for p in range(2)]
    got = [next(streams[i % 2]) for i in range(10)]
    assert got == [builtin_document(5, i) for i in range(10)]


def test_host_batches_become_a_global_batch_sharded_over_data_and_fsdp():
    mesh = jax.make_mesh((2, 4, 1), ("data", "fsdp", "tensor"), devices=jax.devices()[:8])
    cfg = DataConfig(seq_len=16, global_batch_size=8, prefetch_batches=0)
    local = next(build_train_iterator(cfg, process_index=0, process_count=1))
    global_batch = to_device_batch(local, mesh)
    for key, value in local.items():
        assert global_batch[key].shape == value.shape
        np.testing.assert_array_equal(np.asarray(global_batch[key]), value)
        assert global_batch[key].sharding.spec[0] == ("data", "fsdp")
        assert len(global_batch[key].addressable_shards) == 8
        assert global_batch[key].addressable_shards[0].data.shape[0] == 1
