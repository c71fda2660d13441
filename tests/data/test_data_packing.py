"""Packed, padded and documents rows: segment ids, positions, lengths and windows against direct tokenization."""

import numpy as np

from rlpjax.config import DataConfig
from rlpjax.data import build_train_iterator, load_tokenizer
from rlpjax.data.generated import builtin_document

TOK = load_tokenizer("byte")


def _documents(count: int) -> list[np.ndarray]:
    """The first `count` built-in documents (seed 0, one host) with BOS and EOS, tokenized independently."""
    return [np.array([TOK.bos_id] + TOK.encode(builtin_document(0, i)) + [TOK.eos_id]) for i in range(count)]


def _batches(mode: str, seq_len: int, count: int, rows: int = 4) -> list[dict]:
    cfg = DataConfig(mode=mode, seq_len=seq_len, global_batch_size=rows, lanes=1, prefetch_batches=0)
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    return [next(iterator) for _ in range(count)]


def _row_pieces(tokens_t, segment_ids_t, positions_t) -> list[np.ndarray]:
    """Split one row into its segments, checking each segment is contiguous with positions 0, 1, ..."""
    pieces = []
    for segment in range(1, segment_ids_t.max() + 1):
        where = np.flatnonzero(segment_ids_t == segment)
        assert len(where) and np.all(np.diff(where) == 1)
        np.testing.assert_array_equal(positions_t[where], np.arange(len(where)))
        pieces.append(tokens_t[where])
    assert np.all(segment_ids_t[: len(np.flatnonzero(segment_ids_t))] > 0)  # padding only at the end
    return pieces


def test_packed_rows_reset_at_documents_and_lose_no_token():
    batches = _batches("packed", 64, count=6)
    stream = np.concatenate([p for b in batches for r in range(4)
                             for p in _row_pieces(b["tokens"][r], b["segment_ids"][r], b["positions"][r])])
    assert len(stream) == 6 * 4 * 64  # packed rows are full
    docs = _documents(80)
    np.testing.assert_array_equal(stream, np.concatenate(docs)[: len(stream)])
    # every segment boundary inside a row is a document boundary (BOS starts the next piece)
    for b in batches:
        starts = (b["positions"] == 0) & (np.arange(64) > 0)
        assert np.all(b["tokens"][starts] == TOK.bos_id)


def test_documents_mode_splits_long_documents_into_windows():
    seq_len = 50
    batches = _batches("documents", seq_len, count=5)
    windows = [b["tokens"][r, : b["lengths"][r]] for b in batches for r in range(4)]
    expected = [doc[start: start + seq_len] for doc in _documents(30) for start in range(0, len(doc), seq_len)]
    for got, want in zip(windows, expected):
        np.testing.assert_array_equal(got, want)
    for b in batches:
        np.testing.assert_array_equal(b["segment_ids"], (np.arange(seq_len) < b["lengths"][:, None]).astype(int))
        np.testing.assert_array_equal(b["positions"] * b["segment_ids"], b["positions"])
        assert np.all(b["tokens"][b["segment_ids"] == 0] == TOK.pad_id)


def test_padded_mode_truncates_one_document_per_row():
    seq_len = 100
    cfg = DataConfig(mode="padded", seq_len=seq_len, global_batch_size=4, prefetch_batches=0)
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    batches = [next(iterator) for _ in range(2)]
    docs = _documents(8)
    assert iterator.stats()["truncated_tokens"] == sum(max(0, len(d) - seq_len) for d in docs) > 0
    for i, doc in enumerate(docs):
        b, r = divmod(i, 4)
        n = min(len(doc), seq_len)
        np.testing.assert_array_equal(batches[b]["tokens"][r, :n], doc[:n])
        assert batches[b]["segment_ids"][r].sum() == n


def _whole_rows_reference(docs: list[np.ndarray], seq_len: int, num_rows: int) -> list[list[np.ndarray]]:
    """Greedy first-fit-in-order packing written out directly: a document starts a new row unless it fits whole in
    the current one; a document longer than a row fills rows on its own, in row-sized windows."""
    rows, current, space = [], [], seq_len
    for doc in docs:
        if current and len(doc) > space:
            rows.append(current)
            current, space = [], seq_len
        while len(doc) > space:  # only an over-long document alone in its row gets here
            rows.append([doc[:space]])
            doc, space = doc[space:], seq_len
        if len(doc):
            current.append(doc)
            space -= len(doc)
        if len(rows) >= num_rows:
            break
    return (rows + [current])[:num_rows]


def test_packed_whole_rows_never_split_a_document_that_fits():
    seq_len, count = 400, 5  # longer than every built-in document used (75-372 tokens)
    batches = _batches("packed_whole", seq_len, count=count)
    got = [_row_pieces(b["tokens"][r], b["segment_ids"][r], b["positions"][r]) for b in batches for r in range(4)]
    docs = _documents(120)
    assert max(len(d) for d in docs) < seq_len, "the built-in documents must fit in a row for this check"
    want = _whole_rows_reference(docs, seq_len, len(got))
    assert [len(row) for row in got] == [len(row) for row in want]
    for got_row, want_row in zip(got, want):
        for got_piece, want_piece in zip(got_row, want_row):
            np.testing.assert_array_equal(got_piece, want_piece)
    assert sum(len(row) > 1 for row in got) >= 3, "some rows should hold several documents"
    for row in got:  # every piece is a whole document: it starts with BOS and ends with EOS
        assert all(piece[0] == TOK.bos_id and piece[-1] == TOK.eos_id for piece in row)


def test_packed_whole_splits_only_documents_longer_than_a_row():
    seq_len = 96  # shorter than most built-in documents (75-372 tokens), longer than a few
    batches = _batches("packed_whole", seq_len, count=4)
    got = [_row_pieces(b["tokens"][r], b["segment_ids"][r], b["positions"][r]) for b in batches for r in range(4)]
    want = _whole_rows_reference(_documents(60), seq_len, len(got))
    assert [len(row) for row in got] == [len(row) for row in want]
    assert any(len(np.concatenate(row)) < seq_len for row in got), "some row should end in padding"
    for got_row, want_row in zip(got, want):
        for got_piece, want_piece in zip(got_row, want_row):
            np.testing.assert_array_equal(got_piece, want_piece)
