"""Answer extraction and comparison for the math benchmarks.

- `parse_number("1,000")`, `("3.0")`, `("3/4")`, `("\\frac{3}{4}")`, `("$18")` -> exact `Fraction` (None if not a
  number).
- `extract_boxed` (the last `\\boxed{...}` with nested braces), `extract_last_number`, and `extract_answer` (boxed,
  then `<answer>` tag, then `#### n`, then the last number).
- `exact_match(predicted, gold)`: equal as numbers when both parse, else equal after light LaTeX normalisation.
- `answers_match(predicted, gold)`: `exact_match`, or equivalent by `math-verify` (symbolic: fractions vs decimals,
  LaTeX forms, sets, intervals) when that package is installed (the `math` extra); `answer_rule()` says which, in
  words, for every report.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_FRACTION = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_LATEX_FRACTION = re.compile(r"(-?)\\[dt]?frac\{\s*(-?\d+)\s*\}\{\s*(-?\d+)\s*\}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_TEXT = re.compile(r"\\(?:text|mbox|mathrm)\{([^{}]*)\}")


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


def extract_boxed(text: str, strip: bool = True) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), nested braces included; None if absent/unclosed.
    `strip=False` keeps its surrounding whitespace (a byte-exact prediction, RPT's reward)."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    pos = text.index("{", start) + 1
    depth = 1
    for i in range(pos, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[pos:i].strip() if strip else text[pos:i]
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


def exact_match(predicted: str | None, gold: str) -> bool:
    """Whether a predicted answer equals the reference: as numbers when both parse, else as normalised text."""
    if predicted is None:
        return False
    predicted_number, gold_number = parse_number(predicted), parse_number(gold)
    if predicted_number is not None and gold_number is not None:
        return predicted_number == gold_number
    return normalize_latex(predicted) == normalize_latex(gold)


@functools.cache
def _math_verify():
    """math_verify's (parse, verify), or None when the package is not installed."""
    try:
        from math_verify import parse, verify
    except ImportError:
        return None
    return parse, verify


def answer_rule() -> str:
    """The answer-checking rule in force, in words (written into every report)."""
    extraction = "final answer = last \\boxed{}, else <answer> tag, else '#### n', else the last number"
    if _math_verify() is None:
        return (f"{extraction}; correct when equal as exact numbers or as normalised LaTeX text (math-verify is "
                "not installed: pip install 'rlpjax[math]' for symbolic equivalence)")
    return f"{extraction}; correct when equal as exact numbers / normalised LaTeX, or equivalent by math-verify"


def answers_match(predicted: str | None, gold: str) -> bool:
    """`exact_match`, or math-verify equivalence of the two answers (each read as inline LaTeX) when installed."""
    if predicted is None:
        return False
    if exact_match(predicted, gold):
        return True
    if (tools := _math_verify()) is None:
        return False
    parse, verify = tools
    try:
        return bool(verify(parse(f"${gold}$"), parse(f"${predicted}$")))
    except Exception:  # math-verify raises on LaTeX it cannot read: not equivalent, as the fallback would judge
        return False
