"""The trace expression evaluator against Python's own arithmetic on Fractions."""

import random
import re
from fractions import Fraction

from rlpjax.reasoning.expr import evaluate, identifiers


def _random_expression(rng, depth=0):
    if depth > 3 or rng.random() < 0.3:
        return rng.choice([str(rng.randint(0, 30)), "x", "y1"])
    left, right = _random_expression(rng, depth + 1), _random_expression(rng, depth + 1)
    text = f"{left} {rng.choice('+-*/')} {right}"
    return f"({text})" if rng.random() < 0.5 else text


def test_matches_python_fraction_arithmetic():
    rng = random.Random(0)
    env = {"x": Fraction(7), "y1": Fraction(3, 2)}
    for _ in range(500):
        text = _random_expression(rng)
        try:
            exact = re.sub(r"\b\d+\b", lambda m: f"Fraction({m.group()})", text.replace("y1", "y"))
            expected = eval(exact, {"Fraction": Fraction, "x": Fraction(7), "y": Fraction(3, 2)})
        except ZeroDivisionError:
            expected = None
        expected = Fraction(expected) if expected is not None else None
        assert evaluate(text, env) == expected, text


def test_unknown_names_syntax_errors_and_limits_give_none():
    for text in ("z + 1", "3 +", "(3", "3)", "3 4", "", "2 ** 3", "1 / (2 - 2)", "(" * 200 + "1" + ")" * 200,
                 "9" * 61, " * ".join(["9" * 60] * 6)):
        assert evaluate(text, {}) is None, text
    assert evaluate(" * ".join(["9" * 60] * 3), {}) == (10 ** 60 - 1) ** 3
    assert evaluate("-(-3) + +2", {}) == 5
    assert evaluate("3.5 × 2 ÷ 7", {}) == 1
    assert identifiers("a + 2 * (b - a)") == ["a", "b", "a"] and identifiers("a ? b") == []
