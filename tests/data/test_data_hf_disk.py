"""A Hugging Face dataset saved to disk (Arrow stream files + state.json) is read with pyarrow alone, in order."""

import json

import pytest

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.sources import Share, open_source
from data_corpus import sample_texts


def _save(directory, texts, files=2):
    """The layout Dataset.save_to_disk writes: data-0000i-of-0000n.arrow IPC streams and a state.json naming them."""
    pa = pytest.importorskip("pyarrow", reason="the hf_disk source needs pyarrow (pip install pyarrow)")
    directory.mkdir()
    names = [f"data-{i:05d}-of-{files:05d}.arrow" for i in range(files)]
    for i, name in enumerate(names):
        table = pa.table({"text": texts[i * len(texts) // files:(i + 1) * len(texts) // files]})
        with pa.ipc.new_stream(str(directory / name), table.schema) as writer:
            writer.write_table(table, max_chunksize=3)
    (directory / "state.json").write_text(json.dumps({"_data_files": [{"filename": n} for n in names]}))


def test_saved_dataset_reads_every_row_in_order_and_in_disjoint_shares(tmp_path):
    texts = sample_texts(11)
    _save(tmp_path / "train", texts)
    source = SourceConfig(name="hf", path=str(tmp_path / "train"), format="hf_disk")
    assert list(open_source(source, Share())) == texts
    auto = SourceConfig(name="hf", path=str(tmp_path / "train"))  # the state.json marker, not its .json suffix
    assert list(open_source(auto, Share())) == texts
    shares = [list(open_source(source, Share(index=i, count=2, shuffle=True, seed=4))) for i in range(2)]
    assert sorted(shares[0] + shares[1]) == sorted(texts) and not set(shares[0]) & set(shares[1])


def test_a_missing_column_is_named_with_the_fix(tmp_path):
    _save(tmp_path / "train", sample_texts(4))
    with pytest.raises(ConfigError, match="no column 'body'.*text_field"):
        open_source(SourceConfig(path=str(tmp_path / "train"), format="hf_disk", text_field="body"), Share())
