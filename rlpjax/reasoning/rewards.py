"""RL rewards from a `Verification`, registered by name.

| name            | formula                                   | source                                          |
|-----------------|-------------------------------------------|-------------------------------------------------|
| `outcome`       | R_out (1 if the answer is right, else 0)  | outcome-only baseline                           |
| `process_blend` | a * R_out + (1 - a) * R_pv                | the paper's Eq. 3 (a = 0.2 best, 0.5 also run)  |
| `strict`        | R_out if R_pv == 1 else 0                 | the paper's strict reward (= VerifiedCorrect)   |
| `gated_penalty` | R_out * (a + (1 - a) * R_pv)              | the authors' code: blend gated on a right answer|

R_pv is ProcessAcc. The authors' code also counts penalties (value, dependency, missing, extra nodes, answer); they
are on the `Verification` (`value_errors`, `dependency_errors`, `missing_nodes`, `extra_nodes`, `answer_error`) for
logging and do not enter any reward here. Add a reward with `@register_reward("name")`.
"""

from __future__ import annotations

from typing import Callable

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.verify import Verification

RewardFn = Callable[..., float]
REWARDS: dict[str, RewardFn] = {}


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator: make a reward available to `reward(name, ...)`."""
    def decorate(fn: RewardFn) -> RewardFn:
        REWARDS[name] = fn
        return fn
    return decorate


def reward(name: str, verification: Verification, **params: float) -> float:
    """The named reward of one verified trace; unknown names or bad parameters raise ConfigError."""
    if name not in REWARDS:
        raise ConfigError(f"unknown reward {name!r}; choose one of {sorted(REWARDS)}")
    try:
        return float(REWARDS[name](verification, **params))
    except TypeError as err:
        raise ConfigError(f"reward {name!r} got bad parameters {sorted(params)}: {err}") from None


def _blend_weight(a: float) -> float:
    if not 0.0 <= a <= 1.0:
        raise ConfigError(f"reward weight a must lie in [0, 1] (got {a}); the paper uses 0.2 or 0.5")
    return a


@register_reward("outcome")
def outcome(verification: Verification) -> float:
    """1 if the final answer is right, else 0."""
    return float(verification.answer_correct)


@register_reward("process_blend")
def process_blend(verification: Verification, a: float = 0.2) -> float:
    """The paper's blend a * R_out + (1 - a) * ProcessAcc."""
    a = _blend_weight(a)
    return a * float(verification.answer_correct) + (1.0 - a) * verification.process_acc


@register_reward("strict")
def strict(verification: Verification) -> float:
    """R_out only when every gold step is right (ProcessAcc == 1), else 0."""
    return float(verification.answer_correct) if verification.process_acc == 1.0 else 0.0


@register_reward("gated_penalty")
def gated_penalty(verification: Verification, a: float = 0.2) -> float:
    """The authors' code variant: R_out * (a + (1 - a) * ProcessAcc), zero whenever the answer is wrong."""
    a = _blend_weight(a)
    return float(verification.answer_correct) * (a + (1.0 - a) * verification.process_acc)
