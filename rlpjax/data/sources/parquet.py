"""Parquet shards: the text in column `text_field`, read a row group at a time from any row."""

from __future__ import annotations

from typing import Callable, Iterator

from etils import epath

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.records import Outcome, check_text
from rlpjax.data.shards import owned_or_skipped
from rlpjax.data.sources import Share, register_source


def is_text_type(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def classify_column_value(is_string: bool):
    """The outcome of one value of a text column (a non-string column's values are all `non_string_field`)."""
    return lambda value: check_text(value) if is_string or value is None else (None, "non_string_field")


def require_column(names: list[str], text_field: str, path: str, kind: str) -> None:
    if text_field not in names:
        raise ConfigError(f"{kind} file {path!r} has no column {text_field!r} (its columns: {', '.join(names)}); "
                          "set data.sources.N.text_field")


def read_parquet(path: str, text_field: str, start: int, owned: Callable[[int], bool]) -> Iterator[Outcome]:
    """The outcomes of a Parquet shard's rows from row `start` on (see rlpjax.data.shards.Reader)."""
    import pyarrow.parquet as pq

    with epath.Path(path).open("rb") as raw:
        parquet = pq.ParquetFile(raw)
        if parquet.metadata.num_rows == 0:
            if start == 0:
                yield None, "empty_file"
            return
        require_column(parquet.schema_arrow.names, text_field, path, "Parquet")
        classify = classify_column_value(is_text_type(parquet.schema_arrow.field(text_field).type))
        first_group, skip = _row_group_at(parquet, start)
        groups = list(range(first_group, parquet.num_row_groups))
        row = start
        for batch in parquet.iter_batches(row_groups=groups, columns=[text_field], batch_size=1024):
            values = batch.column(0).to_pylist()[skip:]
            yield from owned_or_skipped(values, row, owned, classify)
            row, skip = row + len(values), max(0, skip - batch.num_rows)


def _row_group_at(parquet, start: int) -> tuple[int, int]:
    """(row group holding row `start`, rows to skip inside it)."""
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if start < rows:
            return group, start
        start -= rows
    return parquet.num_row_groups, 0


@register_source("parquet", suffixes=(".parquet",))
def open_parquet(source: SourceConfig, share: Share):
    from rlpjax.data.streams import file_stream

    return file_stream(source, share, "parquet", read_parquet)
