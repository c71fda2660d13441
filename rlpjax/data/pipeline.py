"""The trainer's entry points: host-local batch iterators with exact resume, and global sharded batches.

`build_train_iterator(data_cfg, process_index=p, process_count=P)` reads host p's disjoint share of the configured
mixture and yields numpy batches of global_batch_size // P rows (see rlpjax.data.packing for the layout).
`it.get_state()` is a small JSON-serialisable dict (the trainer stores it in its orbax checkpoint as a JSON item);
`it.set_state(state)` on a freshly built iterator continues with exactly the batch that would have come next.
`it.stats()` gives integer counters for the metrics: skipped records by kind, documents per source, batches, tokens.
Batches are prepared ahead in a background thread by grain's `ThreadPrefetchDatasetIterator`, which records the
state belonging to each batch, so `get_state()` and `stats()` always describe the batches already consumed.
"""

from __future__ import annotations

import weakref

import jax
import numpy as np
from grain.experimental import ThreadPrefetchDatasetIterator

from rlpjax.config import DataConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.mixture import Mixture, open_source
from rlpjax.data.packing import MODES, DocCursor, rows_to_batch, take_row
from rlpjax.data.tokenizer import Tokenizer, load_tokenizer
from rlpjax.sharding import batch_sharding

_STATE_VERSION = 1


class _BatchMaker:
    """Synchronous batches from a DocCursor; a checkpointable iterator (__next__, get_state, set_state)."""

    def __init__(self, mixture: Mixture, cursor: DocCursor, *, rows: int, seq_len: int, mode: str, pad_id: int,
                 fingerprint: dict):
        self._mixture, self._cursor = mixture, cursor
        self._rows, self._seq_len, self._mode, self._pad_id = rows, seq_len, mode, pad_id
        self._fingerprint = fingerprint
        self._counters = {"batches": 0, "tokens": 0, "truncated_tokens": 0}

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        rows, truncated = [], 0
        for _ in range(self._rows):
            pieces, dropped = take_row(self._cursor, self._seq_len, self._mode)
            rows.append(pieces)
            truncated += dropped
        batch = rows_to_batch(rows, self._seq_len, self._pad_id, with_lengths=self._mode == "documents")
        self._counters["batches"] += 1
        self._counters["tokens"] += int(np.count_nonzero(batch["segment_ids"]))
        self._counters["truncated_tokens"] += truncated
        return batch

    def stats(self) -> dict[str, int]:
        return self._mixture.counts() | self._counters | {"documents": self._cursor.documents_started}

    def get_state(self) -> dict:
        return {"version": _STATE_VERSION, "config": self._fingerprint, "cursor": self._cursor.get_state(),
                "counters": dict(self._counters), "stats": self.stats()}

    def set_state(self, state: dict) -> None:
        if state.get("version") != _STATE_VERSION or state.get("config") != self._fingerprint:
            raise ConfigError(
                f"the saved data state was written for data config {state.get('config')} but this run has "
                f"{self._fingerprint}; resume with the same data sources, mode, seq_len, batch size and seed"
            )
        self._cursor.set_state(state["cursor"])
        self._counters = dict(state["counters"])


class DataIterator:
    """Host-local batches with get_state / set_state / stats; `next(it)` or `it.next()`."""

    def __init__(self, maker: _BatchMaker, prefetch: int):
        self._maker = maker
        # The prefetching iterator sits in a one-item list that a finalizer empties at exit, so grain's own
        # __del__ runs while modules are still alive instead of during interpreter teardown.
        self._box = [ThreadPrefetchDatasetIterator(maker, prefetch) if prefetch > 0 else maker]
        weakref.finalize(self, _close_boxed, self._box)

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        return next(self._box[0])

    def next(self) -> dict[str, np.ndarray]:
        return next(self._box[0])

    def get_state(self) -> dict:
        return self._box[0].get_state()

    def set_state(self, state: dict) -> None:
        self._box[0].set_state(state)

    def stats(self) -> dict[str, int]:
        """Counters as of the last batch returned: skipped records by kind, documents read per source
        ("docs/<name>", including read-ahead), documents started, batches, tokens, truncated tokens."""
        return dict(self.get_state()["stats"])

    def close(self) -> None:
        """Stop the prefetch thread (also done when the iterator is garbage collected or at exit)."""
        _close_boxed(self._box)


def _close_boxed(box: list) -> None:
    if box and hasattr(box[0], "close"):
        box.pop().close()


def build_train_iterator(data_cfg: DataConfig, *, process_index: int, process_count: int, split: str = "train",
                         tokenizer: Tokenizer | None = None) -> DataIterator:
    """Host `process_index`'s iterator over the mixture ("train": data_cfg.sources, shuffled and repeated as
    configured; "eval": data_cfg.eval_sources, one pass in order). `tokenizer` defaults to load_tokenizer(cfg)."""
    if split not in ("train", "eval"):
        raise ConfigError(f"data split {split!r} is unknown; use 'train' or 'eval'")
    if data_cfg.mode not in MODES:
        raise ConfigError(f"data.mode={data_cfg.mode!r} is unknown; use one of {', '.join(MODES)}")
    if data_cfg.global_batch_size % process_count or data_cfg.global_batch_size < process_count:
        raise ConfigError(
            f"data.global_batch_size={data_cfg.global_batch_size} is not a positive multiple of the "
            f"{process_count} processes; choose a multiple"
        )
    if data_cfg.seq_len < 1:
        raise ConfigError(f"data.seq_len={data_cfg.seq_len} must be at least 1")
    sources = data_cfg.sources if split == "train" else data_cfg.eval_sources
    if not sources:
        raise ConfigError(f"no data sources for split {split!r}; set data.{'sources' if split == 'train' else 'eval_sources'}")
    tokenizer = tokenizer or load_tokenizer(data_cfg.tokenizer)
    add_bos = tokenizer.add_bos if data_cfg.add_bos is None else data_cfg.add_bos
    add_eos = tokenizer.add_eos if data_cfg.add_eos is None else data_cfg.add_eos
    if (add_bos and tokenizer.bos_id is None) or (add_eos and tokenizer.eos_id is None):
        raise ConfigError("data.add_bos / data.add_eos ask for a token this tokenizer does not define; set it to false")
    train = split == "train"
    reading = {"seed": data_cfg.seed, "shuffle": data_cfg.shuffle and train, "window": data_cfg.shuffle_window,
               "num_epochs": data_cfg.num_epochs if train else 1, "process_index": process_index,
               "process_count": process_count, "strict": data_cfg.strict}
    mixture = Mixture([s.name for s in sources], [open_source(s, **reading) for s in sources],
                      [s.weight for s in sources])
    cursor = DocCursor(mixture, tokenizer, add_bos=add_bos, add_eos=add_eos)
    fingerprint = {"split": split, "sources": [[s.name, s.path, s.format] for s in sources], "mode": data_cfg.mode,
                   "seq_len": data_cfg.seq_len, "rows": data_cfg.global_batch_size // process_count,
                   "seed": data_cfg.seed, "process": [process_index, process_count]}
    maker = _BatchMaker(mixture, cursor, rows=data_cfg.global_batch_size // process_count, seq_len=data_cfg.seq_len,
                        mode=data_cfg.mode, pad_id=tokenizer.pad_id, fingerprint=fingerprint)
    return DataIterator(maker, data_cfg.prefetch_batches)


def to_global_batch(batch: dict[str, np.ndarray], mesh: jax.sharding.Mesh) -> dict[str, jax.Array]:
    """Assemble every host's local rows into global jax.Arrays sharded over the batch axis (rows of host p come
    after those of hosts < p)."""
    return {key: jax.make_array_from_process_local_data(batch_sharding(mesh, np.ndim(value)), value)
            for key, value in batch.items()}
