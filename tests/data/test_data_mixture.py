"""A weighted mixture follows its weights within one document per source, in a deterministic order."""

import numpy as np

from rlpjax.config import DataConfig, SourceConfig
from rlpjax.data import build_train_iterator
from rlpjax.data.mixture import Mixture, mixture_choice
from data_corpus import write_shards


class _Tagged:
    """A stream producing "<tag> <n>" forever."""

    def __init__(self, tag):
        self.tag, self.n = tag, 0

    def next(self):
        self.n += 1
        return f"{self.tag} {self.n - 1}"

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]

    def counts(self):
        return {}


def test_mixture_proportions_match_weights_and_order_is_deterministic():
    weights = [0.5, 0.3, 0.2]
    draws = []
    for _ in range(2):
        mixture = Mixture(["a", "b", "c"], [_Tagged(t) for t in "abc"], weights)
        draws.append([mixture.next().split()[0] for _ in range(1000)])
    assert draws[0] == draws[1]
    for n in (10, 97, 1000):
        for tag, weight in zip("abc", weights):
            assert abs(draws[0][:n].count(tag) - weight * n) <= 1.0, (tag, n)
    assert mixture.counts()["docs/a"] == 500


def test_mixture_choice_picks_the_most_lagging_source():
    weights = np.array([0.25, 0.75])
    assert mixture_choice(weights, [0, 0]) == 1  # 0.75 > 0.25 lag
    assert mixture_choice(weights, [0, 1]) == 0  # lags: 0.5 - 0 vs 1.5 - 1
    assert mixture_choice(weights, [1, 2]) == 1  # lags: 1 - 1 vs 3 - 2


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
