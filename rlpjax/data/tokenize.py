"""Writing a token cache (see token_cache.py): read text shards once, tokenize in worker processes, write int32 shards.

The input is read in the pipeline's unshuffled order (shards sorted and interleaved a record each, four open at a
time, records in file order) by one reader in this process, cut into chunks of `chunk_docs` documents, and each
chunk is encoded by one of `workers` spawned processes (`workers=0`: in this process, with the tokenizer's own
threads). Chunks come back in order and a new shard starts once the current one holds `shard_tokens` tokens, so the
cache's bytes depend on the input and the tokenizer alone, never on the number of workers. At most 2 x workers
chunks are in flight, so memory stays bounded on any corpus.

Nothing half-written is ever read: a shard is written under a temporary name and renamed when closed (uploaded whole
when the output is on an object store), and the manifest goes last.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import multiprocessing
import os
import pathlib
import tempfile
from typing import Iterator

import numpy as np

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import token_cache
from rlpjax.data.sources import Share, format_of_directory, open_source
from rlpjax.paths import as_path, is_url

_WORKER_TOKENIZER = None


def _init_worker(spec: str) -> None:
    """Load the tokenizer once per worker; one thread each (the processes are the parallelism)."""
    global _WORKER_TOKENIZER
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from rlpjax.data.tokenizer import load_tokenizer

    _WORKER_TOKENIZER = load_tokenizer(spec)


def encode_chunk(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(every document's ids concatenated [sum n_i] int32, the lengths n_i [docs] int64): two arrays, cheap to send
    between processes, instead of lists of Python ints."""
    from rlpjax.data.packing import encode_documents

    ids = encode_documents(tokenizer, texts)
    lengths = np.fromiter((len(doc) for doc in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter((i for doc in ids for i in doc), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


def _encode_in_worker(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return encode_chunk(_WORKER_TOKENIZER, texts)


def encoded_chunks(chunks: Iterator[list[str]], spec: str, workers: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`encode_chunk` of each chunk, in order, by `workers` processes (0: here)."""
    if workers <= 0:
        from rlpjax.data.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(spec)
        for chunk in chunks:
            yield encode_chunk(tokenizer, chunk)
        return
    # spawn, not fork: a forked child of a process with live threads (grain prefetch, XLA) can deadlock.
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(spec,)) as pool:
        pending: collections.deque = collections.deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_encode_in_worker, (chunk,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


class _ShardWriter:
    """Shards of the cache at `out`, each written under a temporary name and published whole when closed."""

    def __init__(self, out: str):
        self._out = as_path(out)
        self._remote = is_url(out)
        if self._remote:
            self._staging = tempfile.TemporaryDirectory(prefix="rlpjax-tokens-")
            self._local = pathlib.Path(self._staging.name)
        else:
            self._local = pathlib.Path(out)
            self._local.mkdir(parents=True, exist_ok=True)
        self.shards: list[dict] = []
        self._writer = None

    def _open(self) -> None:
        from array_record.python.array_record_module import ArrayRecordWriter

        name = token_cache.shard_name(len(self.shards))
        self._partial = self._local / f".{name}.partial"
        self._writer = ArrayRecordWriter(str(self._partial), "group_size:1")  # cheapest random reads
        self.shards.append({"file": name, "documents": 0, "tokens": 0})

    def write(self, ids: np.ndarray) -> None:
        if self._writer is None:
            self._open()
        self._writer.write(token_cache.encode_record(ids))
        self.shards[-1]["documents"] += 1
        self.shards[-1]["tokens"] += len(ids)

    @property
    def open_tokens(self) -> int:
        return self.shards[-1]["tokens"] if self._writer is not None else 0

    def close_shard(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self._publish(self._partial, self.shards[-1]["file"])

    def _publish(self, local: pathlib.Path, name: str) -> None:
        if self._remote:
            (self._out / name).write_bytes(local.read_bytes())
            local.unlink()
        else:
            local.replace(self._local / name)

    def write_manifest(self, manifest: dict) -> None:
        staged = self._local / f".{token_cache.MANIFEST}.partial"
        staged.write_text(json.dumps(manifest, indent=1) + "\n")
        self._publish(staged, token_cache.MANIFEST)
        if self._remote:
            self._staging.cleanup()


@dataclasses.dataclass(frozen=True)
class TokenizeSettings:
    """How `rlpjax data tokenize` reads and writes (its command-line options)."""

    input: str
    out: str
    tokenizer: str = "byte"
    text_field: str = "text"
    format: str = "auto"
    workers: int = 0
    shard_tokens: int = 50_000_000
    """A new shard starts once one holds this many tokens (200 MB of int32)."""
    chunk_docs: int = 256
    """Documents per unit of work sent to a worker."""


def _documents(stream, chunk_docs: int) -> Iterator[list[str]]:
    chunk = []
    for document in stream:
        chunk.append(document)
        if len(chunk) == chunk_docs:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def tokenize_to_cache(s: TokenizeSettings, progress=None) -> dict:
    """Write the token cache of `s.input` to `s.out` and return its manifest. `progress(shard dict)` is called
    as each shard is published."""
    if s.workers < 0 or s.shard_tokens < 1 or s.chunk_docs < 1:
        raise ConfigError("--workers must be >= 0 and --shard-tokens, --chunk-docs >= 1")
    if (as_path(s.out) / token_cache.MANIFEST).exists():
        raise ConfigError(f"{s.out!r} already holds a token cache ({token_cache.MANIFEST}); choose another --out or "
                          "delete it first")
    identity = token_cache.tokenizer_identity(s.tokenizer)
    source = SourceConfig(name="input", path=s.input, format=s.format, text_field=s.text_field)
    if "tokens" in (source.format, format_of_directory(s.input)):
        raise ConfigError("--input is already a token cache; give the text shards it was made from")
    stream = iter(open_source(source, Share()))
    writer = _ShardWriter(s.out)
    for flat, lengths in encoded_chunks(_documents(stream, s.chunk_docs), s.tokenizer, s.workers):
        for ids in np.split(flat, np.cumsum(lengths)[:-1]):
            writer.write(ids)
            if writer.open_tokens >= s.shard_tokens:
                writer.close_shard()
                if progress:
                    progress(writer.shards[-1])
    writer.close_shard()
    if not writer.shards:
        raise ConfigError(f"--input {s.input!r} has no usable documents (skipped: {_nonzero(stream.counts())})")
    if progress:
        progress(writer.shards[-1])
    manifest = {
        "format": token_cache.FORMAT, "version": token_cache.VERSION, "dtype": "int32",
        "tokenizer": identity,
        "input": {"path": s.input, "format": s.format, "text_field": s.text_field},
        "documents": sum(shard["documents"] for shard in writer.shards),
        "tokens": sum(shard["tokens"] for shard in writer.shards),
        "skipped": _nonzero(stream.counts()),
        "bos_eos": "not stored: the pipeline adds data.add_bos / data.add_eos as it reads",
        "shards": writer.shards,
    }
    writer.write_manifest(manifest)
    return manifest


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {kind: count for kind, count in counts.items() if count}
