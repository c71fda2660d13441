"""Shared by the RLP rollout tests: a batch of right-padded random documents of given lengths."""

import jax.numpy as jnp
import numpy as np


def documents(lengths, seq_len=12, seed=0) -> dict:
    """`tokens` (random ids 1..29, 0 after each document), `segment_ids`, `positions` [B, seq_len] and `lengths`."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((len(lengths), seq_len), np.int32)
    for row, n in enumerate(lengths):
        tokens[row, :n] = rng.integers(1, 30, size=n)
    segment_ids = (np.arange(seq_len)[None] < np.asarray(lengths)[:, None]).astype(np.int32)
    positions = np.broadcast_to(np.arange(seq_len, dtype=np.int32), tokens.shape).copy()
    return {"tokens": jnp.asarray(tokens), "segment_ids": jnp.asarray(segment_ids),
            "positions": jnp.asarray(positions), "lengths": jnp.asarray(lengths, jnp.int32)}
