"""The same documents as JSONL, JSONL.gz, Parquet and ArrayRecord give identical token streams."""

import subprocess
import sys

import numpy as np
import pytest

from rlpjax.config_io import ConfigError
from rlpjax.data import build_train_iterator, load_tokenizer
from rlpjax.data.sources import Share, format_names, open_source
from rlpjax.config import SourceConfig
from data_corpus import drain, file_config, sample_texts, write_shards

FORMATS = ["jsonl", "jsonl.gz", "parquet", "arrayrecord"]


def _token_stream(path: str) -> np.ndarray:
    """All real tokens of one unshuffled epoch in documents mode, concatenated (one lane: the documents in order)."""
    cfg = file_config(path, mode="documents", seq_len=64, global_batch_size=2, lanes=1, shuffle=False, num_epochs=1)
    batches = drain(build_train_iterator(cfg, process_index=0, process_count=1))
    return np.concatenate([b["tokens"][r, : b["lengths"][r]] for b in batches for r in range(len(b["lengths"]))])


def test_all_formats_give_the_tokens_of_the_documents(tmp_path):
    texts = sample_texts(23)
    tok = load_tokenizer("byte")
    expected = np.concatenate([[tok.bos_id] + tok.encode(t) + [tok.eos_id] for t in texts])
    usable = len(expected) - len(expected) % 128  # the last partial batch (2 rows) is dropped
    for fmt in FORMATS:
        write_shards(tmp_path / fmt, texts, fmt, shards=1)
        stream = _token_stream(str(tmp_path / fmt))
        assert len(stream) >= usable - 2 * 64
        np.testing.assert_array_equal(stream, expected[: len(stream)], err_msg=fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_directory_and_glob_of_shards_cover_every_document(tmp_path, fmt):
    texts = sample_texts(30)
    write_shards(tmp_path, texts, fmt, shards=3)
    for path in (str(tmp_path), str(tmp_path / "part-*")):
        got = list(open_source(SourceConfig(path=path), Share(seed=1, shuffle=True, window=4)))
        assert sorted(got) == sorted(texts)


def test_missing_path_and_bad_tokenizer_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="matches no file"):
        build_train_iterator(file_config(str(tmp_path / "nothing*.jsonl")), process_index=0, process_count=1)
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="does not load"):
        load_tokenizer(str(bad))
    with pytest.raises(ConfigError, match="neither"):
        load_tokenizer(str(tmp_path / "missing"))


def test_reading_the_source_registry_imports_neither_grain_nor_jax():
    """Config checks read the registry; the openers import the grain graph (and so JAX) only when a source opens."""
    code = ("import sys; from rlpjax.data.sources import format_names; names = format_names(); "
            "print(len(names), 'grain' in sys.modules, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(format_names())), "False", "False"]
