"""One lane of the global batch as a grain graph: its shares of the sources -> the mixture -> rows -> batches.

    Documents (streams.py, one per source) -> IterDataset.mix (mixture.py) -> PackedRows -> .batch(rows_per_lane)

`PackedRows` is the one stage grain has no equivalent for: it tokenizes documents a chunk at a time and cuts rows in
the four packing modes of packing.py (grain's ConcatThenSplit / first-fit packers reorder documents across rows and
know neither the RLP "documents" layout nor "packed_whole"). A lane's iterator state is the grain state of its last
stage; `lane_stats(state)` reads the counters the metrics report out of it.
"""

from __future__ import annotations

import grain
import numpy as np

from rlpjax.data.mixture import mixture_counts
from rlpjax.data.packing import DocCursor, rows_to_batch, take_row


class PackedRows(grain.IterDataset):
    """Rows of `seq_len` tokens cut from the documents of `parent` in packing mode `mode`, each a dict of [T] int32
    arrays ("tokens", "segment_ids", "positions", and "lengths" [] in "documents" mode). Iterator state:
    {"cursor": DocCursor state, "counters": {"rows", "tokens", "truncated_tokens"}}."""

    def __init__(self, parent: grain.IterDataset, tokenizer, *, seq_len: int, mode: str, add_bos: bool,
                 add_eos: bool):
        super().__init__(parent)
        self.tokenizer, self.seq_len, self.mode, self.add_bos, self.add_eos = tokenizer, seq_len, mode, add_bos, add_eos

    def __iter__(self) -> grain.DatasetIterator:
        return _PackedRowsIterator(self, self._parent.__iter__())


class _PackedRowsIterator(grain.DatasetIterator):
    def __init__(self, rows: PackedRows, documents: grain.DatasetIterator):
        super().__init__(documents)
        self._rows = rows
        self._cursor = DocCursor(documents, rows.tokenizer, add_bos=rows.add_bos, add_eos=rows.add_eos)
        self._counters = {"rows": 0, "tokens": 0, "truncated_tokens": 0}

    def __next__(self) -> dict[str, np.ndarray]:
        rows = self._rows
        pieces, dropped = take_row(self._cursor, rows.seq_len, rows.mode)
        self._counters["rows"] += 1
        self._counters["tokens"] += sum(len(piece) for piece in pieces)
        self._counters["truncated_tokens"] += dropped
        batch = rows_to_batch([pieces], rows.seq_len, rows.tokenizer.pad_id, with_lengths=rows.mode == "documents")
        return {key: value[0] for key, value in batch.items()}

    def get_state(self) -> dict:
        return {"cursor": self._cursor.get_state(), "counters": dict(self._counters)}

    def set_state(self, state: dict) -> None:
        self._cursor.set_state(state["cursor"])
        self._counters = dict(state["counters"])


def lane_dataset(documents: grain.IterDataset, tokenizer, *, rows_per_lane: int, seq_len: int, mode: str,
                 add_bos: bool, add_eos: bool) -> grain.IterDataset:
    """The lane's batches ([rows_per_lane, T] arrays) from its mixture of documents; a partial last batch is
    dropped."""
    rows = PackedRows(documents, tokenizer, seq_len=seq_len, mode=mode, add_bos=add_bos, add_eos=add_eos)
    return rows.batch(rows_per_lane, drop_remainder=True)


def lane_stats(state: dict, rows_per_lane: int) -> dict[str, int]:
    """The metrics' counters of one lane from its iterator state: skipped records by kind and documents read per
    source (as of the reading frontier, read-ahead included), documents started, batches, tokens, truncated tokens."""
    counters = state["counters"]
    return mixture_counts(state["cursor"]["frontier"]) | {
        "batches": counters["rows"] // rows_per_lane, "tokens": counters["tokens"],
        "truncated_tokens": counters["truncated_tokens"], "documents": state["cursor"]["documents_started"]}
