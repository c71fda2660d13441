"""`rlpjax data tokenize` and the "tokens" source: the cache holds each good document's ids in input order, its bytes
do not depend on the number of workers, training from it gives the text's batches, and bad input is refused in one
line (a tokenizer mismatch, a missing manifest or shard, an existing cache, no usable document)."""

import json

import numpy as np
import pytest

from rlpjax.cli import main
from rlpjax.config import DataConfig, SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import build_train_iterator
from rlpjax.data.token_cache import MANIFEST, decode_record, encode_record
from rlpjax.data.tokenize import TokenizeSettings, tokenize_to_cache
from data_corpus import drain, sample_texts, write_shards

BAD_LINES = [b"not json", b'{"text": 5}', b'{"other": "x"}', b'{"text": "   "}', b"\xff\xfe"]


def _corpus(tmp_path) -> tuple[str, list[str]]:
    """A two-shard JSONL corpus with bad lines appended to the first shard; (its directory, the good texts in the
    order the tokenizer reads them: the shards interleaved one record each, which undoes write_shards' split)."""
    texts = sample_texts(23)
    paths = write_shards(tmp_path / "text", texts, "jsonl", shards=2)
    with paths[0].open("ab") as handle:
        handle.write(b"\n".join(BAD_LINES) + b"\n")
    return str(tmp_path / "text"), texts


def _records(directory) -> list[bytes]:
    from array_record.python.array_record_module import ArrayRecordReader

    manifest = json.loads((directory / MANIFEST).read_text())
    records = []
    for shard in manifest["shards"]:
        reader = ArrayRecordReader(str(directory / shard["file"]))
        records += reader.read_all()
        reader.close()
    return records


def test_the_cache_holds_each_good_document_in_order_and_its_bytes_do_not_depend_on_the_workers(tmp_path):
    text_dir, good = _corpus(tmp_path)
    caches = {}
    for workers in (0, 2):
        out = tmp_path / f"cache{workers}"
        tokenize_to_cache(TokenizeSettings(input=text_dir, out=str(out), workers=workers, shard_tokens=300,
                                           chunk_docs=4))
        caches[workers] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert caches[0] == caches[2]
    assert not any(name.startswith(".") for name in caches[0])  # no temporary file is left
    records = _records(tmp_path / "cache0")
    assert [decode_record(raw)[0].tolist() for raw in records] == [list(t.encode("utf-8")) for t in good]
    manifest = json.loads(caches[0][MANIFEST])
    assert manifest["documents"] == len(good) and manifest["tokens"] == sum(len(t.encode("utf-8")) for t in good)
    assert manifest["skipped"] == {"malformed_json": 1, "non_string_field": 1, "missing_field": 1,
                                   "empty_document": 1, "invalid_utf8": 1}
    assert len(manifest["shards"]) > 2 and all(shard["tokens"] >= 300 for shard in manifest["shards"][:-1])
    assert sum(shard["documents"] for shard in manifest["shards"]) == len(good)


def _train_config(path: str, **overrides) -> DataConfig:
    fields = dict(sources=(SourceConfig(name="corpus", path=path),), seq_len=40, global_batch_size=4,
                  prefetch_batches=0, num_epochs=1)
    return DataConfig(**(fields | overrides))


def test_training_from_the_cache_gives_the_text_batches_and_a_shuffled_epoch_holds_every_document(tmp_path):
    texts = sample_texts(32)  # 16 per lane, 2 rows each a step: 8 whole steps (a lane's partial step is dropped)
    write_shards(tmp_path / "text", texts, "jsonl")
    tokenize_to_cache(TokenizeSettings(input=str(tmp_path / "text"), out=str(tmp_path / "cache"), shard_tokens=500))
    # Unshuffled, one lane: the cache's documents come in the text's order, so the batches are the same arrays.
    from_text = drain(build_train_iterator(_train_config(str(tmp_path / "text"), shuffle=False, lanes=1)))
    from_cache = drain(build_train_iterator(_train_config(str(tmp_path / "cache"), shuffle=False, lanes=1)))
    assert len(from_cache) == len(from_text) > 5
    for want, got in zip(from_text, from_cache):
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    # Shuffled over two lanes, one document per row: the epoch is a permutation of the documents with BOS / EOS.
    cfg = _train_config(str(tmp_path / "cache"), mode="padded", seq_len=120, lanes=2, seed=5)
    rows = [row for batch in drain(build_train_iterator(cfg)) for row in batch["tokens"].tolist()]
    docs = sorted(bytes(t for t in row if t < 256).decode() for row in rows if row[0] == 257)
    assert docs == sorted(texts)
    in_order = [bytes(t for t in row if t < 256).decode() for row in rows if row[0] == 257]
    assert in_order != texts  # shuffled


def test_records_round_trip_and_a_damaged_record_is_a_counted_kind():
    ids = np.array([0, 5, 151_668, 2**31 - 1], dtype=np.int32)
    got, bad = decode_record(encode_record(ids))
    assert bad is None and got.dtype == np.int32 and got.tolist() == ids.tolist()
    assert decode_record(b"abc") == (None, "malformed_tokens") and decode_record(b"") == (None, "malformed_tokens")


def _word_tokenizer(directory) -> str:
    """A tokenizer.json other than "byte" (a two-word vocabulary)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "document": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    directory.mkdir()
    tokenizer.save(str(directory / "tokenizer.json"))
    return str(directory)


def test_bad_caches_and_bad_outputs_are_refused_in_one_line_naming_the_fix(tmp_path, capsys):
    write_shards(tmp_path / "text", sample_texts(6), "jsonl")
    cache = tmp_path / "cache"
    args = ["data", "tokenize", "--input", str(tmp_path / "text"), "--out", str(cache), "--shard-tokens", "100"]
    assert main(args) == 0
    assert "6 documents" in capsys.readouterr().out
    assert main(args) == 2
    assert "already holds a token cache" in capsys.readouterr().err
    assert main(["data", "tokenize", "--input", str(cache), "--out", str(tmp_path / "again")]) == 2
    assert "already a token cache" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="holds ids of tokenizer 'byte'.*set data.tokenizer"):
        build_train_iterator(_train_config(str(cache), tokenizer=_word_tokenizer(tmp_path / "words")))
    manifest = json.loads((cache / MANIFEST).read_text())
    (cache / manifest["shards"][1]["file"]).unlink()
    with pytest.raises(ConfigError, match="lacks the shards.*copy the whole directory"):
        build_train_iterator(_train_config(str(cache)))
    (cache / MANIFEST).unlink()
    with pytest.raises(ConfigError, match="no token cache manifest.*rlpjax data tokenize"):
        build_train_iterator(_train_config(str(cache), sources=(SourceConfig(path=str(cache), format="tokens"),)))
    (tmp_path / "empty.jsonl").write_text('{"text": ""}\nnot json\n')
    assert main(["data", "tokenize", "--input", str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no usable documents" in err and "malformed_json" in err and len(err.strip().splitlines()) == 1
