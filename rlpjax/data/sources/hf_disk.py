"""Hugging Face `datasets` saved with `Dataset.save_to_disk`: the directory's Arrow files, read with pyarrow alone.

`save_to_disk` writes Arrow IPC stream files (`data-00000-of-0000N.arrow`) and a `state.json` listing them in
order; they are memory-mapped, so a host pages in only the rows its lanes read, and the rows are an indexable
source (global shuffle, step-indexed). The `datasets` package is not needed. Point `path` at one split's directory
(a saved `DatasetDict` has one per split), or at .arrow files.
"""

from __future__ import annotations

import functools
import json

from etils import epath

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.shards import resolve_shards
from rlpjax.data.sources import Share, register_source
from rlpjax.data.sources.parquet import classify_column_value, is_text_type, require_column


def data_files(path: str) -> list[str]:
    """The Arrow files of a saved dataset: those its state.json lists, in order, else the .arrow files of `path`."""
    state = epath.Path(path) / "state.json"
    if epath.Path(path).is_dir() and state.is_file():
        return [str(epath.Path(path) / entry["filename"]) for entry in json.loads(state.read_text())["_data_files"]]
    return resolve_shards(path, "hf_disk")[0]


class _Column:
    """Random access to one column of memory-mapped Arrow stream files (a grain data source: len, getitem)."""

    def __init__(self, files: tuple[str, ...], text_field: str):
        try:
            import pyarrow as pa
        except ImportError:
            raise ConfigError("format 'hf_disk' reads Arrow files with pyarrow, which is not installed; "
                              "pip install pyarrow") from None
        chunks, arrow_type = [], None
        for file in files:
            try:
                table = pa.ipc.open_stream(pa.memory_map(file)).read_all()
            except (pa.ArrowException, OSError) as err:
                raise ConfigError(f"{file!r} is not a readable Arrow stream file ({type(err).__name__}); point "
                                  "data.sources.N.path at a directory written by Dataset.save_to_disk") from None
            require_column(table.schema.names, text_field, file, "Arrow")
            arrow_type = table.schema.field(text_field).type
            chunks.extend(table.column(text_field).chunks)
        self._column = pa.chunked_array(chunks, type=arrow_type)
        self.is_text = is_text_type(arrow_type)

    def __len__(self) -> int:
        return len(self._column)

    def __getitem__(self, index: int):
        return self._column[index].as_py()


@functools.lru_cache(maxsize=16)
def column_dataset(files: tuple[str, ...], text_field: str):
    """A grain `MapDataset` of one column's values, shared by every lane of a host, and whether it is text."""
    import grain

    column = _Column(files, text_field)
    return grain.MapDataset.source(column), column.is_text


@register_source("hf_disk", suffixes=(".arrow",), marker="state.json")
def open_hf_disk(source: SourceConfig, share: Share):
    from rlpjax.data.streams import indexed_stream

    dataset, is_text = column_dataset(tuple(data_files(source.path)), source.text_field)
    return indexed_stream(dataset, classify_column_value(is_text), share, name=source.name)
