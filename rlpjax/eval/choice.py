"""The multiple-choice suites (MMLU, MMLU-Pro, GPQA-Diamond): loaders of their public layouts, prompt and scoring.

Layouts (JSONL / JSON / CSV / Parquet, see `records.py`):
- `mmlu`: `question`, `choices` (a list, or columns `A`..`D`), `answer` (an index 0.. or a letter);
- `mmlu_pro`: `question`, `options` (a list of up to 10), `answer_index` or `answer` (a letter);
- `gpqa`: `Question`, `Correct Answer`, `Incorrect Answer 1`..`3`; the four choices are shuffled by a seed derived
  from the question text (deterministic, and the same on every machine).

A sample is scored by the answer letter it generates (`extract_letter`, rule in `LETTER_RULE`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import random
import re

from rlpjax.eval.records import build_problems

LETTERS = "ABCDEFGHIJ"
CHOICE_PROMPT = "Question: {question}\n{choices}\nAnswer:"
"""Prompt of the multiple-choice suites: the question, one "X. choice" line per choice, then "Answer:"."""
LETTER_RULE = ("answer letter = the letter after the last 'answer is' / 'Answer:' in the completion, else the first "
               "standalone choice letter (A, (A), A. or A)) in it; correct when it is the reference letter")


@dataclasses.dataclass(frozen=True)
class ChoiceProblem:
    """One multiple-choice question: its choices in prompt order and the index of the correct one."""

    id: str
    question: str
    choices: tuple[str, ...]
    answer: int
    meta: dict

    def prompt(self) -> str:
        lines = "\n".join(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(self.choices))
        return CHOICE_PROMPT.format(question=self.question.strip(), choices=lines)


def _list(value) -> list[str]:
    """A choices field: a list, or a JSON list written into a CSV cell."""
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= len(LETTERS):
        raise ValueError(f"the choices are not a list of 2 to {len(LETTERS)} entries")
    return [str(v) for v in value]


def _index(value, count: int) -> int:
    """An answer given as an index (int or digit string) or a letter -> index in [0, count)."""
    text = str(value).strip()
    index = int(text) if text.lstrip("-").isdigit() else LETTERS.find(text.upper()) if len(text) == 1 else -1
    if not 0 <= index < count:
        raise ValueError(f"the answer {value!r} is neither a choice letter nor an index below {count}")
    return index


def _mmlu(index: int, row: dict) -> ChoiceProblem:
    by_column = "choices" not in row and "A" in row
    choices = [str(row[letter]) for letter in "ABCD"] if by_column else _list(row["choices"])
    return ChoiceProblem(f"mmlu/{index}", str(row["question"]), tuple(choices), _index(row["answer"], len(choices)),
                         {"subject": row.get("subject", "")})


def _mmlu_pro(index: int, row: dict) -> ChoiceProblem:
    choices = _list(row["options"])
    answer = row["answer_index"] if row.get("answer_index") not in (None, "") else row["answer"]
    return ChoiceProblem(f"mmlu_pro/{row.get('question_id', index)}", str(row["question"]), tuple(choices),
                         _index(answer, len(choices)), {"subject": row.get("category", "")})


def _gpqa(index: int, row: dict) -> ChoiceProblem:
    correct = str(row["Correct Answer"]).strip()
    choices = [correct] + [str(row[f"Incorrect Answer {i}"]).strip() for i in (1, 2, 3)]
    seed = int.from_bytes(hashlib.sha256(str(row["Question"]).encode()).digest()[:8], "little")
    random.Random(seed).shuffle(choices)
    return ChoiceProblem(f"gpqa/{row.get('Record ID', index)}", str(row["Question"]), tuple(choices),
                         choices.index(correct), {"subject": row.get("Subdomain", "")})


CHOICE_LAYOUTS = {
    "mmlu": (_mmlu, "'question', 'choices' (list) or columns A-D, 'answer' (index or letter)"),
    "mmlu_pro": (_mmlu_pro, "'question', 'options' (list), 'answer_index' or 'answer' (letter)"),
    "gpqa": (_gpqa, "'Question', 'Correct Answer', 'Incorrect Answer 1', 'Incorrect Answer 2', 'Incorrect Answer 3'"),
}
"""suite -> (record builder, the layout in words)."""


def load_choice(suite: str, path: str | pathlib.Path) -> tuple[list, int]:
    """(problems, skipped records) of a multiple-choice suite's file."""
    return build_problems(path, suite, *CHOICE_LAYOUTS[suite])


def extract_letter(text: str, count: int) -> str | None:
    """The answer letter of a completion among the first `count` letters (rule: `LETTER_RULE`), or None."""
    valid = LETTERS[:count]
    stated = re.findall(rf"(?i:answer is|answer:)\s*\(?([{valid}])\b", text)
    if stated:
        return stated[-1].upper()
    match = re.search(rf"(?:^|[\s(])([{valid}])(?:$|[\s).:,])", text)
    return match.group(1) if match else None
