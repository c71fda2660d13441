"""Text of a generated problem: shuffled problem sentences, the question, the gold solution and the gold graph.

Solution steps follow the spec: `Define <quantity> as <v>; so <v> = <expr> = <substituted> = <value>.` A total
over m > 2 instances uses helper variables (`so a = P + Q = 3 + 4 = 7; T = a + R = 7 + 2 = 9.`), which the
trace parser resolves transitively. In reverse mode the unknown is defined as x, every later value is written as a
linear form in x (`x + 7`, `2 * x - 3`), and the solution ends with the equation for the stated quantity and its
solution (`Solution: x = n.`). As in the authors' data, the solution carries no trailing `Answer: n.` (the answer
is in the document's `<answer>` tag); `format.document_text(record, answer_line=True)` adds it back.
"""

from __future__ import annotations

import dataclasses
import random
import string

_LETTERS = [c for c in string.ascii_letters if c not in "xX"]


@dataclasses.dataclass(frozen=True)
class RenderedText:
    """The four text fields of a record."""

    problem: str
    question: str
    solution: str
    answer: int


def render_problem(nodes: list, needed: list[int], unknown: int | None, rng: random.Random) -> RenderedText:
    """Problem sentences (all nodes but totals, shuffled), question and gold solution."""
    sentences = [_sentence(node, nodes, index == unknown) for index, node in enumerate(nodes)
                 if node.operation != "total"]
    rng.shuffle(sentences)
    sink = nodes[needed[-1]]
    solution, answer = _solution(nodes, needed, unknown, rng)
    if unknown is None:
        question = f"What is {sink.name}?"
    else:
        question = f"If {sink.name} equals {sink.value}, what is {nodes[unknown].name}?"
    return RenderedText(" ".join(sentences), question, solution, answer)


def gold_graph(nodes: list, needed: list[int], unknown: int | None) -> dict:
    """The needed nodes as JSON-ready data (format in `graph.py`)."""
    entries = []
    for index in needed:
        node = nodes[index]
        entries.append({"name": node.name, "operation": "unknown" if index == unknown else node.operation,
                        "parents": [nodes[p].name for p in node.parents],
                        "constant": node.value if index == unknown else node.constant, "value": node.value})
    sink = nodes[needed[-1]].name
    if unknown is None:
        return {"nodes": entries, "query": sink, "given": None}
    return {"nodes": entries, "query": nodes[unknown].name, "given": sink}


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(node, nodes: list, is_unknown: bool) -> str:
    """The problem sentence that states one quantity's relation."""
    name = _capitalize(node.name)
    parents = [nodes[p].name for p in node.parents]
    if is_unknown:
        return f"{name} exists, and its number is greater than 0."
    relation = {
        "constant": lambda: f"{node.constant}",
        "copy": lambda: parents[0],
        "plus": lambda: f"{node.constant} plus {parents[0]}",
        "times": lambda: f"{node.constant} times {parents[0]}",
        "sum": lambda: f"the sum of {parents[0]} and {parents[1]}",
        "difference": lambda: f"the difference between {parents[0]} and {parents[1]}",
    }[node.operation]()
    return f"{name} equals {relation}."


def format_linear(form: tuple[int, int]) -> str:
    """`a*x + b` as text without a leading minus (values are never negative): `7`, `x + 7`, `12 - 2 * x`."""
    a, b = form
    if a == 0:
        return str(b)
    term = "x" if abs(a) == 1 else f"{abs(a)} * x"
    if a < 0:
        return f"{b} - {term}"
    if b == 0:
        return term
    return f"{term} + {b}" if b > 0 else f"{term} - {-b}"


def _operand(form: tuple[int, int]) -> str:
    """A substituted operand: a number, `x`, or a parenthesised linear form."""
    text = format_linear(form)
    return text if form[0] == 0 or form == (1, 0) else f"({text})"


def _chain(lhs: str, expressions: list[str]) -> str:
    """`lhs = e1 = e2 = ...` without consecutive repeats."""
    kept = [e for i, e in enumerate(expressions) if i == 0 or e != expressions[i - 1]]
    return f"{lhs} = {' = '.join(kept)}"


def _solution(nodes: list, needed: list[int], unknown: int | None, rng: random.Random) -> tuple[str, int]:
    """The gold solution text and the answer."""
    helpers = sum(max(0, len(nodes[i].parents) - 2) for i in needed if nodes[i].operation == "total")
    letters = rng.sample(_LETTERS, min(len(_LETTERS), len(needed) + helpers))
    letters += [f"{_LETTERS[i % len(_LETTERS)]}{i}" for i in range(len(needed) + helpers - len(letters))]
    variable: dict[int, str] = {}
    linear: dict[int, tuple[int, int]] = {}
    steps = []
    for index in needed:
        node = nodes[index]
        if index == unknown:
            variable[index], linear[index] = "x", (1, 0)
            steps.append(f"Define {node.name} as x; we don't know its value yet but will find it out later.")
            continue
        variable[index] = letters.pop()
        chains = _step_chains(node, variable[index], variable, linear, letters)
        linear[index] = _linear_value(node, linear)
        steps.append(f"Define {node.name} as {variable[index]}; so {'; '.join(chains)}.")
    sink = nodes[needed[-1]]
    if unknown is None:
        return " ".join(steps), sink.value
    answer = nodes[unknown].value
    a, b = linear[needed[-1]]
    numerator = f"{sink.value} - {b}" if a > 0 else f"{b} - {sink.value}"
    numerator = str(sink.value) if b == 0 else numerator
    solve = numerator if abs(a) == 1 else f"({numerator}) / {abs(a)}"
    steps.append(f"So we have the equation {format_linear((a, b))} = {sink.value}; we solve it: "
                 f"x = {solve} = {answer}. Solution: x = {answer}.")
    return " ".join(steps), answer


def _linear_value(node, linear: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """The node's value as a linear form (a, b) in the unknown."""
    forms = [linear[p] for p in node.parents]
    k = node.constant
    if node.operation == "constant":
        return (0, k)
    if node.operation == "plus":
        return (forms[0][0], k + forms[0][1])
    if node.operation == "times":
        return (k * forms[0][0], k * forms[0][1])
    if node.operation == "difference":
        return (forms[0][0] - forms[1][0], forms[0][1] - forms[1][1])
    return (sum(f[0] for f in forms), sum(f[1] for f in forms))


def _step_chains(node, var: str, variable: dict, linear: dict, letters: list[str]) -> list[str]:
    """Assignment chains of one step: symbolic expression, substituted operands, value."""
    own = format_linear(_linear_value(node, linear))
    names = [variable[p] for p in node.parents]
    forms = [linear[p] for p in node.parents]
    k = node.constant
    if node.operation == "constant":
        return [_chain(var, [str(k)])]
    if node.operation in ("copy", "total") and len(names) == 1:
        return [_chain(var, [names[0], own])]
    if node.operation in ("plus", "times"):
        sign = "+" if node.operation == "plus" else "*"
        return [_chain(var, [f"{k} {sign} {names[0]}", f"{k} {sign} {_operand(forms[0])}", own])]
    if node.operation == "difference":
        return [_chain(var, [f"{names[0]} - {names[1]}", f"{_operand(forms[0])} - {_operand(forms[1])}", own])]
    chains = []
    acc_name, acc_form = names[0], forms[0]
    for position in range(1, len(names)):
        lhs = var if position == len(names) - 1 else letters.pop()
        total = (acc_form[0] + forms[position][0], acc_form[1] + forms[position][1])
        chains.append(_chain(lhs, [f"{acc_name} + {names[position]}",
                                   f"{_operand(acc_form)} + {_operand(forms[position])}", format_linear(total)]))
        acc_name, acc_form = lhs, total
    return chains
