"""Finding a source's shard files and reading their records one at a time, from any record index.

Paths go through `etils.epath`, so local paths and cloud paths (gs://..., when the matching filesystem library is
installed) work alike. A source path is a file, a directory (its files with a known suffix) or a glob. Readers (one
per stream format, in rlpjax.data.sources) stream: no shard is ever read whole into memory, and a reader begins at
any record index so a stream can resume mid-shard. Record indices count every record, good or bad (a JSONL line, a Parquet row).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from typing import Callable, Iterator

from etils import epath

from rlpjax.config_io import ConfigError
from rlpjax.data.records import NOT_OWNED, Outcome
from rlpjax.data.sources import check_format, format_of
from rlpjax.paths import require_client

log = logging.getLogger(__name__)

Reader = Callable[[str, str, int, Callable[[int], bool]], Iterator[Outcome]]
"""`read(path, text_field, start, owned)`: the outcomes of one shard's records from index `start` on, `NOT_OWNED`
(unparsed) for a record whose index `owned` rejects; an empty shard yields one ("empty_file") outcome at index 0.
A reader may raise one of `unreadable_errors()` part-way; `guarded` turns that into one counted outcome."""


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
        check_format(fmt)
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




def unreadable_errors() -> tuple[type[BaseException], ...]:
    """What decoding a damaged shard raises: gzip / zlib / truncation errors, and pyarrow's when it is installed."""
    errors: tuple[type[BaseException], ...] = (gzip.BadGzipFile, EOFError, zlib.error, OSError)
    try:
        import pyarrow as pa
    except ImportError:
        return errors
    return errors + (pa.ArrowException,)


def guarded(records: Iterator[Outcome], path: str, strict: bool) -> Iterator[Outcome]:
    """`records` of shard `path`, ending with one ("unreadable_shard") outcome and a logged warning naming it if the
    shard turns out unreadable part-way (a truncated or non-gzip `.gz`, a corrupt Parquet or Arrow file), so one bad
    shard among thousands costs its own records and nothing else; with `strict` (`data.strict`) it is a
    `ConfigError` naming the file instead."""
    errors = unreadable_errors()  # not in the except clause: a generator closed mid-import would evaluate it there
    try:
        yield from records
    except errors as err:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}"
        if strict:
            raise ConfigError(f"data shard {path!r} is unreadable ({reason}); replace or remove it, or set "
                              "data.strict=false to skip unreadable shards") from None
        log.warning("skipping the rest of unreadable data shard %s (%s)", path, reason)
        yield None, "unreadable_shard"


def owned_or_skipped(values: Iterator, start: int, owned: Callable[[int], bool], classify) -> Iterator[Outcome]:
    """`classify(value)` for the values (records `start`, `start + 1`, ...) that `owned` accepts, NOT_OWNED for the
    rest (never classified: a share of a shard costs only its own parsing)."""
    for index, value in enumerate(values, start=start):
        yield classify(value) if owned(index) else NOT_OWNED
