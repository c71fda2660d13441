"""One share of a source as a grain dataset graph: every stage a grain `IterDataset` whose iterator's `get_state()`
is a small JSON dict, so a lane's whole graph checkpoints and resumes exactly, mid-shard and mid-window.

A source's opener (rlpjax.data.sources) returns `Documents(make_epoch, num_epochs, name)`: epoch e of the share is
`make_epoch(e)`, an IterDataset of `Outcome`s (records.py); `Documents` chains the epochs, drops the bad outcomes
counting them by kind, and yields the good documents (text, or a token cache's int32 ids). Two epoch shapes:

- stream-read shards (JSONL, JSONL.gz, Parquet; `file_epochs`): the share's shards in a per-epoch seeded order,
  `CYCLE_LENGTH` open at a time, one record from each in turn (`RoundRobin` over `Records` leaves),
  window-shuffled in blocks of `window` records (`WindowShuffle`, seeded per epoch and share). The state holds
  each open shard's record index and the window's start, so a resume re-reads one window.
- indexable sources (ArrayRecord, the token cache, Hugging Face datasets on disk; `indexed_stream`): step-indexed
  (Levanter-style): epoch e is one permutation of all records (grain's `MapDataset.shuffle`, fresh per epoch) and
  share i of n takes positions i, i + n, i + 2n, ... of it, so the state is a position (a `Records` leaf).

Shares (the pipeline's lanes): with at least as many shards as shares, share i of n reads shards `i::n`; otherwise
it reads every shard but parses only the records whose index is i modulo n. Either way the shares are disjoint and
their union is the whole corpus in every epoch.

No stage starts a thread: a lane is read by its host's batch maker (or a lane worker), and grain's reader threads
(`to_iter_dataset`) would be a thousand threads on a 64-lane host. A random-access source is read through a
`Records` leaf for the same reason and because at zero threads grain's per-element bookkeeping made the token-cache
pipeline a quarter slower (3.4M against 4.4M tokens/s on the C4 sample).
"""

from __future__ import annotations

from typing import Callable, Iterator

import grain
import numpy as np

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.records import NOT_OWNED, Outcome, zero_counts
from rlpjax.data.shards import Reader, guarded, resolve_shards
from rlpjax.data.sources import Share

CYCLE_LENGTH = 4
"""Shards of a stream-read share open at a time."""


class Records(grain.IterDataset):
    """The outcomes of a restartable reader, `open_at(k)` giving them from record k on (NOT_OWNED ones, another
    share's records, are passed over); state {"record": next record index}."""

    def __init__(self, open_at: Callable[[int], Iterator[Outcome]]):
        super().__init__()
        self.open_at = open_at

    def __iter__(self) -> grain.DatasetIterator:
        return _RecordsIterator(self.open_at)


class _RecordsIterator(grain.DatasetIterator):
    def __init__(self, open_at: Callable[[int], Iterator[Outcome]]):
        super().__init__()
        self._open_at = open_at
        self.set_state({"record": 0})

    def __next__(self) -> Outcome:
        for outcome in self._outcomes:
            self._record += 1
            if outcome is not NOT_OWNED:
                return outcome
        raise StopIteration

    def get_state(self) -> dict:
        return {"record": self._record}

    def set_state(self, state: dict) -> None:
        self._record = state["record"]
        self._outcomes = self._open_at(self._record)  # a generator: nothing is opened until the first record


class RoundRobin(grain.IterDataset):
    """The elements of `parents` interleaved: `cycle_length` of them open at a time, one element from each in turn,
    the next parent opened in its place when one ends. State: {"next": index of the next parent to open, "open":
    [[parent index, its iterator state], ...], "turn": the open slot read next}.

    Not grain's InterleaveIterDataset: that one starts a prefetch thread for every open parent (four per lane and
    source, hundreds on a 64-lane host), and with a zero buffer that thread races the caller for the same parent."""

    def __init__(self, parents: list[grain.IterDataset], cycle_length: int):
        super().__init__()
        self.datasets, self.cycle_length = parents, cycle_length

    def __iter__(self) -> grain.DatasetIterator:
        return _RoundRobinIterator(self)


class _RoundRobinIterator(grain.DatasetIterator):
    def __init__(self, round_robin: RoundRobin):
        super().__init__()
        self._datasets, self._cycle_length = round_robin.datasets, round_robin.cycle_length
        self.set_state({"next": 0, "open": [], "turn": 0})

    def _open(self, index: int, state: dict | None) -> None:
        iterator = iter(self._datasets[index])
        if state is not None:
            iterator.set_state(state)
        self._open_indices.append(index)
        self._iterators.append(iterator)

    def _fill(self) -> None:
        while len(self._iterators) < self._cycle_length and self._next < len(self._datasets):
            self._open(self._next, None)
            self._next += 1

    def __next__(self):
        while self._iterators:
            self._turn %= len(self._iterators)
            try:
                element = next(self._iterators[self._turn])
            except StopIteration:
                del self._iterators[self._turn], self._open_indices[self._turn]
                self._fill()
                continue
            self._turn += 1
            return element
        raise StopIteration

    def get_state(self) -> dict:
        return {"next": self._next, "open": [[index, iterator.get_state()] for index, iterator in
                                             zip(self._open_indices, self._iterators)], "turn": self._turn}

    def set_state(self, state: dict) -> None:
        self._next, self._turn, self._open_indices, self._iterators = state["next"], state["turn"], [], []
        for index, iterator_state in state["open"]:
            self._open(index, iterator_state)
        self._fill()


class WindowShuffle(grain.IterDataset):
    """The elements of `parent` read `window` at a time, each window permuted (NumPy, seeded by (seed, window
    number)). State: {"window_start": the parent's state before the window, "window": its number, "taken":
    elements of it already returned}; a resume re-reads that one window.

    Not grain's WindowShuffleIterDataset: it draws every position with a separate index_shuffle call, 40 us an
    element at a window of 1000 and 2 ms at 64 (measured on this project's 2-core CPU), more than tokenizing."""

    def __init__(self, parent: grain.IterDataset, window: int, seed: int):
        super().__init__(parent)
        self.window, self.seed = window, seed

    def __iter__(self) -> grain.DatasetIterator:
        return _WindowShuffleIterator(self, self._parent.__iter__())


class _WindowShuffleIterator(grain.DatasetIterator):
    def __init__(self, shuffle: WindowShuffle, parent: grain.DatasetIterator):
        super().__init__(parent)
        self._size, self._seed = shuffle.window, shuffle.seed
        self._window_start, self._window_no, self._block, self._taken = parent.get_state(), 0, [], 0
        self._ended = False

    def _read_window(self) -> None:
        self._window_start, self._block, self._taken = self._parent.get_state(), [], 0
        for _ in range(self._size):
            try:
                self._block.append(next(self._parent))
            except StopIteration:
                self._ended = True
                break
        order = np.random.default_rng([self._seed, self._window_no]).permutation(len(self._block))
        self._block = [self._block[i] for i in order]

    def __next__(self):
        while self._taken >= len(self._block):
            if self._ended:
                raise StopIteration
            if self._block:
                self._window_no += 1
            self._read_window()
        self._taken += 1
        return self._block[self._taken - 1]

    def get_state(self) -> dict:
        return {"window_start": self._window_start, "window": self._window_no, "taken": self._taken}

    def set_state(self, state: dict) -> None:
        self._window_no, self._ended = state["window"], False
        self._parent.set_state(state["window_start"])
        self._read_window()
        self._taken = state["taken"]


class Documents(grain.IterDataset):
    """The good documents of `num_epochs` epochs (0: forever) of `make_epoch(epoch)` (an IterDataset of Outcomes),
    the bad outcomes counted by kind; an epoch without one good record is a user error naming the source (else a
    source of bad records would be read forever). State: {"epoch", "epoch_state", "counts" (the kinds seen),
    "documents", "good_in_epoch"}; the iterator's `counts()` is the skipped records by kind."""

    def __init__(self, make_epoch: Callable[[int], grain.IterDataset], num_epochs: int, name: str):
        super().__init__()
        self.make_epoch, self.num_epochs, self.name = make_epoch, num_epochs, name

    def __iter__(self) -> "DocumentsIterator":
        return DocumentsIterator(self)


class DocumentsIterator(grain.DatasetIterator):
    def __init__(self, source: Documents):
        super().__init__()
        self._source = source
        self.set_state({"epoch": 0, "epoch_state": None, "counts": zero_counts(), "documents": 0, "good_in_epoch": 0})

    def _start_epoch(self, epoch: int, state: dict | None) -> None:
        self._epoch, self._outcomes = epoch, iter(self._source.make_epoch(epoch))
        if state is not None:
            self._outcomes.set_state(state)

    def __next__(self):
        while True:
            try:
                document, bad = next(self._outcomes)
            except StopIteration:
                if self._good_in_epoch == 0:
                    skipped = {kind: n for kind, n in self._counts.items() if n}
                    raise ConfigError(f"data source {self._source.name!r} has no usable documents (skipped: "
                                      f"{skipped}); check its path, format and text_field") from None
                if self._source.num_epochs and self._epoch + 1 >= self._source.num_epochs:
                    raise
                self._start_epoch(self._epoch + 1, None)
                self._good_in_epoch = 0
                continue
            if bad is None:
                self._documents += 1
                self._good_in_epoch += 1
                return document
            self._counts[bad] += 1

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def get_state(self) -> dict:
        return {"epoch": self._epoch, "epoch_state": self._outcomes.get_state(),
                "counts": {kind: n for kind, n in self._counts.items() if n},
                "documents": self._documents, "good_in_epoch": self._good_in_epoch}

    def set_state(self, state: dict) -> None:
        self._counts, self._documents = zero_counts(state["counts"]), state["documents"]
        self._good_in_epoch = state["good_in_epoch"]
        self._start_epoch(state["epoch"], state["epoch_state"])


def epoch_seed(share: Share, epoch: int) -> int:
    """The seed of one epoch of one share (shard order, shuffle windows)."""
    return int(np.random.SeedSequence([share.seed, share.index, epoch]).generate_state(1)[0])


def file_epochs(shards: list[str], read: Reader, text_field: str, share: Share) -> Callable[[int], grain.IterDataset]:
    """`make_epoch` of a stream-read share of `shards` (see the module docstring)."""
    if len(shards) >= share.count:
        mine, stride, phase = shards[share.index::share.count], 1, 0
    else:
        mine, stride, phase = shards, share.count, share.index

    def owned(record: int) -> bool:
        return record % stride == phase

    def shard_records(path: str) -> Records:
        return Records(lambda start: guarded(read(path, text_field, start, owned), path, share.strict))

    def make_epoch(epoch: int) -> grain.IterDataset:
        seed = epoch_seed(share, epoch)
        order = np.random.default_rng(seed).permutation(len(mine)) if share.shuffle else range(len(mine))
        records = RoundRobin([shard_records(mine[i]) for i in order], CYCLE_LENGTH)
        return WindowShuffle(records, share.window, seed) if share.shuffle and share.window > 1 else records

    return make_epoch


def file_stream(source: SourceConfig, share: Share, fmt: str, read: Reader) -> Documents:
    """The documents of `share` of a stream-read source whose shards `read` reads."""
    shards, _ = resolve_shards(source.path, fmt)
    return Documents(file_epochs(shards, read, source.text_field, share), share.num_epochs, source.name)


def indexed_stream(dataset: grain.MapDataset, parse: Callable[[object], Outcome], share: Share,
                   name: str = "") -> Documents:
    """The documents of `share` of an indexable source (a grain MapDataset of raw records; `parse(record) ->
    Outcome`), in the step-indexed order of the module docstring."""
    length = len(dataset)
    if length == 0:
        raise ConfigError(f"data source {name!r} has no records; check its path")
    if share.index >= length:
        raise ConfigError(f"data source {name!r} has {length} records, fewer than the {share.count} shares "
                          "(data.lanes) reading it; use fewer lanes or more data")
    # MapDataset.shuffle permutes every epoch afresh: position e * length + j is record j of epoch e's permutation.
    ordered = dataset.shuffle(seed=share.seed % 2**32) if share.shuffle else dataset.repeat()

    def make_epoch(epoch: int) -> grain.IterDataset:
        positions = range(epoch * length + share.index, (epoch + 1) * length, share.count)
        return Records(lambda start: (parse(ordered[position]) for position in positions[start:]))

    return Documents(make_epoch, share.num_epochs, name)
