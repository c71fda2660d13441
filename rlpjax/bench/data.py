"""Throughput of the whole data pipeline (read, tokenize, pack, batch) in tokens per second."""

from __future__ import annotations

import os
import platform
import time

from rlpjax.config import DataConfig
from rlpjax.data.pipeline import build_train_iterator


def bench_data(cfg: DataConfig, batches: int = 50, warmup: int = 2) -> dict:
    """Time `batches` host batches after `warmup` ones; tokens/s counts every row position (padding included:
    what the trainer consumes) and real tokens/s only non-padding ones."""
    iterator = build_train_iterator(cfg, process_index=0, process_count=1)
    for _ in range(warmup):
        next(iterator)
    positions, real = 0, 0
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
        positions += batch["tokens"].size
        real += int((batch["segment_ids"] > 0).sum())
    seconds = time.perf_counter() - start
    iterator.close()
    return {
        "tokens_per_s": positions / seconds,
        "real_tokens_per_s": real / seconds,
        "batches_per_s": batches / seconds,
        "batches": batches,
        "seconds": seconds,
        "rows": cfg.global_batch_size,
        "seq_len": cfg.seq_len,
        "mode": cfg.mode,
        "tokenizer": cfg.tokenizer,
        "sources": [source.path or source.format for source in cfg.sources],
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {os.cpu_count()} CPUs",
    }
