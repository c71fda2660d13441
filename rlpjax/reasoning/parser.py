"""Trace -> predicted graph: the quantities a solution defines, each with its value and its dependencies.

Rules (spec "Parsing and verification"):
- The solution body is the text after the last `<solution>` (if any) up to `</solution>` (or `<answer>`, or the
  end). The answer is the content of the first `<answer> ... </answer>` after the body starts.
- The body is split at `Define <quantity> as <v>;`. A step's text is everything up to the next `Define`. Inside it,
  assignments `v = e1 = e2 = ...` are found in each clause (clauses end at `;`, `, `, a sentence-ending `.` or a
  newline; a clause like `7 + x = 12` is an equation, not an assignment, because its left side is not a lone name).
- Value of an assignment: the last expression of its chain that evaluates (+ - * / parentheses, exact fractions).
- Dependencies of an assignment: the names in its *first* expression (the definition; later ones are substitutions),
  mapped to earlier-defined quantities; helper variables (assigned but never `Define`d) are resolved transitively
  to the quantities they depend on.
- A quantity takes the value and dependencies of the assignment to its own variable in its own step. A quantity with
  no such assignment (the reverse-mode unknown, "we don't know its value yet") takes the last value later assigned
  to its variable (`x = 5`); the trace is then evaluated a second time with that value known, so that `b = 3 + x`
  evaluates.
- Nodes are keyed by normalised quantity name (lower case, single spaces), never by variable letter.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

from rlpjax.reasoning.expr import evaluate, identifiers

MAX_TRACE_CHARS = 100_000
_DEFINE = re.compile(r"Define\s+([^;.\n<>=]{1,300}?)\s+as\s+([A-Za-z_]\w{0,30})\s*;")
_CLAUSE_END = re.compile(r";|,\s|\.(?=\s|$)|\n")
_LHS = re.compile(r"([A-Za-z_]\w*)\s*$")
_ANSWER = re.compile(r"<answer>(.{0,200}?)</answer>", re.DOTALL)
_NOT_BEFORE_LHS = set("+-*/×÷(0123456789.")


@dataclasses.dataclass(frozen=True)
class PredictedNode:
    """One quantity as the trace computes it (value None when nothing evaluates)."""

    value: Fraction | None
    parents: frozenset[str]


@dataclasses.dataclass(frozen=True)
class ParsedTrace:
    """All quantities a trace defines and its final answer text (None without an `<answer>` tag)."""

    nodes: dict[str, PredictedNode]
    answer: str | None


def normalize_name(name: str) -> str:
    """The key of a quantity: lower case with single spaces."""
    return " ".join(name.lower().split())


def parse_trace(text: str) -> ParsedTrace:
    """Parse a model completion (or a whole document) into its predicted graph and answer."""
    text = text[:MAX_TRACE_CHARS]
    start = text.rfind("<solution>")
    text = text[start + len("<solution>"):] if start >= 0 else text
    end = min((i for i in (text.find("</solution>"), text.find("<answer>")) if i >= 0), default=len(text))
    body = text[:end]
    answer_match = _ANSWER.search(text, end)
    answer = answer_match.group(1).strip() if answer_match else None
    steps = _split_steps(body)
    nodes, late_values = _evaluate_steps(steps, prebound={})
    deferred = {var: late_values[name] for name, var in _deferred(nodes, steps) if late_values.get(name) is not None}
    if deferred:
        nodes, late_values = _evaluate_steps(steps, prebound=deferred)
    final = {}
    for name, (value, parents, assigned) in nodes.items():
        final[name] = PredictedNode(value if assigned else late_values.get(name), parents)
    return ParsedTrace(final, answer)


def _split_steps(body: str) -> list[tuple[str, str, str]]:
    """(normalised quantity name, variable, step text) for each `Define` in order."""
    matches = list(_DEFINE.finditer(body))
    steps = []
    for i, match in enumerate(matches):
        stop = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        steps.append((normalize_name(match.group(1)), match.group(2), body[match.end():stop]))
    return steps


def _assignments(step_text: str) -> list[tuple[str, list[str]]]:
    """(left-hand variable, [expressions of the chain]) for every assignment clause of a step."""
    found = []
    for clause in _CLAUSE_END.split(step_text):
        parts = clause.split("=")
        if len(parts) < 2:
            continue
        lhs = _LHS.search(parts[0])
        if lhs is None:
            continue
        before = parts[0][:lhs.start()].rstrip()
        if before and before[-1] in _NOT_BEFORE_LHS:
            continue
        found.append((lhs.group(1), [p.strip() for p in parts[1:]]))
    return found


def _deferred(nodes: dict, steps: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(name, variable) of the quantities whose own step assigns no value."""
    return [(name, var) for name, var, _text in steps if not nodes[name][2]]


def _evaluate_steps(steps: list[tuple[str, str, str]], prebound: dict[str, Fraction]):
    """One sequential pass: {name: (value, parents, assigned_in_own_step)} and the late values of quantities."""
    env: dict[str, Fraction | None] = {}
    quantity_of: dict[str, str] = {}
    helper_parents: dict[str, frozenset[str]] = {}
    nodes: dict[str, tuple[Fraction | None, frozenset[str], bool]] = {}
    late_values: dict[str, Fraction] = {}
    for name, var, text in steps:
        quantity_of[var] = name
        helper_parents.pop(var, None)
        env[var] = prebound.get(var)
        value, parents, assigned = None, frozenset(), False
        for lhs, expressions in _assignments(text):
            chain_value = next((v for v in (evaluate(e, env) for e in reversed(expressions)) if v is not None), None)
            chain_parents = _resolve(identifiers(expressions[0]), quantity_of, helper_parents)
            if lhs == var:
                value, parents, assigned = chain_value, chain_parents, True
                env[var] = chain_value
            elif lhs in quantity_of:
                if chain_value is not None:
                    env[lhs] = chain_value
                    late_values[quantity_of[lhs]] = chain_value
            else:
                env[lhs] = chain_value
                helper_parents[lhs] = chain_parents
        nodes[name] = (value, parents, assigned)
    return nodes, late_values


def _resolve(names: list[str], quantity_of: dict[str, str], helper_parents: dict[str, frozenset[str]]) -> frozenset:
    """Quantities referenced by variable names, looking through helper variables."""
    found: set[str] = set()
    for name in names:
        if name in helper_parents:
            found |= helper_parents[name]
        elif name in quantity_of:
            found.add(quantity_of[name])
    return frozenset(found)
