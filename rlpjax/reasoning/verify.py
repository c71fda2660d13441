"""Process verification of a trace against a gold graph: ProcessAcc, VerifiedCorrect and error counts.

Per gold node v: s(v) = 1 iff the trace defines v (by quantity name) with the same parent set and the same value.
ProcessAcc = mean_v s(v); extra predicted nodes do not lower it. VerifiedCorrect = ProcessAcc == 1 and the answer in
`<answer> ... </answer>` equals the query's value. `verify` never raises on model output: unusable text gives a zero
score and a `reason`.

Error counts (the penalties of the authors' process reward `rewards.authors_process`, and logged; counted
independently, so a node with a wrong value *and* wrong parents counts once in each):
- value_errors: gold nodes the trace defines with a different (or no computable) value;
- dependency_errors: gold nodes the trace defines with a different parent set;
- missing_nodes: gold nodes the trace never defines;
- extra_nodes: quantities the trace defines that are not gold nodes (distractors, invented names);
- answer_error: 1 when the answer tag is missing or its number differs from the gold answer, else 0.
`penalties` is their sum and `gold_nodes` is |V|, the number of gold nodes.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from rlpjax.eval.answers import parse_number
from rlpjax.reasoning.parser import normalize_name, parse_trace


@dataclasses.dataclass(frozen=True)
class Verification:
    """The outcome of checking one trace; `reason` is empty when the trace is verified correct."""

    process_acc: float
    answer_correct: bool
    verified_correct: bool
    reason: str
    value_errors: int
    dependency_errors: int
    missing_nodes: int
    extra_nodes: int
    answer_error: int
    predicted_answer: str | None
    gold_nodes: int
    """|V|: the number of gold (needed) nodes."""

    @property
    def penalties(self) -> int:
        """value + dependency + missing + extra-node + answer errors (the authors' penalty count)."""
        return self.value_errors + self.dependency_errors + self.missing_nodes + self.extra_nodes + self.answer_error


def gold_answer(graph: dict) -> int:
    """The value of the node the question asks for."""
    return next(node["value"] for node in graph["nodes"] if node["name"] == graph["query"])


def verify(trace_text: str, gold: dict) -> Verification:
    """Check a completion (or a full document) against a gold graph (or a record holding one under "graph")."""
    graph = gold["graph"] if "graph" in gold else gold
    if not isinstance(trace_text, str):
        trace_text = ""
    parsed = parse_trace(trace_text)
    gold_keys = {normalize_name(node["name"]) for node in graph["nodes"]}
    value_errors = dependency_errors = missing = correct = 0
    for node in graph["nodes"]:
        predicted = parsed.nodes.get(normalize_name(node["name"]))
        if predicted is None:
            missing += 1
            continue
        value_ok = predicted.value is not None and predicted.value == Fraction(node["value"])
        parents_ok = predicted.parents == frozenset(normalize_name(p) for p in node["parents"])
        value_errors += not value_ok
        dependency_errors += not parents_ok
        correct += value_ok and parents_ok
    extra = sum(1 for name in parsed.nodes if name not in gold_keys)
    process_acc = correct / len(graph["nodes"])
    predicted_number = parse_number(parsed.answer)
    answer_correct = predicted_number is not None and predicted_number == gold_answer(graph)
    verified = answer_correct and correct == len(graph["nodes"])
    reason = _reason(parsed, answer_correct, graph, missing, value_errors, dependency_errors)
    return Verification(process_acc, answer_correct, verified, reason, value_errors, dependency_errors, missing,
                        extra, int(not answer_correct), parsed.answer, len(graph["nodes"]))


def _reason(parsed, answer_correct: bool, graph: dict, missing: int, value_errors: int,
            dependency_errors: int) -> str:
    """One line saying why a trace is not verified correct ("" when it is)."""
    problems = []
    if not parsed.nodes:
        problems.append("no `Define <quantity> as <v>;` step found")
    if parsed.answer is None:
        problems.append("no <answer> ... </answer> tag")
    elif not answer_correct:
        problems.append(f"answer {parsed.answer[:40]!r} is not {gold_answer(graph)}")
    if parsed.nodes and (missing or value_errors or dependency_errors):
        problems.append(f"{missing} missing, {value_errors} wrong-value, {dependency_errors} wrong-dependency "
                        f"of {len(graph['nodes'])} gold nodes")
    return "; ".join(problems)
