"""Op splits, the on-the-fly document stream, held-out evaluation sets and the keys that keep them apart.

Mixtures (presets and mixture text) are in `mixtures.py`; a cell is one (op, template, mode); a corpus is a quota
of problems per cell (see `corpus_writer.py`).

Keeping evaluation out of training: problems are compared by their canonical key (`generator.canonical_key`: the
gold graph's structure and values), not by the text hash `id`. Held-out sets (`build_eval_set`) take only problems
whose key lies in the reserved part of the key space (`generator.is_heldout`); every training stream
(`training_candidate`: `iter_documents`, `corpus_writer`, the GRPO problem stream) skips those, and also any key in
`exclude_ids` (e.g. `corpus_ids` of a corpus written elsewhere).
"""

from __future__ import annotations

import bisect
import itertools
import json
import pathlib
from typing import Collection, Iterator

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.format import document_text
from rlpjax.reasoning.generator import (HELDOUT_MODULUS, canonical_key, generate_problem, is_heldout,
                                       problem_seed)
from rlpjax.reasoning.mixtures import Cell, Mixture, get_mixture

OP_SPLITS = {"id": (2, 10), "edge": (11, 14), "hard": (15, 20)}
MAX_ATTEMPTS = 1000
"""Redraws of one training problem whose candidates are all held out or excluded before giving up."""
_GOLDEN_64 = 0x9E3779B97F4A7C15
"""2^64 / golden ratio (odd): the Weyl sequence that picks a document's mixture part."""


def split_of_op(op: int) -> str:
    """The evaluation split of an op count: "id" (2-10), "edge" (11-14), "hard" (15-20) or "other"."""
    return next((name for name, (low, high) in OP_SPLITS.items() if low <= op <= high), "other")


def grid_quotas(ops: Collection[int], templates: Collection[str], modes: Collection[str],
                per_op: int) -> dict[Cell, int]:
    """`per_op` problems for every op, shared round-robin over templates x modes.

    Cells are ordered template by template with the modes interleaved, and the extra problems of op number j
    (when per_op is not a multiple of the cells) start where op j - 1's stopped, so even one problem per op
    covers every mode and template over the ops."""
    cells = [(template, mode) for template in templates for mode in modes]
    extra = per_op % len(cells)
    return {(op, template, mode): per_op // len(cells) + ((i - j * extra) % len(cells) < extra)
            for j, op in enumerate(ops) for i, (template, mode) in enumerate(cells)}


def candidate(seed: int, stream: str, cell: Cell, index: int, attempt: int = 0) -> dict:
    """Candidate number `index` of a cell's deterministic stream (before deduplication); `attempt` > 0 redraws it."""
    op, template, mode = cell
    parts = (seed, stream, op, template, mode, index) + ((attempt,) if attempt else ())
    return generate_problem(op, template, mode, problem_seed(*parts))


def training_candidate(seed: int, stream: str, cell: Cell, index: int,
                       exclude_ids: Collection[str] = ()) -> dict:
    """Problem `index` of a training stream: the first redraw whose key is neither held out nor excluded."""
    for attempt in range(MAX_ATTEMPTS):
        record = candidate(seed, stream, cell, index, attempt)
        if not is_heldout(record["key"]) and record["key"] not in exclude_ids:
            return record
    raise ConfigError(f"op {cell[0]}, template {cell[1]}, mode {cell[2]}: {MAX_ATTEMPTS} draws were all held-out "
                      "or excluded problems; exclude fewer problems")


def iter_documents(preset: str | Mixture, seed: int, start: int = 0, exclude_ids: Collection[str] = (),
                   answer_line: bool = False) -> Iterator[str]:
    """Endless training texts drawn from a mixture: document i depends only on (mixture, seed, i).

    Document i's part is picked by a Weyl sequence over the part shares (so any n consecutive documents hold each
    part within a few documents of n * share, a 0.1% part included), its cell within the part by a hash draw.
    `start` resumes the stream at document `start`; held-out problems and keys in `exclude_ids` are redrawn
    (`training_candidate`). Small op counts repeat (there are few distinct op-2 problems).
    """
    mixture = get_mixture(preset)
    bounds = list(itertools.accumulate(part.share for part in mixture.parts))
    tables = []
    for part in mixture.parts:
        weights = part.cells(mixture.modes)
        tables.append((list(weights), list(itertools.accumulate(weights.values()))))
    stream = f"documents/{mixture.text() if isinstance(preset, Mixture) else preset}"
    for index in itertools.count(start):
        position = ((index + 1) * _GOLDEN_64 % 2**64) / 2.0**64 * bounds[-1]
        cells, cumulative = tables[min(bisect.bisect_right(bounds, position), len(tables) - 1)]
        draw = problem_seed(seed, stream, index) / 2.0**64 * cumulative[-1]
        cell = cells[min(bisect.bisect_right(cumulative, draw), len(cells) - 1)]
        yield document_text(training_candidate(seed, stream, cell, index, exclude_ids), answer_line)


def build_eval_set(ops: Collection[int], templates: Collection[str], modes: Collection[str], per_op: int,
                   seed: int, exclude_ids: Collection[str] = ()) -> list[dict]:
    """A held-out problem set: `per_op` problems per op (templates x modes round-robin, `grid_quotas`) with
    distinct canonical keys, all in the held-out part of the key space and none in `exclude_ids` (e.g.
    `corpus_ids(train_dir)`), each tagged with its op split; drawn from a separate "eval" stream."""
    seen = set(exclude_ids)
    problems = []
    for cell, quota in grid_quotas(ops, templates, modes, per_op).items():
        kept = 0
        for index in range(HELDOUT_MODULUS * (50 * quota + 1000)):
            if kept == quota:
                break
            record = candidate(seed, "eval", cell, index)
            if is_heldout(record["key"]) and record["key"] not in seen:
                seen.add(record["key"])
                problems.append({**record, "split": split_of_op(cell[0])})
                kept += 1
        if kept < quota:
            raise ConfigError(f"only {kept} unique held-out problems exist for op {cell[0]}, template {cell[1]}, "
                              f"mode {cell[2]}; ask for fewer per op")
    return problems


def corpus_ids(directory: str | pathlib.Path) -> set[str]:
    """The canonical keys of every record in a generated corpus directory (all *.jsonl files): what
    `build_eval_set` and `iter_documents` exclude by (computed from each record's gold graph)."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"corpus directory {str(directory)!r} does not exist; generate it first")
    keys = set()
    for path in sorted(directory.glob("*.jsonl")):
        with path.open() as handle:
            keys.update(canonical_key(json.loads(line)["graph"]) for line in handle if line.strip())
    return keys
