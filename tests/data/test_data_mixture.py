"""A weighted mixture follows its weights within one document per source, in a deterministic order."""

import itertools

import pytest

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import build_train_iterator
from rlpjax.data.mixture import mixture, mixture_counts
from rlpjax.data.streams import Documents, Records
from data_corpus import write_shards


def _tagged(tag: str) -> Documents:
    """A source producing "<tag> <n>" forever."""
    return Documents(lambda epoch: Records(lambda start: ((f"{tag} {n}", None) for n in itertools.count(start))), 0,
                     tag)


def test_mixture_proportions_match_weights_and_order_is_deterministic():
    weights = [0.5, 0.3, 0.2]
    draws = []
    for _ in range(2):
        mixed = iter(mixture(["a", "b", "c"], [_tagged(t) for t in "abc"], weights))
        draws.append([next(mixed).split()[0] for _ in range(1000)])
    assert draws[0] == draws[1]
    for n in range(1, 1001):  # every prefix: within one document of each source's share
        for tag, weight in zip("abc", weights):
            assert abs(draws[0][:n].count(tag) - weight * n) <= 1.0, (tag, n)
    counts = mixture_counts(mixed.get_state())
    assert (counts["docs/a"], counts["docs/b"], counts["docs/c"]) == (500, 300, 200)


def test_mixture_refuses_empty_zero_weighted_and_repeated_sources():
    with pytest.raises(ConfigError, match="empty"):
        mixture([], [], [])
    with pytest.raises(ConfigError, match="positive"):
        mixture(["a", "b"], [_tagged("a"), _tagged("b")], [1.0, 0.0])
    with pytest.raises(ConfigError, match="repeat"):
        mixture(["a", "a"], [_tagged("a"), _tagged("a")], [1.0, 1.0])


def test_pipeline_mixture_of_files_and_builtin_draws_documents_by_weight(tmp_path):
    write_shards(tmp_path, [f"file doc {i}" for i in range(50)], "jsonl")
    sources = (SourceConfig(name="web", path=str(tmp_path), weight=3.0), SourceConfig(name="gen", weight=1.0))
    cfg = DataConfig(sources=sources, seq_len=512, global_batch_size=4, mode="padded", prefetch_batches=0)
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    for _ in range(25):
        next(iterator)
    stats = iterator.stats()
    drawn = stats["docs/web"] + stats["docs/gen"]
    assert abs(stats["docs/web"] - 0.75 * drawn) <= 1
