"""Where RLP thinks: K positions per document (RLPConfig.positions_per_doc, RLPConfig.position_strategy).

Position t means "predict token t from tokens[:t]": the thought is inserted after x_<t and the reward scores x_t.
A document of `length` tokens therefore has the valid positions 1 .. length - 1 (t >= 1 so the context is not empty,
t <= length - 1 so token t exists): n = length - 1 of them.

Strategies (all return positions in ascending order):
- "uniform":   a uniformly random K-subset of the valid positions (Floyd's sampling, so no [B, T] array is needed).
- "stride":    evenly spaced, each at the centre of one of K equal slices: t_k = 1 + floor((2k + 1) n / (2K)).
- "surprisal": the K positions with the highest EMA-teacher next-token loss (ties: the earlier position first).
- "last":      the last K positions n - K + 1 .. n (K = 1 is the paper's one-context-one-position setting).
- "after_token": the first K positions whose preceding token is a given marker id (e.g. `<answer>`: think right
               before the answer); slots beyond the document's number of markers are marked invalid.

Documents with fewer than K valid positions (n < K), for every strategy, deterministically: slots 0 .. n-1 hold
all n valid positions 1 .. n in order and are marked valid; the remaining K - n slots are marked invalid and repeat
position n (or hold 1 when the document has no valid position at all), so indexing with them stays in range but
their results must be masked (see `rlp.rlp_loss(position_valid_x=...)`).
"""

from __future__ import annotations

import typing

import jax
import jax.numpy as jnp

from rlpjax.config import PositionStrategy

STRATEGIES = typing.get_args(PositionStrategy)
"""The position strategies `select_positions` accepts."""


def select_positions(
    strategy: str,
    lengths_b: jax.Array,
    K: int,
    key: jax.Array | None = None,
    ema_nll_bt: jax.Array | None = None,
    tokens_bt: jax.Array | None = None,
    marker_id: int = -1,
) -> tuple[jax.Array, jax.Array]:
    """Choose K positions per document -> (positions_bk int32, valid_bk bool), both [B, K].

    strategy, K: static (Python values; jit with static_argnums=(0, 2)).
    lengths_b: [B] int, tokens of each document.
    key: PRNG key, needed by "uniform" (the same key gives the same positions).
    ema_nll_bt: [B, T] float, needed by "surprisal": ema_nll_bt[b, t] = -log p_phi(x_t | x_<t) of the EMA teacher
        (column 0 is unused), i.e. the teacher's per-token loss aligned with the *predicted* token. Requires K <= T.
    tokens_bt, marker_id: [B, T] int documents and the marker token id, needed by "after_token". Requires K <= T.
    """
    if K < 1:
        raise ValueError(f"K must be >= 1, got {K}")
    num_valid_b = jnp.maximum(lengths_b.astype(jnp.int32) - 1, 0)
    if strategy == "uniform":
        if key is None:
            raise ValueError('the "uniform" strategy needs a PRNG key')
        positions_bk = _uniform_subset(num_valid_b, K, key)
    elif strategy == "stride":
        slots_k = jnp.arange(K, dtype=jnp.int32)
        positions_bk = 1 + ((2 * slots_k + 1)[None, :] * num_valid_b[:, None]) // (2 * K)
    elif strategy == "surprisal":
        if ema_nll_bt is None:
            raise ValueError('the "surprisal" strategy needs ema_nll_bt')
        positions_bk = _top_surprisal(ema_nll_bt, num_valid_b, K)
    elif strategy == "last":
        positions_bk = num_valid_b[:, None] - K + 1 + jnp.arange(K, dtype=jnp.int32)[None, :]
    elif strategy == "after_token":
        if tokens_bt is None or marker_id < 0:
            raise ValueError('the "after_token" strategy needs tokens_bt and a marker id')
        return _after_marker(tokens_bt, marker_id, num_valid_b, K)
    else:
        raise ValueError(f"unknown position strategy {strategy!r}; expected one of {STRATEGIES}")
    return _fill_short_documents(positions_bk.astype(jnp.int32), num_valid_b, K)


def _fill_short_documents(positions_bk: jax.Array, num_valid_b: jax.Array, K: int) -> tuple[jax.Array, jax.Array]:
    """Replace the rows with n < K valid positions by the documented fill; return (positions_bk, valid_bk)."""
    slots_k = jnp.arange(K, dtype=jnp.int32)
    short_b = num_valid_b < K
    fill_bk = jnp.maximum(jnp.minimum(slots_k[None, :] + 1, num_valid_b[:, None]), 1)
    positions_bk = jnp.where(short_b[:, None], fill_bk, positions_bk)
    valid_bk = slots_k[None, :] < num_valid_b[:, None]
    return positions_bk, valid_bk


def _uniform_subset(num_valid_b: jax.Array, K: int, key: jax.Array) -> jax.Array:
    """A uniformly random K-subset of {1 .. n} per row, sorted (Floyd's algorithm; rows with n < K are refilled).

    Floyd: for j = n-K .. n-1 draw u uniform in {0 .. j}; keep u if not yet chosen, else keep j. Each K-subset of
    {0 .. n-1} comes out with probability 1 / C(n, K). One independent draw per row and step (a [B] vector).
    """
    batch = num_valid_b.shape[0]

    def step(i, chosen_bk):
        upper_b = num_valid_b - K + i  # j of Floyd's loop; negative only on rows that get refilled later
        draw_b = jax.random.randint(jax.random.fold_in(key, i), (batch,), 0, jnp.maximum(upper_b, 0) + 1)
        taken_b = jnp.any(chosen_bk == draw_b[:, None], axis=-1)
        return chosen_bk.at[:, i].set(jnp.where(taken_b, upper_b, draw_b))

    chosen_bk = jax.lax.fori_loop(0, K, step, jnp.full((batch, K), -1, dtype=jnp.int32))
    return jnp.sort(chosen_bk, axis=-1) + 1


def _top_surprisal(ema_nll_bt: jax.Array, num_valid_b: jax.Array, K: int) -> jax.Array:
    """The K valid positions with the largest ema_nll_bt per row, sorted ascending (ties: lower position first)."""
    seq_len = ema_nll_bt.shape[1]
    if K > seq_len:
        raise ValueError(f"surprisal needs K <= T, got K = {K}, T = {seq_len}")
    positions_t = jnp.arange(seq_len, dtype=jnp.int32)
    valid_bt = (positions_t[None, :] >= 1) & (positions_t[None, :] <= num_valid_b[:, None])
    scores_bt = jnp.where(valid_bt, ema_nll_bt.astype(jnp.float32), -jnp.inf)
    _, top_bk = jax.lax.top_k(scores_bt, K)
    return jnp.sort(top_bk, axis=-1)


def _after_marker(tokens_bt: jax.Array, marker_id: int, num_valid_b: jax.Array,
                  K: int) -> tuple[jax.Array, jax.Array]:
    """The first K valid positions t with tokens_bt[t - 1] == marker_id (ascending) and their validity [B, K].

    Slots past a document's marker count repeat its last valid position (1 when it has none) and are invalid."""
    batch, seq_len = tokens_bt.shape
    if K > seq_len:
        raise ValueError(f"after_token needs K <= T, got K = {K}, T = {seq_len}")
    positions_t = jnp.arange(seq_len, dtype=jnp.int32)
    after_bt = jnp.concatenate([jnp.zeros((batch, 1), bool), tokens_bt[:, :-1] == marker_id], axis=1)
    hit_bt = after_bt & (positions_t[None, :] >= 1) & (positions_t[None, :] <= num_valid_b[:, None])
    # Marker positions first in ascending order: score T - t on hits, -1 elsewhere; top_k keeps the K largest.
    _, first_bk = jax.lax.top_k(jnp.where(hit_bt, seq_len - positions_t[None, :], -1), K)
    valid_bk = jnp.arange(K)[None, :] < hit_bt.sum(axis=1)[:, None]
    fallback_b = jnp.maximum(num_valid_b, 1)
    return jnp.where(valid_bk, first_bk, fallback_b[:, None]).astype(jnp.int32), valid_bk
