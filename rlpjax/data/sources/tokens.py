"""The token cache written by `rlpjax data tokenize` (token_cache.py): int32 ids read by random access.

The ids skip tokenization altogether; the pipeline still adds BOS / EOS and packs them like text. The cache is an
indexable source (global shuffle, step-indexed order), and it is refused when its tokenizer is not data.tokenizer.
"""

from __future__ import annotations

import functools

from rlpjax.config import SourceConfig
from rlpjax.data import token_cache
from rlpjax.data.sources import Share, register_source
from rlpjax.data.sources.arrayrecord import record_dataset


@functools.lru_cache(maxsize=16)
def checked_shards(path: str, tokenizer: str) -> tuple[str, ...]:
    """The shards of the cache at `path` once its manifest and tokenizer are checked: once per host, not per lane
    (checking loads the tokenizer: about a second for Qwen3's, times 64 lanes)."""
    manifest = token_cache.read_manifest(path)
    token_cache.check_tokenizer(manifest, tokenizer, path)
    return tuple(token_cache.shard_paths(manifest, path))


@register_source("tokens", marker=token_cache.MANIFEST)
def open_tokens(source: SourceConfig, share: Share):
    from rlpjax.data.streams import indexed_stream

    dataset = record_dataset(checked_shards(source.path, share.tokenizer))
    return indexed_stream(dataset, token_cache.decode_record, share, name=source.name)
