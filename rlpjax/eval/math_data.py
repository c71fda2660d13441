"""Loaders of the math suites' local files: GSM8K, MATH-500, AIME25, AMC23 and Minerva Math.

Each loader returns `(problems, skipped)`: `MathProblem`s and the number of bad records skipped (see `records.py`).
Reference answers: GSM8K the number after `####`; MATH-500 / AIME25 / AMC23 the `answer` field (AMC23's float
`27.0` is written `27`); Minerva the last `\\boxed{}` of its `solution`.
"""

from __future__ import annotations

import dataclasses
import pathlib

from rlpjax.eval.answers import extract_boxed
from rlpjax.eval.records import build_problems


@dataclasses.dataclass(frozen=True)
class MathProblem:
    """One benchmark problem: its id, question text, reference answer, reference solution and extra fields."""

    id: str
    question: str
    answer: str
    solution: str
    meta: dict


def _text(row: dict, field: str) -> str:
    value = row[field]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {field!r} is not a non-empty string")
    return value


def _gsm8k(index: int, row: dict) -> MathProblem:
    solution, sep, final = _text(row, "answer").rpartition("####")
    if not sep or not final.strip():
        raise ValueError("the answer does not end in '#### <number>'")
    return MathProblem(f"gsm8k/{index}", _text(row, "question"), final.strip().replace(",", ""), solution.strip(), {})


def _math500(index: int, row: dict) -> MathProblem:
    return MathProblem(str(row["unique_id"]), _text(row, "problem"), _text(row, "answer"), row["solution"],
                       {"subject": row["subject"], "level": row["level"]})


def _aime25(index: int, row: dict) -> MathProblem:
    return MathProblem(f"aime25/{index}", _text(row, "problem"), str(int(row["answer"])), "", {})


def _amc23(index: int, row: dict) -> MathProblem:
    value = float(row["answer"])
    answer = str(int(value)) if value.is_integer() else repr(value)
    return MathProblem(f"amc23/{row.get('id', index)}", _text(row, "problem"), answer, "", {})


def _minerva(index: int, row: dict) -> MathProblem:
    answer = extract_boxed(_text(row, "solution"))
    if not answer:
        raise ValueError("its solution holds no \\boxed{} answer")
    return MathProblem(f"minerva/{row.get('idx', index)}", _text(row, "problem"), answer, row["solution"],
                       {"type": row.get("type", "")})


MATH_LAYOUTS = {
    "gsm8k": (_gsm8k, "JSONL with 'question' and 'answer' ending in '#### <number>'"),
    "math500": (_math500, "JSONL with 'problem', 'solution', 'answer', 'subject', 'level', 'unique_id'"),
    "aime25": (_aime25, "JSONL with 'problem' and an integer 'answer'"),
    "amc23": (_amc23, "JSONL with 'problem' and a numeric 'answer'"),
    "minerva": (_minerva, "JSONL with 'problem' and a 'solution' ending in \\boxed{answer}"),
}
"""suite -> (record builder, the layout in words)."""


def load_math(suite: str, path: str | pathlib.Path) -> tuple[list, int]:
    """(problems, skipped records) of a math suite's file."""
    return build_problems(path, suite, *MATH_LAYOUTS[suite])
