"""Corpus mixtures as data, op splits, the on-the-fly document stream and held-out evaluation sets.

A mixture gives weights to op ranges and, independently, to templates; modes are used round-robin (equal shares).
Presets (paper settings):
- `pretrain`: ops 2-4 / 5-7 / 8-10 at 20% / 30% / 50%, templates A, B, C 1/3 each;
- `midtrain`: ops 2-10 at 20%, ops 11-14 at 80%, templates 1/3 each;
- `transfer-b0`, `transfer-b0.1`, `transfer-b1`, `transfer-b10`: the pre-training mixture where the new context
  (template B) is only a 0%, 0.1%, 1% or 10% seed and A and C share the rest (context-transfer experiment).

A cell is one (op, template, mode); a corpus is a quota of problems per cell (see `corpus_writer.py`).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import pathlib
from typing import Collection, Iterator

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.format import document_text
from rlpjax.reasoning.generator import MODES, generate_problem, problem_seed

Cell = tuple[int, str, str]
OP_SPLITS = {"id": (2, 10), "edge": (11, 14), "hard": (15, 20)}


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Weights over op ranges (first, last, weight) and over templates (name, weight); modes round-robin."""

    ops: tuple[tuple[int, int, float], ...]
    templates: tuple[tuple[str, float], ...] = (("A", 1 / 3), ("B", 1 / 3), ("C", 1 / 3))
    modes: tuple[str, ...] = MODES


_PRETRAIN_OPS = ((2, 4, 0.2), (5, 7, 0.3), (8, 10, 0.5))


def _transfer(seed_fraction: float) -> Mixture:
    """Pre-training mixture with template B at `seed_fraction` of the problems."""
    rest = (1.0 - seed_fraction) / 2
    return Mixture(_PRETRAIN_OPS, (("A", rest), ("B", seed_fraction), ("C", rest)))


PRESETS: dict[str, Mixture] = {
    "pretrain": Mixture(_PRETRAIN_OPS),
    "midtrain": Mixture(((2, 10, 0.2), (11, 14, 0.8))),
    "transfer-b0": _transfer(0.0),
    "transfer-b0.1": _transfer(0.001),
    "transfer-b1": _transfer(0.01),
    "transfer-b10": _transfer(0.1),
}


def split_of_op(op: int) -> str:
    """The evaluation split of an op count: "id" (2-10), "edge" (11-14), "hard" (15-20) or "other"."""
    return next((name for name, (low, high) in OP_SPLITS.items() if low <= op <= high), "other")


def get_mixture(preset: str | Mixture) -> Mixture:
    """A preset by name (or a Mixture as is)."""
    if isinstance(preset, Mixture):
        return preset
    if preset not in PRESETS:
        raise ConfigError(f"unknown corpus preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset]


def cell_weights(mixture: Mixture) -> dict[Cell, float]:
    """Probability of each (op, template, mode) cell under a mixture (zero-weight cells left out)."""
    weights: dict[Cell, float] = {}
    op_total = sum(w for _lo, _hi, w in mixture.ops)
    template_total = sum(w for _t, w in mixture.templates)
    for low, high, op_weight in mixture.ops:
        for op in range(low, high + 1):
            for template, template_weight in mixture.templates:
                for mode in mixture.modes:
                    weight = (op_weight / op_total / (high - low + 1)) * (template_weight / template_total)
                    if weight > 0:
                        weights[(op, template, mode)] = weights.get((op, template, mode), 0.0) + weight / len(
                            mixture.modes)
    return weights


def apportion(weights: dict, total: int) -> dict:
    """Integer counts summing to `total` in proportion to `weights` (largest remainder, ties by key order)."""
    weight_sum = sum(weights.values())
    exact = {key: total * w / weight_sum for key, w in weights.items()}
    counts = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(weights, key=lambda key: -(exact[key] - counts[key]))
    for key in by_remainder[:total - sum(counts.values())]:
        counts[key] += 1
    return counts


def mixture_quotas(preset: str | Mixture, num_problems: int) -> dict[Cell, int]:
    """Problems per cell for a corpus of `num_problems` drawn from a mixture."""
    return apportion(cell_weights(get_mixture(preset)), num_problems)


def grid_quotas(ops: Collection[int], templates: Collection[str], modes: Collection[str],
                per_op: int) -> dict[Cell, int]:
    """`per_op` problems for every op, shared round-robin over templates x modes."""
    cells = [(template, mode) for mode in modes for template in templates]
    return {(op, template, mode): per_op // len(cells) + (i < per_op % len(cells))
            for op in ops for i, (template, mode) in enumerate(cells)}


def candidate(seed: int, stream: str, cell: Cell, index: int) -> dict:
    """Candidate number `index` of a cell's deterministic stream (before deduplication)."""
    op, template, mode = cell
    return generate_problem(op, template, mode, problem_seed(seed, stream, op, template, mode, index))


def iter_documents(preset: str | Mixture, seed: int, start: int = 0,
                   exclude_ids: Collection[str] = ()) -> Iterator[str]:
    """Endless training texts drawn from a mixture: document i depends only on (preset, seed, i).

    `start` resumes the stream at document `start`; problems whose id is in `exclude_ids` (a held-out set) are
    skipped. Documents are drawn independently, so small op counts repeat (there are few distinct op-2 problems).
    """
    weights = cell_weights(get_mixture(preset))
    cells = list(weights)
    cumulative = list(itertools.accumulate(weights[c] for c in cells))
    stream = f"documents/{preset if isinstance(preset, str) else 'custom'}"
    for index in itertools.count(start):
        draw = problem_seed(seed, stream, index) / 2.0 ** 64 * cumulative[-1]
        cell = cells[min(bisect.bisect_right(cumulative, draw), len(cells) - 1)]
        record = candidate(seed, stream, cell, index)
        if record["id"] not in exclude_ids:
            yield document_text(record)


def build_eval_set(ops: Collection[int], templates: Collection[str], modes: Collection[str], per_op: int,
                   seed: int, exclude_ids: Collection[str] = ()) -> list[dict]:
    """A held-out problem set: `per_op` unique problems per op (templates x modes round-robin), each tagged with
    its op split, none of whose ids is in `exclude_ids` (e.g. `corpus_ids(train_dir)`); a separate "eval" stream,
    so it differs from any corpus of the same seed."""
    seen = set(exclude_ids)
    problems = []
    for cell, quota in grid_quotas(ops, templates, modes, per_op).items():
        kept = 0
        for index in range(50 * quota + 1000):
            if kept == quota:
                break
            record = candidate(seed, "eval", cell, index)
            if record["id"] not in seen:
                seen.add(record["id"])
                problems.append({**record, "split": split_of_op(cell[0])})
                kept += 1
        if kept < quota:
            raise ConfigError(f"only {kept} unique held-out problems exist for op {cell[0]}, template {cell[1]}, "
                              f"mode {cell[2]}; ask for fewer per op")
    return problems


def corpus_ids(directory: str | pathlib.Path) -> set[str]:
    """The ids of every record in a generated corpus directory (all *.jsonl files)."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"corpus directory {str(directory)!r} does not exist; generate it first")
    ids = set()
    for path in sorted(directory.glob("*.jsonl")):
        with path.open() as handle:
            ids.update(json.loads(line)["id"] for line in handle if line.strip())
    return ids
