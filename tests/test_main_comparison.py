"""Paired pass@k differences of the main job against a brute-force computation over every k-subset of samples."""

import itertools

import numpy as np
import pytest

from rlpjax.eval.report import ProblemResult
from rlpjax.main.comparison import paired_difference


def _brute_passk(flags, k):
    """pass@k by enumeration: the share of k-subsets of the samples holding at least one correct one."""
    subsets = list(itertools.combinations(range(len(flags)), k))
    return sum(any(flags[i] for i in s) for s in subsets) / len(subsets)


def test_paired_difference_matches_brute_force_and_a_hand_written_standard_error():
    rng = np.random.default_rng(0)
    a = [ProblemResult(2, "A", "forward", tuple(rng.random(6) < p)) for p in (0.1, 0.5, 0.9, 0.3, 0.0)]
    b = [ProblemResult(2, "A", "forward", tuple(rng.random(6) < p)) for p in (0.2, 0.2, 0.6, 0.3, 0.1)]
    for k in (1, 2, 4):
        d = np.array([_brute_passk(x.flags, k) - _brute_passk(y.flags, k) for x, y in zip(a, b)])
        got = paired_difference("a", a, "b", b, k)
        assert got.diff == pytest.approx(d.mean(), abs=1e-12)
        se = np.sqrt(sum((x - d.mean()) ** 2 for x in d) / (len(d) - 1) / len(d))
        assert got.se == pytest.approx(se, abs=1e-12)
        assert got.significant == (abs(d.mean()) > 2 * se)


def test_a_clear_gain_is_significant_and_equal_arms_are_not():
    strong = [ProblemResult(3, "B", "reverse", (True,) * 4)] * 10
    weak = [ProblemResult(3, "B", "reverse", (False, True, False, False))] * 9 + [
        ProblemResult(3, "B", "reverse", (False,) * 4)]
    assert paired_difference("s", strong, "w", weak, 1).significant
    assert not paired_difference("s", strong, "s", strong, 1).significant


def test_different_problem_lists_are_refused():
    one = [ProblemResult(2, "A", "forward", (True,))]
    other = [ProblemResult(3, "A", "forward", (True,))]
    with pytest.raises(ValueError, match="not evaluated on the same problems"):
        paired_difference("a", one, "b", other, 1)
