"""pass@k estimators.

- `pass_at_k_unbiased(n, c, k)`: the unbiased estimator 1 - C(n-c, k) / C(n, k) of the chance that at least one of
  k samples drawn without replacement from n (c of them correct) is correct; computed as the stable product
  1 - prod_{i=n-c+1}^{n} (1 - k / i), exact to float rounding for n up to thousands.
- `pass_at_k_first(flags, k)`: the "first-k" variant: 1 if a correct sample is among the first k, else 0 (the
  paper's strict tables: "a perfect sample among the first k").
"""

from __future__ import annotations

from typing import Sequence


def _check(n: int, k: int) -> None:
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n (got k={k}, n={n}); draw at least k samples per problem")


def pass_at_k_unbiased(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct."""
    _check(n, k)
    if not 0 <= c <= n:
        raise ValueError(f"correct count c={c} must lie in [0, n={n}]")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def pass_at_k_first(flags: Sequence[bool], k: int) -> float:
    """1.0 if any of the first k samples is correct, else 0.0."""
    _check(len(flags), k)
    return float(any(flags[:k]))


def default_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to n (and n itself if it is not a power of two)."""
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if ks[-1] == n else ks + [n]
