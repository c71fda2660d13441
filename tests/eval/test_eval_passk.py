"""pass@k estimators against brute-force enumeration and exact big-integer arithmetic."""

import itertools
import math
from fractions import Fraction

import pytest

from rlpjax.eval.passk import default_ks, pass_at_k_first, pass_at_k_unbiased


def test_unbiased_equals_enumeration_over_all_k_subsets():
    for n in range(1, 9):
        for c in range(n + 1):
            flags = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(flags, k))
                expected = sum(any(s) for s in subsets) / len(subsets)
                assert pass_at_k_unbiased(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_extremes_and_monotone_in_k():
    assert pass_at_k_unbiased(10, 0, 5) == 0.0 and pass_at_k_unbiased(10, 10, 1) == 1.0
    assert pass_at_k_unbiased(10, 3, 8) == 1.0
    for c in (1, 7, 100):
        values = [pass_at_k_unbiased(128, c, k) for k in range(1, 129)]
        assert all(a <= b + 1e-15 for a, b in zip(values, values[1:]))
    assert pass_at_k_unbiased(128, 5, 1) == pytest.approx(5 / 128)


def test_stable_at_n_1024_against_exact_binomials():
    for c, k in ((1, 1), (1, 512), (3, 1000), (50, 64), (512, 256), (1000, 2), (1, 1024)):
        exact = 1 - Fraction(math.comb(1024 - c, k), math.comb(1024, k))
        value = pass_at_k_unbiased(1024, c, k)
        assert 0.0 <= value <= 1.0 and value == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


def test_first_k_variant_and_errors():
    flags = [False, False, True, False]
    assert [pass_at_k_first(flags, k) for k in range(1, 5)] == [0.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k_unbiased(4, 1, 5)
    with pytest.raises(ValueError, match="correct count"):
        pass_at_k_unbiased(4, 5, 1)
    assert default_ks(128) == [1, 2, 4, 8, 16, 32, 64, 128] and default_ks(6) == [1, 2, 4, 6]
