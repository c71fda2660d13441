"""RL rewards from a `Verification`, registered by name: the spec's formulas and the authors' code's variants.

| name              | formula                                     | source                                            |
|-------------------|---------------------------------------------|---------------------------------------------------|
| `outcome`         | R_out (1 if the answer is right, else 0)    | outcome-only baseline (the paper's rl_edge runs)  |
| `process_blend`   | a * R_out + (1 - a) * ProcessAcc            | the paper's Eq. 3 as written (ungated)            |
| `strict`          | R_out if ProcessAcc == 1 else 0             | the paper's strict reward as written              |
| `gated_blend`     | R_out * (a + (1 - a) * ProcessAcc)          | Eq. 3 gated on a right answer, spec's R_pv        |
| `authors_process` | R_pv' = max(0, 1 - penalties / abs(V))      | the authors' code: the process reward alone       |
| `authors_gated`   | R_out * (a + (1 - a) * R_pv')               | the authors' code: what the paper's process-reward|
|                   |                                             | runs used (a = 0.2 best, 0.5 also run)            |
| `authors_strict`  | R_out if penalties == 0 else 0              | the authors' code: zero on any penalty            |

ProcessAcc (`verify.py`) is the share of gold nodes with the right value and parents; extra nodes do not lower it.
The authors' R_pv' counts penalties instead: `Verification.penalties` = value + dependency + missing + extra-node +
answer errors, over abs(V) = `Verification.gold_nodes`, clipped at 0; so it also penalises distractor steps and a
wrong or missing answer, and `authors_strict` is zero whenever a trace defines an extra node, which `strict` is not.
The presets in experiments/controlled/ use the authors' variants (what the paper ran). Add a reward with
`@register_reward("name")` (`weighted=True` when it takes the blend weight `a`, which grpo.reward_alpha sets).

`overlong_shaping` is DAPO's soft overlong punishment, added to any reward by length (grpo.overlong_buffer).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.verify import Verification

DOCUMENT_REWARDS = ("prefix_match",)
"""The rewards of GRPO on document prompts (grpo.prompts=documents, RPT; `train.tasks.grpo_prompts`): a
prediction, not a reasoning trace, so none of the verifier rewards below applies."""
RewardFn = Callable[..., float]
REWARDS: dict[str, RewardFn] = {}
WEIGHTED: set[str] = set()
"""Rewards that take the blend weight `a` (keyword argument)."""


def register_reward(name: str, *, weighted: bool = False) -> Callable[[RewardFn], RewardFn]:
    """Decorator: make `fn(verification[, a]) -> float` available to `reward(name, ...)`; `weighted`: it takes the
    blend weight `a`."""
    def decorate(fn: RewardFn) -> RewardFn:
        REWARDS[name] = fn
        WEIGHTED.discard(name)
        if weighted:
            WEIGHTED.add(name)
        return fn
    return decorate


def reward(name: str, verification: Verification, *, a: float = 0.2) -> float:
    """The named reward of one verified trace; `a` (the blend weight, grpo.reward_alpha) reaches only the rewards
    registered as weighted, the others have no parameter."""
    if name not in REWARDS:
        raise ConfigError(f"unknown reward {name!r}; choose one of {sorted(REWARDS)}")
    return float(REWARDS[name](verification, a=a) if name in WEIGHTED else REWARDS[name](verification))


def overlong_shaping(lengths_n: np.ndarray, max_len: int, buffer: int, penalty: float) -> np.ndarray:
    """DAPO's soft overlong punishment per response: 0 up to max_len - buffer tokens, then falling linearly to
    -penalty at max_len (a response cut at the cap gets -penalty). lengths_n: [N] response lengths in tokens
    (stop token included); buffer 0 gives zeros."""
    if buffer <= 0:
        return np.zeros(lengths_n.shape, np.float32)
    over_n = np.clip(np.asarray(lengths_n, np.float64) - (max_len - buffer), 0.0, buffer)
    return (-penalty * over_n / buffer).astype(np.float32)


def _blend_weight(a: float) -> float:
    if not 0.0 <= a <= 1.0:
        raise ConfigError(f"reward weight a must lie in [0, 1] (got {a}); the paper uses 0.2 or 0.5")
    return a


@register_reward("outcome")
def outcome(verification: Verification) -> float:
    """1 if the final answer is right, else 0."""
    return float(verification.answer_correct)


@register_reward("process_blend", weighted=True)
def process_blend(verification: Verification, a: float = 0.2) -> float:
    """The paper's blend a * R_out + (1 - a) * ProcessAcc."""
    a = _blend_weight(a)
    return a * float(verification.answer_correct) + (1.0 - a) * verification.process_acc


@register_reward("strict")
def strict(verification: Verification) -> float:
    """R_out only when every gold step is right (ProcessAcc == 1), else 0."""
    return float(verification.answer_correct) if verification.process_acc == 1.0 else 0.0


@register_reward("gated_blend", weighted=True)
def gated_blend(verification: Verification, a: float = 0.2) -> float:
    """R_out * (a + (1 - a) * ProcessAcc): the blend, zero whenever the answer is wrong."""
    a = _blend_weight(a)
    return float(verification.answer_correct) * (a + (1.0 - a) * verification.process_acc)


@register_reward("authors_process")
def authors_process(verification: Verification) -> float:
    """The authors' process reward R_pv' = max(0, 1 - penalties / |V|) (see the module table)."""
    return max(0.0, 1.0 - verification.penalties / verification.gold_nodes)


@register_reward("authors_gated", weighted=True)
def authors_gated(verification: Verification, a: float = 0.2) -> float:
    """The authors' blend R_out * (a + (1 - a) * R_pv'), the reward of the paper's process-verified runs."""
    a = _blend_weight(a)
    return float(verification.answer_correct) * (a + (1.0 - a) * authors_process(verification))


@register_reward("authors_strict")
def authors_strict(verification: Verification) -> float:
    """1 only for a right answer with no penalty at all (extra nodes included), else 0."""
    return float(verification.answer_correct and verification.penalties == 0)
