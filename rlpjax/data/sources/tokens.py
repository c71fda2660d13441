"""The token cache written by `rlpjax data tokenize` (token_cache.py): int32 ids read by random access.

The ids skip tokenization altogether; the pipeline still adds BOS / EOS and packs them like text. The cache is an
indexable source (global shuffle, step-indexed order), and it is refused when its tokenizer is not data.tokenizer.
"""

from __future__ import annotations

from rlpjax.config import SourceConfig
from rlpjax.data import token_cache
from rlpjax.data.sources import Share, register_source
from rlpjax.data.sources.arrayrecord import record_dataset
from rlpjax.data.streams import IndexedStream


@register_source("tokens", marker=token_cache.MANIFEST)
def open_tokens(source: SourceConfig, share: Share):
    manifest = token_cache.read_manifest(source.path)
    token_cache.check_tokenizer(manifest, share.tokenizer, source.path)
    dataset = record_dataset(tuple(token_cache.shard_paths(manifest, source.path)))
    return IndexedStream(dataset, token_cache.decode_record, share, name=source.name)
