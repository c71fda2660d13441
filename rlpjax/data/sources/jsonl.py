"""JSON Lines shards (optionally gzip-compressed): one JSON object per line, the text in `text_field`."""

from __future__ import annotations

import gzip
import itertools
from typing import Callable, Iterator

from etils import epath

from rlpjax.config import SourceConfig
from rlpjax.data.records import Outcome, parse_json_record
from rlpjax.data.shards import owned_or_skipped
from rlpjax.data.sources import Share, register_source

UTF8_BOM = b"\xef\xbb\xbf"


def read_jsonl(path: str, text_field: str, start: int, owned: Callable[[int], bool]) -> Iterator[Outcome]:
    """The outcomes of a JSONL shard's lines from line `start` on (see rlpjax.data.shards.Reader)."""
    with epath.Path(path).open("rb") as raw:
        handle = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
        lines = iter(handle)
        first = next(lines, None)
        if first is None:
            if start == 0:
                yield None, "empty_file"
            return
        first = first.removeprefix(UTF8_BOM)  # a UTF-8 byte-order mark must not cost the first record
        rest = itertools.islice(itertools.chain([first], lines), start, None)
        yield from owned_or_skipped(rest, start, owned, lambda line: parse_json_record(line.rstrip(b"\r\n"), text_field))


@register_source("jsonl", suffixes=(".jsonl", ".json", ".jsonl.gz", ".json.gz"))
def open_jsonl(source: SourceConfig, share: Share):
    from rlpjax.data.streams import file_stream

    return file_stream(source, share, "jsonl", read_jsonl)
