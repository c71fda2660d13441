"""Document streams over shard files for one host, with small JSON states for exact resume.

Every stream has `next() -> str | np.ndarray` (a good document; StopIteration after `num_epochs`), `get_state() -> dict`,
`set_state(dict)` and `counts() -> dict[str, int]` (skipped records by kind, as of the reading frontier).

- `FileStream` (JSONL, JSONL.gz, Parquet): shards are read in a per-epoch seeded order, `cycle_length` at a time,
  one record from each in turn (interleaving); records are window-shuffled in fixed blocks of `window` records with
  a per-(seed, epoch, block) permutation. The state is the interleaver position at the start of the current block
  plus the offset inside it; resuming re-reads that one block.
- `IndexedStream` (ArrayRecord, the token cache, Hugging Face datasets on disk): the source is indexable, so the
  order is step-indexed (Levanter-style): a global per-epoch permutation from grain's `MapDataset.shuffle`, each
  share taking every n-th position of it; the state is just the share's document count and the counts.

Shares (the pipeline's lanes): with at least as many shards as shares, share i of n reads shards `i::n`; otherwise
it reads every shard but parses only the records whose index is i modulo n. Either way the shares are disjoint and
their union is the whole corpus in every epoch.
"""

from __future__ import annotations

import numpy as np

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.records import Outcome, zero_counts
from rlpjax.data.shards import Reader, guarded, resolve_shards
from rlpjax.data.sources import Share


class _Interleaver:
    """Round-robin over the records of an ordered list of shards, `cycle_length` shards open at a time.

    State: {"next": position in `order` of the next shard to open, "slots": [[order position, record index], ...],
    "turn": slot to read next}.
    """

    def __init__(self, open_shard, order: list[int], cycle_length: int, record_stride: tuple[int, int]):
        self._open_shard = open_shard
        self._order = order
        self._cycle_length = cycle_length
        self._stride, self._phase = record_stride
        self.set_state({"next": 0, "slots": [], "turn": 0})

    def get_state(self) -> dict:
        return {"next": self._next, "slots": [list(slot) for slot in self._slots], "turn": self._turn}

    def set_state(self, state: dict) -> None:
        self._next, self._turn = state["next"], state["turn"]
        self._slots = [list(slot) for slot in state["slots"]]
        self._readers = [self._open_shard(self._order[pos], rec) for pos, rec in self._slots]
        self._fill_slots()

    def _fill_slots(self) -> None:
        while len(self._slots) < self._cycle_length and self._next < len(self._order):
            self._slots.append([self._next, 0])
            self._readers.append(self._open_shard(self._order[self._next], 0))
            self._next += 1

    def next(self) -> Outcome | None:
        """The next record outcome of this host, or None when every shard is exhausted."""
        while self._slots:
            self._turn %= len(self._slots)
            slot = self._slots[self._turn]
            outcome = next(self._readers[self._turn], None)
            if outcome is None:
                del self._slots[self._turn], self._readers[self._turn]
                self._fill_slots()
                continue
            slot[1] += 1
            if (slot[1] - 1) % self._stride != self._phase:
                continue
            self._turn += 1
            return outcome
        return None


class FileStream:
    """Good documents of stream-read shards for one host: interleaved, window-shuffled, repeated for epochs."""

    def __init__(self, shards: list[str], read: Reader, text_field: str, share: Share, *, cycle_length: int = 4,
                 name: str = ""):
        self._name = name
        if len(shards) >= share.count:
            self._shards, record_stride = shards[share.index::share.count], (1, 0)
        else:
            self._shards, record_stride = shards, (share.count, share.index)
        stride, phase = record_stride
        self._open = lambda index, start: guarded(
            read(self._shards[index], text_field, start, lambda record: record % stride == phase),
            self._shards[index], share.strict)
        self._record_stride = record_stride
        self._seed, self._shuffle, self._window = share.seed, share.shuffle, max(1, share.window)
        self._num_epochs, self._cycle_length = share.num_epochs, cycle_length
        self.set_state({"epoch": 0, "block": 0, "offset": 0, "reader": None, "counts": zero_counts(), "good": 0})

    def _interleaver(self, epoch: int) -> _Interleaver:
        order = list(range(len(self._shards)))
        if self._shuffle:
            order = [int(i) for i in np.random.default_rng([self._seed, epoch]).permutation(len(order))]
        return _Interleaver(self._open, order, self._cycle_length, self._record_stride)

    def get_state(self) -> dict:
        return {**self._block_start, "offset": self._offset}

    def set_state(self, state: dict) -> None:
        self._block_start = {key: value for key, value in state.items() if key != "offset"}
        self._epoch, self._block_no = state["epoch"], state["block"]
        self._counts, self._good_in_epoch = zero_counts(state["counts"]), state["good"]
        self._reader = self._interleaver(self._epoch)
        if state["reader"] is not None:
            self._reader.set_state(state["reader"])
        self._exhausted = False
        self._read_block()
        self._offset = state["offset"]

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def _read_block(self) -> None:
        """Read the next `window` records from the current reader position into a permuted block of texts."""
        self._block_start = {"epoch": self._epoch, "block": self._block_no, "reader": self._reader.get_state(),
                             "counts": dict(self._counts), "good": self._good_in_epoch}
        texts = []
        for _ in range(self._window):
            outcome = self._reader.next()
            if outcome is None:
                self._exhausted = True
                break
            text, bad = outcome
            if bad is None:
                texts.append(text)
            else:
                self._counts[bad] += 1
        if self._shuffle and len(texts) > 1:
            perm = np.random.default_rng([self._seed, self._epoch, self._block_no, 1]).permutation(len(texts))
            texts = [texts[i] for i in perm]
        self._good_in_epoch += len(texts)
        self._block, self._offset = texts, 0

    def next(self) -> str:
        while self._offset >= len(self._block):
            if not self._exhausted:
                self._block_no += 1
            else:
                if self._good_in_epoch == 0:
                    raise ConfigError(f"data source {self._name!r} has no usable documents (counts: {self._counts})")
                if self._num_epochs and self._epoch + 1 >= self._num_epochs:
                    raise StopIteration
                self._epoch, self._block_no, self._good_in_epoch = self._epoch + 1, 0, 0
                self._reader, self._exhausted = self._interleaver(self._epoch), False
            self._read_block()
        self._offset += 1
        return self._block[self._offset - 1]


class IndexedStream:
    """Good documents of an indexable source (a grain `MapDataset` of raw records) in a step-indexed, seeded global
    order: epoch e is one permutation of all records (`MapDataset.shuffle`, fresh per epoch) and share i of n takes
    positions i, i + n, i + 2n, ... of it, so document k of a share is one random access and the state is just k and
    the counts. `parse(record) -> (document, None) | (None, bad kind)`; a document is text or token ids."""

    def __init__(self, dataset, parse, share: Share, name: str = ""):
        self._length = len(dataset)
        if self._length == 0:
            raise ConfigError(f"data source {name!r} has no records; check its path")
        self._dataset = dataset.shuffle(seed=share.seed % 2**32) if share.shuffle else dataset
        self._share_length = len(range(share.index, self._length, share.count))
        if self._share_length == 0:
            raise ConfigError(f"data source {name!r} has {self._length} records, fewer than the {share.count} "
                              "shares (data.lanes) reading it; use fewer lanes or more data")
        self._parse, self._share, self._name = parse, share, name
        self.set_state({"index": 0, "counts": zero_counts(), "good": 0})

    def get_state(self) -> dict:
        return {"index": self._index, "counts": dict(self._counts), "good": self._good_in_epoch}

    def set_state(self, state: dict) -> None:
        self._index, self._counts, self._good_in_epoch = state["index"], zero_counts(state["counts"]), state["good"]

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def next(self):
        while True:
            epoch, within = divmod(self._index, self._share_length)
            if self._share.num_epochs and epoch >= self._share.num_epochs:
                raise StopIteration
            if within == 0 and self._index > 0:
                if self._good_in_epoch == 0:
                    raise ConfigError(f"data source {self._name!r} has no usable documents (counts: {self._counts})")
                self._good_in_epoch = 0
            position = epoch * self._length + self._share.index + within * self._share.count
            document, bad = self._parse(self._dataset[position] if self._share.shuffle else
                                        self._dataset[position % self._length])
            self._index += 1
            if bad is None:
                self._good_in_epoch += 1
                return document
            self._counts[bad] += 1


def file_stream(source: SourceConfig, share: Share, fmt: str, read: Reader) -> FileStream:
    """The FileStream of `share` of a stream-read source whose shards `read` reads."""
    shards, _ = resolve_shards(source.path, fmt)
    return FileStream(shards, read, source.text_field, share, name=source.name)
