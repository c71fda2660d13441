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
    cfg = DataConfig(mode=mode, seq_len=seq_len, global_batch_size=rows, prefetch_batches=0)
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
