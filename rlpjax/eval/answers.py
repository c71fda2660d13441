"""Answer extraction and comparison for math benchmarks, and loaders for GSM8K / MATH-500 JSONL.

- `parse_number("1,000")`, `("3.0")`, `("3/4")`, `("\\frac{3}{4}")`, `("$18")` -> exact `Fraction` (None if not a
  number).
- `extract_boxed` (the last `\\boxed{...}` with nested braces), `extract_last_number`, and `extract_answer` (boxed,
  then `<answer>` tag, then `#### n`, then the last number).
- `answers_match(predicted, gold)`: equal as numbers when both parse, else equal after light LaTeX normalisation.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from fractions import Fraction

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_FRACTION = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_LATEX_FRACTION = re.compile(r"(-?)\\[dt]?frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_TEXT = re.compile(r"\\(?:text|mbox|mathrm)\{([^{}]*)\}")


@dataclasses.dataclass(frozen=True)
class MathProblem:
    """One benchmark problem: its id, question text, reference answer, reference solution and extra fields."""

    id: str
    question: str
    answer: str
    solution: str
    meta: dict


def parse_number(text: str | None) -> Fraction | None:
    """An exact number from an answer string, or None when it is not a plain number or fraction."""
    if text is None:
        return None
    cleaned = _THOUSANDS.sub("", text.strip()).replace("\\$", "").replace("$", "").replace("\\!", "").strip()
    cleaned = cleaned.rstrip(".").strip()
    if len(cleaned) > 100:
        return None
    if _NUMBER.fullmatch(cleaned):
        return Fraction(cleaned)
    if match := _FRACTION.fullmatch(cleaned):
        return Fraction(int(match.group(1)), int(match.group(2))) if int(match.group(2)) else None
    if match := _LATEX_FRACTION.fullmatch(cleaned):
        denominator = int(match.group(3))
        if denominator == 0:
            return None
        value = Fraction(int(match.group(2)), denominator)
        return -value if match.group(1) else value
    return None


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), nested braces included; None if absent/unclosed."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    pos = text.index("{", start) + 1
    depth = 1
    for i in range(pos, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[pos:i].strip()
    return None


def extract_last_number(text: str) -> str | None:
    """The last number written in `text` (thousands separators removed)."""
    matches = _LAST_NUMBER.findall(text)
    return matches[-1].replace(",", "") if matches else None


def extract_answer(text: str) -> str | None:
    """The final answer of a completion: boxed, else `<answer>` tag, else `#### n`, else the last number."""
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed
    if match := re.search(r"<answer>(.*?)</answer>", text, re.DOTALL):
        return match.group(1).strip()
    if "####" in text:
        return text.rsplit("####", 1)[1].strip() or None
    return extract_last_number(text)


def normalize_latex(text: str) -> str:
    """Light normalisation for comparing non-numeric answers: no spacing commands, sizing, units text or spaces."""
    text = _TEXT.sub(r"\1", text)
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("dfrac", "frac"),
                     ("tfrac", "frac"), ("^\\circ", ""), ("^{\\circ}", ""), ("$", "")):
        text = text.replace(old, new)
    return "".join(text.split()).rstrip(".")


def answers_match(predicted: str | None, gold: str) -> bool:
    """Whether a predicted answer equals the reference: as numbers when both parse, else as normalised text."""
    if predicted is None:
        return False
    predicted_number, gold_number = parse_number(predicted), parse_number(gold)
    if predicted_number is not None and gold_number is not None:
        return predicted_number == gold_number
    return normalize_latex(predicted) == normalize_latex(gold)


def _read_jsonl(path: str | pathlib.Path) -> list[dict]:
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file {str(path)!r} does not exist; pass the path of the JSONL file")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_gsm8k(path: str | pathlib.Path) -> list[MathProblem]:
    """GSM8K JSONL (`question`, `answer` ending in `#### n`): the reference answer is the number after ####."""
    problems = []
    for index, row in enumerate(_read_jsonl(path)):
        solution, _sep, final = row["answer"].rpartition("####")
        problems.append(MathProblem(f"gsm8k/{index}", row["question"], final.strip().replace(",", ""),
                                    solution.strip(), {}))
    return problems


def load_math500(path: str | pathlib.Path) -> list[MathProblem]:
    """MATH-500 JSONL (`problem`, `solution`, `answer`, `subject`, `level`, `unique_id`)."""
    return [MathProblem(row["unique_id"], row["problem"], row["answer"], row["solution"],
                        {"subject": row["subject"], "level": row["level"]}) for row in _read_jsonl(path)]
