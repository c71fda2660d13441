"""One unreadable shard among many is skipped, counted and logged; the run goes on (or stops in one line if strict)."""

import gzip
import json
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlpjax.config_io import ConfigError
from rlpjax.data import build_train_iterator, load_tokenizer
from data_corpus import drain, file_config

GOOD = [f"document {i} of the readable shard" for i in range(10)]


def _jsonl(texts) -> bytes:
    return b"".join(json.dumps({"text": t}).encode() + b"\n" for t in texts)


def _texts(iterator) -> list[str]:
    tok = load_tokenizer("byte")
    return [tok.decode(b["tokens"][0, 1: b["lengths"][0] - 1]) for b in drain(iterator)]


def _iterator(path, **overrides):
    cfg = file_config(path, mode="documents", seq_len=128, global_batch_size=1, shuffle=False, num_epochs=1,
                      **overrides)
    return build_train_iterator(cfg, process_index=0, process_count=1)


def _damaged_shards(tmp_path) -> dict[str, bytes]:
    """A truncated gzip, a file named .gz that is not gzip, a corrupt Parquet and a truncated Parquet file."""
    whole = gzip.compress(_jsonl([f"lost {i} " * 40 for i in range(200)]))
    table = pa.table({"text": [f"parquet row {i}" for i in range(50)]})
    pq.write_table(table, tmp_path / "ok.parquet")
    parquet_bytes = (tmp_path / "ok.parquet").read_bytes()
    (tmp_path / "ok.parquet").unlink()
    return {"truncated.jsonl.gz": whole[: len(whole) // 2], "not_gzip.jsonl.gz": b"plain text, not gzip\n" * 5,
            "corrupt.parquet": b"PAR1" + b"\x00garbage" * 50, "truncated.parquet": parquet_bytes[: len(parquet_bytes) // 2]}


@pytest.mark.parametrize("name", ["truncated.jsonl.gz", "not_gzip.jsonl.gz", "corrupt.parquet", "truncated.parquet"])
def test_an_unreadable_shard_is_skipped_counted_and_logged(tmp_path, caplog, name):
    fmt_dir = tmp_path / "shards"
    fmt_dir.mkdir()
    suffix = ".parquet" if name.endswith(".parquet") else ".jsonl.gz"
    if suffix == ".parquet":
        pq.write_table(pa.table({"text": GOOD}), fmt_dir / "good.parquet")
    else:
        (fmt_dir / "good.jsonl.gz").write_bytes(gzip.compress(_jsonl(GOOD)))
    (fmt_dir / name).write_bytes(_damaged_shards(tmp_path)[name])
    iterator = _iterator(str(fmt_dir / f"*{suffix}"))
    with caplog.at_level(logging.WARNING, logger="rlpjax.data.shards"):
        texts = _texts(iterator)
    assert [t for t in texts if t.startswith("document")] == GOOD  # every good document arrives, in order
    stats = iterator.stats()
    assert stats["unreadable_shard"] == 1 and stats["bad/files/unreadable_shard"] == 1
    assert any(name in record.getMessage() for record in caplog.records)


def test_strict_makes_an_unreadable_shard_a_one_line_error(tmp_path):
    (tmp_path / "good.jsonl.gz").write_bytes(gzip.compress(_jsonl(GOOD)))
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match=r"bad\.jsonl\.gz.*data\.strict=false") as err:
        _texts(_iterator(str(tmp_path / "*.jsonl.gz"), strict=True))
    assert "\n" not in str(err.value)


def test_parquet_without_the_text_column_names_what_it_found(tmp_path):
    pq.write_table(pa.table({"content": ["a"], "url": ["u"]}), tmp_path / "x.parquet")
    with pytest.raises(ConfigError, match=r"no column 'text' \(its columns: content, url\)"):
        _texts(_iterator(str(tmp_path / "x.parquet")))


def test_a_byte_order_mark_does_not_cost_the_first_record(tmp_path):
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + _jsonl(GOOD[:3]))
    iterator = _iterator(str(tmp_path / "bom.jsonl"))
    assert _texts(iterator) == GOOD[:3]
    assert iterator.stats()["malformed_json"] == 0
