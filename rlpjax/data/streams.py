"""Document streams over shard files for one host, with small JSON states for exact resume.

Every stream has `next() -> str` (a good document; StopIteration after `num_epochs`), `get_state() -> dict`,
`set_state(dict)` and `counts() -> dict[str, int]` (skipped records by kind, as of the reading frontier).

- `FileStream` (JSONL, JSONL.gz, Parquet): shards are read in a per-epoch seeded order, `cycle_length` at a time,
  one record from each in turn (interleaving); records are window-shuffled in fixed blocks of `window` records with
  a per-(seed, epoch, block) permutation. The state is the interleaver position at the start of the current block
  plus the offset inside it; resuming re-reads that one block.
- `ArrayRecordStream`: the source is indexable, so the order is step-indexed (Levanter-style): document k of this
  host is record `perm_epoch(k)` via grain's `MapDataset.shuffle` (a fresh permutation per epoch) and the state is
  just k and the counts.

Per-host sharding: with at least as many shards as processes each host reads shards `process_index::process_count`;
otherwise each host reads every shard but keeps the records whose index is `process_index` modulo `process_count`.
Either way the hosts' shares are disjoint and their union is the whole corpus in every epoch.
"""

from __future__ import annotations

import numpy as np

from rlpjax.config_io import ConfigError
from rlpjax.data.records import Outcome, parse_json_record, zero_counts
from rlpjax.data.shards import read_records


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

    def __init__(self, shards: list[str], fmt: str, text_field: str, *, seed: int, shuffle: bool, window: int,
                 num_epochs: int, process_index: int, process_count: int, cycle_length: int = 4, name: str = "",
                 strict: bool = False):
        self._name = name
        if len(shards) >= process_count:
            self._shards, record_stride = shards[process_index::process_count], (1, 0)
        else:
            self._shards, record_stride = shards, (process_count, process_index)
        self._open = lambda index, start: read_records(self._shards[index], fmt, text_field, start, strict)
        self._record_stride = record_stride
        self._seed, self._shuffle, self._window = seed, shuffle, max(1, window)
        self._num_epochs, self._cycle_length = num_epochs, cycle_length
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


class ArrayRecordStream:
    """Good documents of ArrayRecord shards (each record a JSON object) in a step-indexed, seeded global order."""

    def __init__(self, shards: list[str], text_field: str, *, seed: int, shuffle: bool, num_epochs: int,
                 process_index: int, process_count: int, name: str = ""):
        import grain

        dataset = grain.MapDataset.source(grain.sources.ArrayRecordDataSource(shards))
        self._dataset = dataset[process_index::process_count]
        if shuffle:
            self._dataset = self._dataset.shuffle(seed=seed % 2**32)
        self._length = len(self._dataset)
        if self._length == 0:
            raise ConfigError(f"data source {name!r} has no records in its ArrayRecord shards {shards[:3]}")
        self._text_field, self._num_epochs, self._name = text_field, num_epochs, name
        self.set_state({"index": 0, "counts": zero_counts(), "good": 0})

    def get_state(self) -> dict:
        return {"index": self._index, "counts": dict(self._counts), "good": self._good_in_epoch}

    def set_state(self, state: dict) -> None:
        self._index, self._counts, self._good_in_epoch = state["index"], zero_counts(state["counts"]), state["good"]

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def next(self) -> str:
        while True:
            epoch, within = divmod(self._index, self._length)
            if self._num_epochs and epoch >= self._num_epochs:
                raise StopIteration
            if within == 0 and self._index > 0:
                if self._good_in_epoch == 0:
                    raise ConfigError(f"data source {self._name!r} has no usable documents (counts: {self._counts})")
                self._good_in_epoch = 0
            text, bad = parse_json_record(self._dataset[self._index], self._text_field)
            self._index += 1
            if bad is None:
                self._good_in_epoch += 1
                return text
            self._counts[bad] += 1
