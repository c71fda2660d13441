"""ArrayRecord shards whose records are JSON objects (the text in `text_field`), read by random access."""

from __future__ import annotations

import functools

from rlpjax.config import SourceConfig
from rlpjax.data.records import parse_json_record
from rlpjax.data.shards import resolve_shards
from rlpjax.data.sources import Share, register_source


@functools.lru_cache(maxsize=16)
def record_dataset(shards: tuple[str, ...]):
    """One grain `MapDataset` of the raw records of `shards`, shared by every lane of a host (one set of open
    readers per host, however many lanes read it)."""
    import grain

    return grain.MapDataset.source(grain.sources.ArrayRecordDataSource(list(shards)))


@register_source("arrayrecord", suffixes=(".array_record", ".arrayrecord"))
def open_arrayrecord(source: SourceConfig, share: Share):
    from rlpjax.data.streams import indexed_stream

    shards, _ = resolve_shards(source.path, "arrayrecord")
    return indexed_stream(record_dataset(tuple(shards)), lambda raw: parse_json_record(raw, source.text_field), share,
                         name=source.name)
