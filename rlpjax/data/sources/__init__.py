"""Data sources by registry: a format is one module in this package that registers an opener.

    @register_source("jsonl", suffixes=(".jsonl", ".jsonl.gz"))
    def open_jsonl(source: SourceConfig, share: Share):
        return file_stream(source, share, "jsonl", read_jsonl)  # a grain graph: rlpjax.data.streams.Documents

`open_source(source, share)` finds the opener of `source.format` ("auto": a directory holding a format's `marker`
file is of that format, else by the path's suffix; no path: "builtin") and returns the documents of one share
(`share.index` of `share.count` disjoint shares; the pipeline's lanes are shares) as a `Documents` grain dataset
(streams.py: build it with `file_stream` for stream-read shards, `indexed_stream` for a random-access MapDataset).
Every module of this package is imported the first time the registry is read, so adding a file is all a new format
needs; openers import their heavy dependencies (pyarrow, array_record) inside, so the registry is cheap to read.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Callable

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError


@dataclasses.dataclass(frozen=True)
class Share:
    """Which part of a source one stream reads, and how: share `index` of `count` disjoint shares whose union is
    the whole source in every epoch; `window` is the streaming shuffle's block; `num_epochs` 0 repeats forever."""

    index: int = 0
    count: int = 1
    seed: int = 0
    shuffle: bool = False
    window: int = 1
    num_epochs: int = 1
    strict: bool = False
    tokenizer: str = "byte"
    """data.tokenizer: a token cache checks that it holds ids of this tokenizer."""


@dataclasses.dataclass(frozen=True)
class SourceType:
    """A registered format: its opener, the file suffixes that format "auto" maps to it, and the file whose presence
    makes a directory one source of this format (a Hugging Face dataset's state.json, a token cache's manifest)."""

    name: str
    opener: Callable[[SourceConfig, Share], object]
    suffixes: tuple[str, ...]
    marker: str | None = None


_REGISTRY: dict[str, SourceType] = {}
_LOADED = False


def register_source(name: str, suffixes: tuple[str, ...] = (), marker: str | None = None):
    """Decorator registering `opener(source, share) -> stream` as format `name` (and, under format "auto", for
    files ending in `suffixes` and directories holding a file named `marker`)."""
    def register(opener):
        if name in _REGISTRY and _REGISTRY[name].opener is not opener:
            raise ValueError(f"data source format {name!r} is registered twice")
        _REGISTRY[name] = SourceType(name, opener, tuple(s.lower() for s in suffixes), marker)
        return opener

    return register


def registry() -> dict[str, SourceType]:
    """Every registered format by name (this package's modules imported on first use)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
    return _REGISTRY


def format_names() -> tuple[str, ...]:
    """The values data.sources.N.format accepts."""
    return ("auto", *sorted(registry()))


def format_of(path: str) -> str | None:
    """The format whose suffix ends `path` (longest suffix first, so .jsonl.gz beats .gz), or None."""
    name = path.lower().rstrip("/")
    by_suffix = {suffix: t.name for t in registry().values() for suffix in t.suffixes}
    for suffix in sorted(by_suffix, key=len, reverse=True):
        if name.endswith(suffix):
            return by_suffix[suffix]
    return None


def format_of_directory(path: str) -> str | None:
    """The format whose marker file directory `path` holds, or None (not a directory, or no marker)."""
    from rlpjax.paths import as_path

    directory = as_path(path.rstrip("/"))
    markers = {t.marker: t.name for t in registry().values() if t.marker}
    if not directory.is_dir():
        return None
    return next((fmt for marker, fmt in markers.items() if (directory / marker).is_file()), None)


def check_format(fmt: str) -> None:
    """A user error naming the choices when `fmt` is not a registered format."""
    if fmt not in format_names():
        raise ConfigError(f"data format {fmt!r} is unknown; use one of {', '.join(format_names())}")


def open_source(source: SourceConfig, share: Share):
    """The document stream of `share` of one configured source."""
    check_format(source.format)
    fmt = source.format
    if fmt == "auto":
        from rlpjax.data.shards import resolve_shards

        fmt = ("builtin" if not source.path else
               format_of_directory(source.path) or resolve_shards(source.path, "auto")[1])
    return registry()[fmt].opener(source, share)
