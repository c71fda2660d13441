"""A small, safe arithmetic evaluator for trace expressions: numbers, variables, + - * / ( ) and unary signs.

Exact (fractions), bounded (length, nesting depth, number size), and total: `evaluate` returns None instead of
raising for anything it cannot evaluate -- syntax errors, unknown variables, division by zero, huge numbers.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_CHARS = 2000
MAX_DEPTH = 64
MAX_BITS = 1024
_TOKEN = re.compile(r"\s*(?:(?P<num>\d{1,60}(?:\.\d{1,30})?)|(?P<name>[A-Za-z_]\w{0,30})|(?P<op>[-+*/()×÷]))")
_OPERATOR_ALIASES = {"×": "*", "÷": "/"}


class _Invalid(Exception):
    """Raised internally when an expression cannot be evaluated; never escapes this module."""


def tokenize(text: str) -> list[tuple[str, str]] | None:
    """(kind, text) tokens with kind in num/name/op, or None if `text` is not purely an expression."""
    text = text.strip()
    if not text or len(text) > MAX_CHARS:
        return None
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            return None
        kind = match.lastgroup
        tokens.append((kind, _OPERATOR_ALIASES.get(match.group(kind), match.group(kind))))
        pos = match.end()
    return tokens


def identifiers(text: str) -> list[str]:
    """Variable names in an expression (empty if it is not an expression)."""
    return [value for kind, value in tokenize(text) or () if kind == "name"]


def evaluate(text: str, env: dict[str, Fraction | None]) -> Fraction | None:
    """Exact value of `text` with variables from `env`, or None if it does not evaluate."""
    tokens = tokenize(text)
    if tokens is None:
        return None
    parser = _Parser(tokens, env)
    try:
        value = parser.expression(0)
        if parser.pos != len(tokens):
            return None
        return value
    except _Invalid:
        return None


def _checked(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise _Invalid("number too large")
    return value


class _Parser:
    """Recursive descent: expression := term (+|- term)*; term := unary (*|/ unary)*; unary := (+|-) unary | atom."""

    def __init__(self, tokens: list[tuple[str, str]], env: dict[str, Fraction | None]):
        self.tokens, self.env, self.pos = tokens, env, 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expression(self, depth: int) -> Fraction:
        value = self.term(depth)
        while (token := self._peek()) is not None and token[1] in "+-" and token[0] == "op":
            self.pos += 1
            right = self.term(depth)
            value = _checked(value + right if token[1] == "+" else value - right)
        return value

    def term(self, depth: int) -> Fraction:
        value = self.unary(depth)
        while (token := self._peek()) is not None and token[1] in "*/" and token[0] == "op":
            self.pos += 1
            right = self.unary(depth)
            if token[1] == "/":
                if right == 0:
                    raise _Invalid("division by zero")
                value = _checked(value / right)
            else:
                if value.numerator.bit_length() + right.numerator.bit_length() > MAX_BITS:
                    raise _Invalid("product too large")
                value = _checked(value * right)
        return value

    def unary(self, depth: int) -> Fraction:
        if depth > MAX_DEPTH:
            raise _Invalid("nested too deeply")
        token = self._peek()
        if token is not None and token[0] == "op" and token[1] in "+-":
            self.pos += 1
            value = self.unary(depth + 1)
            return -value if token[1] == "-" else value
        return self.atom(depth)

    def atom(self, depth: int) -> Fraction:
        token = self._peek()
        if token is None:
            raise _Invalid("expression ends early")
        self.pos += 1
        kind, text = token
        if kind == "num":
            return Fraction(text)
        if kind == "name":
            value = self.env.get(text)
            if value is None:
                raise _Invalid(f"unknown variable {text}")
            return value
        if text == "(":
            value = self.expression(depth + 1)
            closing = self._peek()
            if closing != ("op", ")"):
                raise _Invalid("unbalanced parentheses")
            self.pos += 1
            return value
        raise _Invalid(f"unexpected {text!r}")
