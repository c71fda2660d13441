"""Finding a source's shard files and reading their records one at a time, from any record index.

Paths go through `etils.epath`, so local paths and cloud paths (gs://..., when the matching filesystem library is
installed) work alike. A source path is a file, a directory (its files with a known suffix) or a glob. Readers
stream: no shard is ever read whole into memory, and `read_records(..., start=i)` begins at record i so a stream
can resume mid-shard. Record indices count every record, good or bad (a JSONL line, a Parquet row).
"""

from __future__ import annotations

import gzip
import itertools
import logging
import zlib
from typing import Iterator

from etils import epath

from rlpjax.config_io import ConfigError
from rlpjax.data.records import Outcome, check_text, parse_json_record
from rlpjax.paths import require_client

log = logging.getLogger(__name__)

UTF8_BOM = b"\xef\xbb\xbf"

SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".jsonl.gz": "jsonl",
    ".json.gz": "jsonl",
    ".parquet": "parquet",
    ".array_record": "arrayrecord",
    ".arrayrecord": "arrayrecord",
}
"""File suffixes recognised by format "auto" and when listing a directory."""

FILE_FORMATS = ("jsonl", "parquet", "arrayrecord")


def format_of(path: str) -> str | None:
    """The format a file's suffix names, or None (longest suffix first, so .jsonl.gz beats .gz)."""
    name = path.lower()
    for suffix in sorted(SUFFIX_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return SUFFIX_FORMATS[suffix]
    return None


def resolve_shards(path: str, fmt: str) -> tuple[list[str], str]:
    """Sorted shard paths of a file / directory / glob and their single format; a user error when none match."""
    if not path:
        raise ConfigError("a file source has an empty path; set data.sources.N.path to a file, directory or glob")
    require_client(path, "data path")
    if any(ch in path for ch in "*?["):
        head, _, pattern = _split_glob(path)
        shards = sorted(str(p) for p in epath.Path(head).glob(pattern) if p.is_file())
    elif epath.Path(path).is_dir():
        shards = sorted(str(p) for p in epath.Path(path).iterdir() if p.is_file() and format_of(str(p)))
    elif epath.Path(path).is_file():
        shards = [path]
    else:
        shards = []
    if not shards:
        raise ConfigError(f"data path {path!r} matches no file; check the path, directory or glob")
    if fmt != "auto":
        if fmt not in FILE_FORMATS:
            raise ConfigError(f"data format {fmt!r} is unknown; use auto, jsonl, parquet, arrayrecord, builtin or controlled")
        return shards, fmt
    formats = {format_of(s) for s in shards}
    if None in formats or len(formats) != 1:
        raise ConfigError(
            f"data path {path!r} matches files of unknown or mixed formats ({sorted(map(str, formats))}); "
            "select one format's files or set data.sources.N.format"
        )
    return shards, formats.pop()


def _split_glob(path: str) -> tuple[str, str, str]:
    """Split "dir/sub/*.jsonl" into ("dir/sub", "/", "*.jsonl"): the directory before the first wildcard part."""
    parts = path.split("/")
    first = next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?["))
    return "/".join(parts[:first]) or "/", "/", "/".join(parts[first:])


def read_records(path: str, fmt: str, text_field: str, start: int = 0, strict: bool = False) -> Iterator[Outcome]:
    """Outcomes of the records of one stream-read shard from record `start` on; an empty shard yields one
    ("empty_file") outcome at index 0.

    A shard that turns out unreadable part-way (a truncated or non-gzip `.gz`, a corrupt or truncated Parquet file)
    ends with one ("unreadable_shard") outcome and a logged warning naming it, so one bad shard among thousands costs
    its own records and nothing else; with `strict` (`data.strict`) it is a `ConfigError` naming the file instead.
    """
    if fmt == "jsonl":
        return _guard(_read_jsonl(path, text_field, start), path, strict)
    if fmt == "parquet":
        return _guard(_read_parquet(path, text_field, start), path, strict)
    raise ValueError(f"format {fmt!r} is not read as a stream")


def _unreadable_errors() -> tuple[type[BaseException], ...]:
    """What decoding a damaged shard raises: gzip / zlib / truncation errors, and pyarrow's when it is installed."""
    errors: tuple[type[BaseException], ...] = (gzip.BadGzipFile, EOFError, zlib.error, OSError)
    try:
        import pyarrow as pa
    except ImportError:
        return errors
    return errors + (pa.ArrowException,)


def _guard(records: Iterator[Outcome], path: str, strict: bool) -> Iterator[Outcome]:
    try:
        yield from records
    except _unreadable_errors() as err:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}"
        if strict:
            raise ConfigError(f"data shard {path!r} is unreadable ({reason}); replace or remove it, or set "
                              "data.strict=false to skip unreadable shards") from None
        log.warning("skipping the rest of unreadable data shard %s (%s)", path, reason)
        yield None, "unreadable_shard"


def _read_jsonl(path: str, text_field: str, start: int) -> Iterator[Outcome]:
    with epath.Path(path).open("rb") as raw:
        handle = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
        lines = iter(handle)
        first = next(lines, None)
        if first is None:
            if start == 0:
                yield None, "empty_file"
            return
        first = first.removeprefix(UTF8_BOM)  # a UTF-8 byte-order mark must not cost the first record
        for line in itertools.islice(itertools.chain([first], lines), start, None):
            yield parse_json_record(line.rstrip(b"\r\n"), text_field)


def _read_parquet(path: str, text_field: str, start: int) -> Iterator[Outcome]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with epath.Path(path).open("rb") as raw:
        parquet = pq.ParquetFile(raw)
        num_rows = parquet.metadata.num_rows
        if num_rows == 0:
            if start == 0:
                yield None, "empty_file"
            return
        if text_field not in parquet.schema_arrow.names:
            raise ConfigError(f"Parquet file {path!r} has no column {text_field!r} (its columns: "
                              f"{', '.join(parquet.schema_arrow.names)}); set data.sources.N.text_field")
        is_string = pa.types.is_string(parquet.schema_arrow.field(text_field).type) or pa.types.is_large_string(
            parquet.schema_arrow.field(text_field).type
        )
        first_group, skip = _row_group_at(parquet, start)
        groups = list(range(first_group, parquet.num_row_groups))
        for batch in parquet.iter_batches(row_groups=groups, columns=[text_field], batch_size=1024):
            values = batch.column(0).to_pylist()
            for value in values[skip:]:
                yield check_text(value) if is_string or value is None else (None, "non_string_field")
            skip = max(0, skip - len(values))


def _row_group_at(parquet, start: int) -> tuple[int, int]:
    """(row group holding row `start`, rows to skip inside it)."""
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if start < rows:
            return group, start
        start -= rows
    return parquet.num_row_groups, 0
