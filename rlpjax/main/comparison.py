"""Paired comparisons of two arms on the same held-out problems: per-problem pass@k differences and their errors.

Every arm is evaluated on the same problems with the same number of samples, so arm A and arm B can be compared
problem by problem: d_i = pass@k_A(i) - pass@k_B(i) (unbiased estimator per problem), the mean difference
d = mean_i d_i and its standard error se = std_i(d_i) / sqrt(m) over the m problems. A difference counts as
significant only when |d| > 2 se (about a 95% two-sided test under a normal approximation); anything else is
reported as indistinguishable, and nothing more is claimed from it.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from rlpjax.eval.passk import pass_at_k_unbiased

SIGNIFICANCE_SE = 2.0
"""A paired difference is called significant when it exceeds this many standard errors."""


def per_problem_passk(results: Sequence, k: int) -> np.ndarray:
    """[m] unbiased pass@k of each problem (`ProblemResult.flags` = the samples' VerifiedCorrect flags)."""
    return np.array([pass_at_k_unbiased(len(r.flags), int(sum(r.flags)), k) for r in results], np.float64)


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """pass@k of arm `a` minus arm `b` over the same problems, as fractions."""

    a: str
    b: str
    k: int
    diff: float
    se: float
    problems: int

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.se) and abs(self.diff) > SIGNIFICANCE_SE * self.se)

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "significant": self.significant}


def paired_difference(a: str, results_a: Sequence, b: str, results_b: Sequence, k: int) -> PairedDifference:
    """The paired pass@k difference of two arms' results on the same problems in the same order."""
    if [(r.op, r.template, r.mode) for r in results_a] != [(r.op, r.template, r.mode) for r in results_b]:
        raise ValueError(f"arms {a!r} and {b!r} were not evaluated on the same problems in the same order")
    d = per_problem_passk(results_a, k) - per_problem_passk(results_b, k)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return PairedDifference(a, b, k, float(d.mean()), se, len(d))
