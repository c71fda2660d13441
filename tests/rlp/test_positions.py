"""Position selection: validity, distinctness, the short-document rule, and each strategy against NumPy."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax.rlp.positions import STRATEGIES, select_positions

LENGTHS = np.array([40, 2, 1, 0, 5, 6, 33], dtype=np.int32)
T, K = 40, 4


def run(strategy, lengths=LENGTHS, k=K, seed=0):
    nll = np.random.default_rng(seed).uniform(0, 5, (len(lengths), T)).astype(np.float32)
    jitted = jax.jit(select_positions, static_argnums=(0, 2))
    positions, valid = jitted(strategy, jnp.asarray(lengths), k, jax.random.key(seed), jnp.asarray(nll))
    return np.asarray(positions), np.asarray(valid), nll


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "after_token"])  # its own test below
def test_every_strategy_gives_valid_distinct_sorted_positions(strategy):
    positions, valid, _ = run(strategy)
    for b, length in enumerate(LENGTHS):
        n = max(int(length) - 1, 0)
        assert valid[b].sum() == min(K, n)
        chosen = positions[b][valid[b]]
        assert np.all((chosen >= 1) & (chosen <= length - 1))
        assert len(set(chosen.tolist())) == len(chosen)
        assert np.all(np.diff(chosen) > 0)
        if n < K:  # the documented fill: all valid positions, then position n repeated (1 when none is valid)
            np.testing.assert_array_equal(positions[b], [min(k + 1, n) if n else 1 for k in range(K)])


def test_surprisal_matches_numpy_argsort():
    positions, valid, nll = run("surprisal", seed=3)
    for b, length in enumerate(LENGTHS):
        if length - 1 < K:
            continue
        candidates = np.arange(1, length)
        order = np.argsort(-nll[b, candidates], kind="stable")
        np.testing.assert_array_equal(positions[b], np.sort(candidates[order[:K]]))


def test_surprisal_ties_prefer_earlier_positions():
    nll = jnp.ones((1, 10))
    positions, _ = select_positions("surprisal", jnp.array([10]), 3, ema_nll_bt=nll)
    np.testing.assert_array_equal(positions[0], [1, 2, 3])


def test_stride_and_last_match_their_formulas():
    stride, _, _ = run("stride")
    last, _, _ = run("last")
    for b, length in enumerate(LENGTHS):
        n = int(length) - 1
        if n < K:
            continue
        np.testing.assert_array_equal(stride[b], [1 + (2 * k + 1) * n // (2 * K) for k in range(K)])
        np.testing.assert_array_equal(last[b], np.arange(n - K + 1, n + 1))


def test_uniform_is_deterministic_for_a_key_and_changes_with_it():
    a, _, _ = run("uniform", seed=7)
    b, _, _ = run("uniform", seed=7)
    c, _, _ = run("uniform", seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_uniform_draws_every_subset_equally_often():
    """n = 5 valid positions, K = 2: each of the 10 subsets has probability 1/10 (Floyd's algorithm)."""
    rows = 4000
    positions, valid = select_positions("uniform", jnp.full((rows,), 6), 2, jax.random.key(0))
    assert np.all(np.asarray(valid))
    counts = {pair: 0 for pair in itertools.combinations(range(1, 6), 2)}
    for row in np.asarray(positions).tolist():
        counts[tuple(row)] += 1
    expected = rows / len(counts)
    chi_square = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi_square < 27.9  # 99.9th percentile of chi-square with 9 degrees of freedom


def test_missing_inputs_are_errors():
    with pytest.raises(ValueError, match="key"):
        select_positions("uniform", jnp.array([5]), 1)
    with pytest.raises(ValueError, match="ema_nll_bt"):
        select_positions("surprisal", jnp.array([5]), 1)
    with pytest.raises(ValueError, match="strategy"):
        select_positions("random", jnp.array([5]), 1)


def test_after_token_picks_the_first_positions_after_each_marker_like_a_loop():
    marker, k = 7, 3
    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 9, (len(LENGTHS), T)).astype(np.int32)  # about one token in nine is the marker
    tokens[1, :] = 7  # a 2-token document: only position 1 is valid (its predecessor is a marker)
    tokens[5, :] = 0  # a document without markers
    jitted = jax.jit(select_positions, static_argnums=(0, 2), static_argnames=("marker_id",))
    positions, valid = jitted("after_token", jnp.asarray(LENGTHS), k, tokens_bt=jnp.asarray(tokens),
                              marker_id=marker)
    positions, valid = np.asarray(positions), np.asarray(valid)
    for b, length in enumerate(LENGTHS):
        expected = [t for t in range(1, max(int(length) - 1, 0) + 1) if tokens[b, t - 1] == marker][:k]
        assert positions[b][valid[b]].tolist() == expected
        assert valid[b].tolist() == [slot < len(expected) for slot in range(k)]
        assert np.all((positions[b] >= 1) & (positions[b] <= max(int(length) - 1, 1)))
    assert valid[1].tolist() == [True, False, False] and not valid[5].any()
    assert valid[0].all(), "the 40-token document should hold at least three markers"
