"""`rlpjax data tokenize`: write a token cache (token_cache.py) from text shards, once, with worker processes.

    rlpjax data tokenize --input 'c4/*.jsonl.gz' --tokenizer Qwen/Qwen3-1.7B-Base --out cache/c4_qwen3 --workers 16

Then train from it with `data.sources.0.path=cache/c4_qwen3` (format "tokens", found from its manifest.json) and
the same data.tokenizer. The cache is identical for any --workers.
"""

from __future__ import annotations

import argparse
import time

from rlpjax.data.tokenize import TokenizeSettings, tokenize_to_cache


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    tokenize = sub.add_parser("tokenize", help="write a pre-tokenized cache of int32 ArrayRecord shards")
    defaults = TokenizeSettings(input="", out="")
    tokenize.add_argument("--input", required=True,
                          help="a file, directory or glob of text shards (JSONL, JSONL.gz, Parquet, ArrayRecord, "
                               "a Hugging Face dataset saved to disk)")
    tokenize.add_argument("--out", required=True, help="the cache directory to write (local or gs://)")
    tokenize.add_argument("--tokenizer", default=defaults.tokenizer,
                          help="'byte', a tokenizer.json, a directory holding one, or a Hub id (as data.tokenizer)")
    tokenize.add_argument("--text-field", default=defaults.text_field, help="field holding the document text")
    tokenize.add_argument("--format", default=defaults.format, help="input format (default: from the path)")
    tokenize.add_argument("--workers", type=int, default=defaults.workers,
                          help="tokenizer processes (default 0: this process, with the tokenizer's own threads)")
    tokenize.add_argument("--shard-tokens", type=int, default=defaults.shard_tokens,
                          help=f"tokens per output shard (default {defaults.shard_tokens:,})")
    tokenize.add_argument("--chunk-docs", type=int, default=defaults.chunk_docs,
                          help=f"documents per unit of work sent to a worker (default {defaults.chunk_docs})")


def run(args: argparse.Namespace) -> int:
    settings = TokenizeSettings(input=args.input, out=args.out, tokenizer=args.tokenizer, text_field=args.text_field,
                                format=args.format, workers=args.workers, shard_tokens=args.shard_tokens,
                                chunk_docs=args.chunk_docs)
    start = time.perf_counter()
    manifest = tokenize_to_cache(settings, progress=lambda shard: print(
        f"wrote {shard['file']}: {shard['documents']:,} documents, {shard['tokens']:,} tokens", flush=True))
    seconds = time.perf_counter() - start
    skipped = ", ".join(f"{kind} {count}" for kind, count in manifest["skipped"].items()) or "none"
    print(f"token cache {args.out}: {manifest['documents']:,} documents, {manifest['tokens']:,} tokens in "
          f"{len(manifest['shards'])} shards, {seconds:.1f} s ({manifest['tokens'] / seconds:,.0f} tokens/s); "
          f"skipped: {skipped}")
    return 0
