"""Answer extraction, number normalisation and the GSM8K / MATH-500 loaders on the real shared files."""

from fractions import Fraction

import pytest

from rlpjax.eval.answers import answers_match, extract_answer, extract_boxed, extract_last_number, parse_number
from rlpjax.eval.math_data import load_math


@pytest.mark.parametrize("text, value", [("1,000", 1000), ("3.0", 3), ("$18", 18), ("3/4", Fraction(3, 4)),
                                         ("\\frac{3}{4}", Fraction(3, 4)), ("-\\dfrac{1}{2}", Fraction(-1, 2)),
                                         ("70,000.", 70000), ("-5", -5), (" 0.25 ", Fraction(1, 4))])
def test_parse_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["x", "1/0", "\\frac{1}{0}", "", "3 apples", None, "1,00"])
def test_parse_number_rejects(text):
    assert parse_number(text) is None


def test_extraction():
    assert extract_boxed("so \\boxed{\\frac{1}{2}} and \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}") == \
        "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert extract_boxed("\\boxed{unclosed") is None and extract_boxed("none") is None
    assert extract_last_number("he made $1,200 then 35 more.") == "35"
    assert extract_answer("work ... #### 1,234") == "1,234"
    assert extract_answer("<answer> 8 </answer>") == "8"
    assert answers_match("1,000", "1000") and answers_match("\\dfrac{1}{2}", "0.5")
    assert answers_match("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)")
    assert answers_match("\\text{(C)}", "(C)") and not answers_match(None, "3") and not answers_match("4", "3")


def test_loaders_on_shared_files(shared_data):
    math = shared_data / "math"
    gsm, skipped = load_math("gsm8k", math / "gsm8k_test.jsonl")
    assert skipped == 0 and len(gsm) == 1319 and gsm[0].answer == "18" and parse_number(gsm[2].answer) == 70000
    assert all(parse_number(p.answer) is not None for p in gsm)
    math500, skipped = load_math("math500", math / "math500_test.jsonl")
    assert skipped == 0 and len(math500) == 500 and math500[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    boxed = sum(answers_match(extract_boxed(p.solution), p.answer) for p in math500)
    assert boxed >= 480
    aime, skipped = load_math("aime25", math / "aime25_test.jsonl")
    assert (len(aime), skipped, aime[0].answer) == (30, 0, "70")
    amc, skipped = load_math("amc23", math / "amc23_test.jsonl")
    assert (len(amc), skipped, amc[0].answer) == (40, 0, "27")  # the file's float 27.0, written as an integer
    minerva, skipped = load_math("minerva", math / "minerva_math_test.jsonl")
    assert len(minerva) + skipped == 272 and skipped == 0 and minerva[0].answer == "1.6"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_math("gsm8k", shared_data / "missing.jsonl")
