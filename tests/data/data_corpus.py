"""Helpers for the data tests: write one list of records as JSONL, JSONL.gz, Parquet or ArrayRecord shards."""

from __future__ import annotations

import gzip
import json
import pathlib

from rlpjax.config import DataConfig, SourceConfig


def sample_texts(count: int) -> list[str]:
    """Distinct small documents, some with non-ASCII characters."""
    return [f"document {i}: " + "héllo wörld ✓ " * (1 + i % 5) + f"end {i}" for i in range(count)]


def write_shards(directory: pathlib.Path, texts: list[str], fmt: str, shards: int = 1) -> list[pathlib.Path]:
    """Write `texts` as {"text": ...} records split round-robin into `shards` files of format `fmt`."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = {"jsonl": ".jsonl", "jsonl.gz": ".jsonl.gz", "parquet": ".parquet", "arrayrecord": ".array_record"}[fmt]
    paths = []
    for shard in range(shards):
        records = [{"text": t, "id": i} for i, t in enumerate(texts) if i % shards == shard]
        path = directory / f"part-{shard:03d}{suffix}"
        lines = [json.dumps(r).encode() for r in records]
        if fmt == "jsonl":
            path.write_bytes(b"".join(line + b"\n" for line in lines))
        elif fmt == "jsonl.gz":
            path.write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines)))
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"text": [r["text"] for r in records]}), path, row_group_size=7)
        else:
            from array_record.python.array_record_module import ArrayRecordWriter

            writer = ArrayRecordWriter(str(path), "group_size:1")
            for line in lines:
                writer.write(line)
            writer.close()
        paths.append(path)
    return paths


def file_config(path: str, **overrides) -> DataConfig:
    """A one-source byte-tokenizer DataConfig over `path`, without prefetch unless overridden."""
    fields = {"sources": (SourceConfig(name="files", path=path),), "tokenizer": "byte", "prefetch_batches": 0}
    return DataConfig(**(fields | overrides))


def drain(iterator) -> list[dict]:
    """Every batch of a finite iterator."""
    batches = []
    while True:
        try:
            batches.append(next(iterator))
        except StopIteration:
            return batches
