"""Tokenized documents -> fixed-length rows -> numpy batches.

A `DocCursor` walks the token ids of a document iterator (a grain DatasetIterator: the lane's mixture; it tokenizes
a chunk of documents at a time with `encode_batch`, or takes a token cache's ids as they are; BOS/EOS added) and
remembers its place as a small JSON state. `take_row` cuts one row's pieces off it in one of four modes, and
`rows_to_batch` lays rows out as the batch dict every trainer reads:

- "tokens" [B, T] int32, pad_id where empty;
- "segment_ids" [B, T] int32: 1, 2, ... per document piece within the row, 0 = padding;
- "positions" [B, T] int32: 0, 1, ... restarting at every piece;
- "lengths" [B] int32 (documents mode only): real tokens in the row.

Modes: "packed" concatenates documents and splits at row ends (no token lost; a document continued on the next row
is a new segment there, positions restarting at 0); "packed_whole" packs whole documents: a document that does not
fit in the rest of the row starts the next row, the rest padded, so no document is split from its beginning (one
longer than T alone is split as in "packed"); "padded" puts one document per row and drops what exceeds T
(counted as truncated tokens); "documents" puts one document per row and splits longer documents into consecutive
windows of at most T tokens (the RLP layout).
"""

from __future__ import annotations

import typing

import numpy as np

from rlpjax.config import DataMode

MODES = typing.get_args(DataMode)

PIECE_CHARS = 1 << 16
"""Documents longer than this many characters are tokenized in pieces cut before a whitespace, so one huge line
costs bounded tokenizer memory (a single 20 MB string once took 24 GB); shorter documents are encoded whole."""


def _pieces(text: str, limit: int) -> list[str]:
    """`text` cut into consecutive pieces of at most about `limit` characters, each cut placed before a whitespace
    (so the whitespace-led word stays whole for the pre-tokenizer) when one exists in the second half of the piece."""
    pieces, start = [], 0
    while len(text) - start > limit:
        cut = start + limit
        space = max(text.rfind(" ", start + limit // 2, cut), text.rfind("\n", start + limit // 2, cut))
        cut = space if space > start else cut
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def encode_documents(tokenizer, texts: list[str], piece_chars: int = PIECE_CHARS) -> list[list[int]]:
    """Token ids of each text (one `encode_batch` call); long texts are encoded piece by piece and concatenated."""
    pieces, owners = [], []
    for index, text in enumerate(texts):
        for piece in _pieces(text, piece_chars) if len(text) > piece_chars else [text]:
            pieces.append(piece)
            owners.append(index)
    ids: list[list[int]] = [[] for _ in texts]
    for owner, piece_ids in zip(owners, tokenizer.encode_batch(pieces)):
        ids[owner].extend(piece_ids)
    return ids


class DocCursor:
    """Position in the token stream of a document iterator: (chunk start state, document in chunk, token offset).
    The state also holds `frontier`, the iterator's state after the chunk was read, which only the statistics read
    (the sources' counts as of the reading frontier)."""

    def __init__(self, stream, tokenizer, *, add_bos: bool, add_eos: bool, chunk_docs: int = 64):
        self._stream, self._tokenizer, self._chunk_docs = stream, tokenizer, chunk_docs
        self._prefix = np.asarray([tokenizer.bos_id] if add_bos else [], dtype=np.int32)
        self._suffix = np.asarray([tokenizer.eos_id] if add_eos else [], dtype=np.int32)
        self._chunk_start = self._frontier = stream.get_state()
        self._docs, self._doc, self._offset = [], 0, 0
        self.documents_started = 0

    def _read_chunk(self) -> None:
        """Tokenize the next `chunk_docs` documents of the stream (fewer at its end; StopIteration if none); a
        document that is token ids already (a token cache's) is taken as it is."""
        self._chunk_start = self._stream.get_state()
        documents = []
        try:
            while len(documents) < self._chunk_docs:
                documents.append(next(self._stream))
        except StopIteration:
            if not documents:
                raise
        finally:
            self._frontier = self._stream.get_state()
        encoded = iter(encode_documents(self._tokenizer, [doc for doc in documents if isinstance(doc, str)]))
        self._docs = [np.concatenate([self._prefix, np.asarray(next(encoded) if isinstance(doc, str) else doc,
                                                               dtype=np.int32), self._suffix])
                      for doc in documents]
        self._doc, self._offset = 0, 0

    def remaining(self) -> np.ndarray:
        """Token ids of the current document not yet taken ([n] int32, n > 0); StopIteration at the end of data."""
        while self._doc >= len(self._docs) or self._offset >= len(self._docs[self._doc]):
            if self._doc < len(self._docs):
                self._doc, self._offset = self._doc + 1, 0
            else:
                self._read_chunk()
        return self._docs[self._doc][self._offset:]

    def advance(self, count: int) -> None:
        """Mark `count` tokens of the current document as taken."""
        if self._offset == 0:
            self.documents_started += 1
        self._offset += count

    def next_doc(self) -> None:
        """Drop the rest of the current document."""
        if self._offset == 0:
            self.documents_started += 1
        self._doc, self._offset = self._doc + 1, 0

    def get_state(self) -> dict:
        return {"chunk_start": self._chunk_start, "chunk_len": len(self._docs), "doc": self._doc,
                "offset": self._offset, "documents_started": self.documents_started, "frontier": self._frontier}

    def set_state(self, state: dict) -> None:
        self._stream.set_state(state["chunk_start"])
        self._docs, self._frontier = [], state["frontier"]
        if state["chunk_len"]:
            self._read_chunk()
        self._doc, self._offset = state["doc"], state["offset"]
        self.documents_started = state["documents_started"]


def take_row(cursor: DocCursor, seq_len: int, mode: str) -> tuple[list[np.ndarray], int]:
    """The pieces ([n_i] int32 arrays) of one row and the number of tokens dropped by truncation."""
    if mode in ("packed", "packed_whole"):
        pieces, space = [], seq_len
        while space:
            remaining = cursor.remaining()
            if mode == "packed_whole" and pieces and len(remaining) > space:
                break  # this document would be split: it starts the next row instead
            piece = remaining[:space]
            cursor.advance(len(piece))
            pieces.append(piece)
            space -= len(piece)
        return pieces, 0
    remaining = cursor.remaining()
    piece = remaining[:seq_len]
    if mode == "padded":
        cursor.next_doc()
        return [piece], len(remaining) - len(piece)
    cursor.advance(len(piece))
    return [piece], 0


def rows_to_batch(rows: list[list[np.ndarray]], seq_len: int, pad_id: int, with_lengths: bool) -> dict[str, np.ndarray]:
    """Lay out rows of pieces as the batch dict (see the module docstring for the keys and shapes)."""
    tokens_bt = np.full((len(rows), seq_len), pad_id, dtype=np.int32)
    segment_ids_bt = np.zeros((len(rows), seq_len), dtype=np.int32)
    positions_bt = np.zeros((len(rows), seq_len), dtype=np.int32)
    lengths_b = np.zeros((len(rows),), dtype=np.int32)
    for row, pieces in enumerate(rows):
        start = 0
        for segment, piece in enumerate(pieces, start=1):
            end = start + len(piece)
            tokens_bt[row, start:end] = piece
            segment_ids_bt[row, start:end] = segment
            positions_bt[row, start:end] = np.arange(len(piece), dtype=np.int32)
            start = end
        lengths_b[row] = start
    batch = {"tokens": tokens_bt, "segment_ids": segment_ids_bt, "positions": positions_bt}
    if with_lengths:
        batch["lengths"] = lengths_b
    return batch
