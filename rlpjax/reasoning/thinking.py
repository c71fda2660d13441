"""Pre-training documents with thinking in distribution: three renders of one controlled problem.

A base model that never saw `<think>` cannot produce a useful thought, so RLP would start from thoughts that are
out of distribution. Base models trained on reasoning data have seen worked steps before the tokens they help
predict; this module gives the controlled corpus the same property. Each problem is rendered as one of

- "solution": the standard document (`format.document_text`): question, worked solution, answer;
- "think":    `<question> Q </question><think> {worked solution} </think> <answer> n </answer>`: the worked steps
              sit in a thought right before the answer they make predictable;
- "direct":   `<question> Q </question> <answer> n </answer>`: the answer with no visible work, where a thought
              before the answer is what RLP rewards (`rlp.position_strategy=after_token`,
              `position_token=</question>`).

A "think" document is exactly a "direct" one with `<think> ... </think>` inserted right after `</question>` (no
space before `<think>`), which is where and how an RLP rollout inserts its thought: the context a thought is sampled
in, and the tokens scored after it, are the ones the base saw around its pre-training thoughts.

Which render a problem gets is a pure function of its id and a seed (`render_kind`), so a corpus is reproducible
and the shares hold to within sampling noise. The evaluation prompt ends in `<solution>`, so none of this changes
what a model is asked to write when it is evaluated.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.format import document_text

THINK_FORMAT = "<question> {problem} {question} </question><think> {solution} </think> <answer> {answer} </answer>"
DIRECT_FORMAT = "<question> {problem} {question} </question> <answer> {answer} </answer>"
KINDS = ("solution", "think", "direct")


def render(record: dict, kind: str) -> str:
    """The document text of a problem record in one of KINDS."""
    if kind == "solution":
        return document_text(record)
    if kind == "think":
        return THINK_FORMAT.format(**record)
    if kind == "direct":
        return DIRECT_FORMAT.format(**record)
    raise ConfigError(f"unknown document kind {kind!r}; choose one of {', '.join(KINDS)}")


def check_shares(shares: dict[str, float]) -> dict[str, float]:
    """`shares` normalised to sum 1; ConfigError for unknown kinds, negative shares or an all-zero mixture."""
    unknown = sorted(set(shares) - set(KINDS))
    if unknown:
        raise ConfigError(f"unknown document kinds {unknown}; choose among {', '.join(KINDS)}")
    if any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
        raise ConfigError(f"document shares {shares} must be non-negative with a positive sum")
    total = sum(shares.values())
    return {kind: shares.get(kind, 0.0) / total for kind in KINDS}


def render_kind(problem_id: str, shares: dict[str, float], seed: int) -> str:
    """The render of problem `problem_id`: a uniform draw in [0, 1) from a hash of (seed, id) against the shares."""
    normalised = check_shares(shares)
    digest = hashlib.sha256(f"render/{seed}/{problem_id}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    cumulative = 0.0
    for kind in KINDS:
        cumulative += normalised[kind]
        if draw < cumulative:
            return kind
    return next(kind for kind in reversed(KINDS) if normalised[kind] > 0)


def rewrite_corpus(src: str | pathlib.Path, dst: str | pathlib.Path, shares: dict[str, float], seed: int,
                   pattern: str = "*.jsonl") -> dict[str, int]:
    """Copy every record of the generated corpus files `src/pattern` to `dst` (same file names) with `text`
    re-rendered by `render_kind` and the chosen render under `kind`; returns how many documents got each render."""
    src, dst = pathlib.Path(src), pathlib.Path(dst)
    files = sorted(src.glob(pattern))
    if not files:
        raise ConfigError(f"no {pattern} corpus files in {str(src)!r}; generate the corpus first")
    dst.mkdir(parents=True, exist_ok=True)
    shares = check_shares(shares)  # once, not per record
    counts = dict.fromkeys(KINDS, 0)
    for path in files:
        lines = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            kind = render_kind(record["id"], shares, seed)
            counts[kind] += 1
            lines.append(json.dumps({**record, "text": render(record, kind), "kind": kind}, separators=(",", ":")))
        (dst / path.name).write_text("\n".join(lines) + "\n")
    return counts
