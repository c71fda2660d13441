"""The trainer's entry points: per-host batch iterators whose rows do not depend on the process count, with exact
resume across process counts.

The global batch of a step is cut into `data.lanes` lanes of global_batch_size / lanes consecutive rows. Lane l is
an independent grain dataset graph (lane.py: its own disjoint share, share l of lanes, of every source, mixed,
packed and batched), so the rows it produces are a function of (config, seed, step) alone. A host builds only the
lanes holding its rows (`build_train_iterator(cfg, process_index=p, process_count=P)`: lanes p * lanes/P ...
(p+1) * lanes/P - 1, or an explicit `lanes=` range), reads and tokenizes only their shares, and yields numpy
batches of its rows; the same rows come out of host p of P as out of the lanes' places in a one-process run.

`it.get_state()` is a small JSON-serialisable dict holding the state of each of this host's lanes; `merge_states`
joins every host's into the global state (what the checkpoint stores), and `it.set_state(state)` on a freshly built
iterator picks its own lanes from a global state written by any number of processes and continues with exactly the
batch that would have come next. `it.stats()` gives integer counters for the metrics (skipped records by kind,
documents per source, batches, tokens) over this host's lanes; `state_stats(merged)` over all.
Batches are prepared ahead in a background thread by grain's `ThreadPrefetchDatasetIterator`, which records the
state belonging to each batch, so `get_state()` and `stats()` always describe the batches already consumed.
"""

from __future__ import annotations

import weakref

import grain
import numpy as np

from rlpjax.config import DataConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.lane import lane_dataset, lane_stats
from rlpjax.data.mixture import mixture
from rlpjax.data.packing import MODES
from rlpjax.data.sources import Share, open_source
from rlpjax.data.tokenizer import Tokenizer, load_tokenizer

_STATE_VERSION = 3
_OLD_STATES = {1: "per-host lanes", 2: "the grain dataset graph"}
"""What each older data state version lacks (it cannot be resumed by this version)."""

MAX_DEFAULT_LANES = 64
"""data.lanes=0 picks the largest divisor of global_batch_size up to this (enough for 64 hosts)."""


def lane_count(data_cfg: DataConfig) -> int:
    """The number of lanes the global batch is cut into (data.lanes, or its default)."""
    rows = data_cfg.global_batch_size
    if data_cfg.lanes:
        if data_cfg.lanes < 0 or rows % data_cfg.lanes:
            raise ConfigError(f"data.lanes={data_cfg.lanes} does not divide data.global_batch_size={rows}; "
                              "choose a divisor, or 0 for the default")
        return data_cfg.lanes
    return max(d for d in range(1, min(rows, MAX_DEFAULT_LANES) + 1) if rows % d == 0)


class _BatchMaker(grain.DatasetIterator):
    """Synchronous batches of this host's lanes (each lane's rows in lane order): the host's end of the grain graph,
    checkpointable, closing its lanes' iterators when closed."""

    def __init__(self, lanes: dict[int, grain.DatasetIterator], *, fingerprint: dict):
        super().__init__(list(lanes.values()))
        self._lanes, self._fingerprint = lanes, fingerprint

    def __next__(self) -> dict[str, np.ndarray]:
        parts = [next(lane) for lane in self._lanes.values()]
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    def get_state(self) -> dict:
        return {"version": _STATE_VERSION, "config": self._fingerprint,
                "lanes": {str(index): lane.get_state() for index, lane in self._lanes.items()}}

    def set_state(self, state: dict) -> None:
        check_state(state, self._fingerprint)
        missing = [index for index in self._lanes if str(index) not in state["lanes"]]
        if missing:
            raise ConfigError(f"the saved data state holds no state for lanes {missing[:4]}; resume from a state "
                              "merged over every process (rlpjax.data.merge_states)")
        for index, lane in self._lanes.items():
            lane.set_state(state["lanes"][str(index)])


def check_state(state: dict, fingerprint: dict) -> None:
    """A user error unless `state` is a data state of this format written for the same data config."""
    if state.get("version") in _OLD_STATES:
        raise ConfigError(f"the saved data state predates {_OLD_STATES[state['version']]} (data state version "
                          f"{state['version']}); resume it with the rlpjax version that wrote it, or start the run "
                          "afresh")
    if state.get("version") != _STATE_VERSION or state.get("config") != fingerprint:
        raise ConfigError(
            f"the saved data state was written for data config {state.get('config')} but this run has "
            f"{fingerprint}; resume with the same data sources, mode, seq_len, batch size, lanes and seed"
        )


def merge_states(states: list[dict]) -> dict:
    """The global data state from every host's `get_state()` (the union of their lanes)."""
    for state in states[1:]:
        check_state(state, states[0]["config"])
    return {**states[0], "lanes": {key: value for state in states for key, value in state["lanes"].items()}}


def state_stats(state: dict) -> dict[str, int]:
    """The counters of `stats()` summed over the lanes of a (merged) data state (read out of each lane's grain
    state, so the state holds nothing it can derive)."""
    rows_per_lane = state["config"]["global_rows"] // state["config"]["lanes"]
    totals: dict[str, int] = {}
    for lane in state["lanes"].values():
        for key, value in lane_stats(lane, rows_per_lane).items():
            totals[key] = totals.get(key, 0) + value
    return totals


class DataIterator:
    """Host-local batches with get_state / set_state / stats; `next(it)` or `it.next()`. `rows`: the global rows
    (of each step's global batch) this host's batches hold, in order."""

    def __init__(self, maker: _BatchMaker, prefetch: int, rows: range):
        self.rows = rows
        # The prefetching iterator sits in a list that a finalizer empties at exit, so grain's own __del__ runs
        # while modules are still alive instead of during interpreter teardown; the maker follows it (lane workers).
        self._box = [_prefetching(maker, prefetch) if prefetch > 0 else maker, maker]
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
        return state_stats(self.get_state())

    def close(self) -> None:
        """Stop the prefetch thread and any lane workers (also done when the iterator is garbage collected or at
        exit)."""
        _close_boxed(self._box)


def _prefetching(maker, prefetch: int):
    """`maker` behind grain's prefetch thread."""
    from grain.experimental import ThreadPrefetchDatasetIterator

    return ThreadPrefetchDatasetIterator(maker, prefetch)


def _close_boxed(box: list) -> None:
    while box:
        item = box.pop(0)
        if hasattr(item, "close"):
            item.close()


def host_lanes(data_cfg: DataConfig, process_index: int, process_count: int) -> range:
    """The lanes holding host `process_index`'s block of rows (a user error unless the processes split the lanes)."""
    lanes = lane_count(data_cfg)
    if lanes % process_count:
        raise ConfigError(f"the {lanes} data lanes do not split over {process_count} processes; set data.lanes to a "
                          f"multiple of {process_count} that divides data.global_batch_size")
    per_host = lanes // process_count
    return range(process_index * per_host, (process_index + 1) * per_host)


def split_sources(data_cfg: DataConfig, split: str) -> tuple:
    """The sources of `split`: data.sources for "train", data.eval_sources for "eval"."""
    return data_cfg.sources if split == "train" else data_cfg.eval_sources


def _check_shape(data_cfg: DataConfig, split: str) -> tuple:
    """The split's sources, after the user errors a data config can hold for it."""
    if split not in ("train", "eval"):
        raise ConfigError(f"data split {split!r} is unknown; use 'train' or 'eval'")
    if data_cfg.mode not in MODES:
        raise ConfigError(f"data.mode={data_cfg.mode!r} is unknown; use one of {', '.join(MODES)}")
    if data_cfg.global_batch_size < 1:
        raise ConfigError(f"data.global_batch_size={data_cfg.global_batch_size} must be at least 1")
    if data_cfg.seq_len < 1:
        raise ConfigError(f"data.seq_len={data_cfg.seq_len} must be at least 1")
    sources = split_sources(data_cfg, split)
    if not sources:
        raise ConfigError(f"no data sources for split {split!r}; set data.{'sources' if split == 'train' else 'eval_sources'}")
    return sources


def batch_maker(data_cfg: DataConfig, split: str, lanes: range, tokenizer: Tokenizer | None = None) -> _BatchMaker:
    """The synchronous batches of `lanes` of the split's mixture, in this process (also what a lane worker runs)."""
    sources = _check_shape(data_cfg, split)
    tokenizer = tokenizer or load_tokenizer(data_cfg.tokenizer)
    add_bos = tokenizer.add_bos if data_cfg.add_bos is None else data_cfg.add_bos
    add_eos = tokenizer.add_eos if data_cfg.add_eos is None else data_cfg.add_eos
    if (add_bos and tokenizer.bos_id is None) or (add_eos and tokenizer.eos_id is None):
        raise ConfigError("data.add_bos / data.add_eos ask for a token this tokenizer does not define; set it to false")
    train, count = split == "train", lane_count(data_cfg)
    rows_per_lane = data_cfg.global_batch_size // count

    def lane(index: int) -> grain.DatasetIterator:
        share = Share(index=index, count=count, seed=data_cfg.seed, shuffle=data_cfg.shuffle and train,
                      window=data_cfg.shuffle_window, num_epochs=data_cfg.num_epochs if train else 1,
                      strict=data_cfg.strict, tokenizer=data_cfg.tokenizer)
        documents = mixture([s.name for s in sources], [open_source(s, share) for s in sources],
                            [s.weight for s in sources])
        return iter(lane_dataset(documents, tokenizer, rows_per_lane=rows_per_lane, seq_len=data_cfg.seq_len,
                                 mode=data_cfg.mode, add_bos=add_bos, add_eos=add_eos))

    return _BatchMaker({index: lane(index) for index in lanes}, fingerprint=fingerprint(data_cfg, split))


def fingerprint(data_cfg: DataConfig, split: str) -> dict:
    """What a saved data state must have been written for: the settings that decide every lane's rows."""
    sources = split_sources(data_cfg, split)
    return {"split": split, "sources": [[s.name, s.path, s.format] for s in sources], "mode": data_cfg.mode,
            "seq_len": data_cfg.seq_len, "global_rows": data_cfg.global_batch_size, "lanes": lane_count(data_cfg),
            "seed": data_cfg.seed}


def build_train_iterator(data_cfg: DataConfig, *, process_index: int = 0, process_count: int = 1,
                         lanes: range | None = None, split: str = "train",
                         tokenizer: Tokenizer | None = None) -> DataIterator:
    """The iterator over `lanes` (default: host `process_index` of `process_count`'s) of the mixture ("train":
    data_cfg.sources, shuffled and repeated as configured; "eval": data_cfg.eval_sources, one pass in order).
    `tokenizer` defaults to load_tokenizer(cfg). With data.workers > 0 the lanes are built in that many worker
    processes (rlpjax.data.lane_workers; each loads the tokenizer of data.tokenizer), with the same batches."""
    _check_shape(data_cfg, split)
    lanes = host_lanes(data_cfg, process_index, process_count) if lanes is None else lanes
    rows_per_lane = data_cfg.global_batch_size // lane_count(data_cfg)
    if data_cfg.workers > 0 and len(lanes) > 1:
        from rlpjax.data.lane_workers import WorkerLanes

        maker = WorkerLanes(data_cfg, split, lanes, min(data_cfg.workers, len(lanes)))
    else:
        maker = batch_maker(data_cfg, split, lanes, tokenizer)
    return DataIterator(maker, data_cfg.prefetch_batches, range(lanes.start * rows_per_lane,
                                                                lanes.stop * rows_per_lane))
