"""Generated problems: exact op counts, consistent values, and gold solutions that verify perfectly."""

import itertools

import pytest

from rlpjax.reasoning.format import completion_text, document_text
from rlpjax.reasoning.generator import generate_problem, problem_seed
from rlpjax.reasoning.graph import needed_nodes, op_count
from rlpjax.reasoning.verify import verify

CELLS = [(op, template, mode) for op in range(2, 21) for template in "ABC" for mode in ("forward", "reverse")]


def _recompute(node, values):
    """Independent value table (spec: + - x over parents, plus the constant edge)."""
    p = [values[name] for name in node["parents"]]
    k = node["constant"]
    return {"constant": lambda: k, "unknown": lambda: k, "copy": lambda: p[0], "plus": lambda: k + p[0],
            "times": lambda: k * p[0], "sum": lambda: p[0] + p[1], "difference": lambda: p[0] - p[1],
            "total": lambda: sum(p)}[node["operation"]]()


def test_every_gold_solution_verifies_with_process_acc_one():
    """Property test over 2,850 problems: ops 2-20, templates A/B/C, both modes."""
    for (op, template, mode), index in itertools.product(CELLS, range(25)):
        record = generate_problem(op, template, mode, problem_seed("property", op, template, mode, index))
        graph = record["graph"]
        assert op_count(graph) == op
        assert needed_nodes(graph) == {node["name"] for node in graph["nodes"]}
        values = {}
        for node in graph["nodes"]:
            values[node["name"]] = _recompute(node, values)
            assert values[node["name"]] == node["value"] >= 0
        assert record["answer"] == values[graph["query"]]
        result = verify(completion_text(record), graph)
        assert (result.process_acc, result.answer_correct, result.verified_correct) == (1.0, True, True), record
        assert result.reason == "" and result.missing_nodes == result.value_errors == result.dependency_errors == 0


def test_reverse_mode_hides_a_positive_unknown_and_states_the_sink():
    for index in range(50):
        record = generate_problem(9, "B", "reverse", index)
        graph = record["graph"]
        unknown = next(node for node in graph["nodes"] if node["operation"] == "unknown")
        assert graph["query"] == unknown["name"] and unknown["value"] > 0
        assert f"{unknown['name'][:1].upper()}{unknown['name'][1:]} exists, and its number is greater than 0." in \
            record["problem"]
        given = next(node for node in graph["nodes"] if node["name"] == graph["given"])
        assert record["question"] == f"If {given['name']} equals {given['value']}, what is {unknown['name']}?"
        assert "x" not in record["problem"].split()


def test_problems_have_distractors_and_implicit_totals_stay_implicit():
    distractors = 0
    for index in range(40):
        record = generate_problem(12, "A", "forward", index)
        sentences = record["problem"].count(". ") + 1
        stated = [n for n in record["graph"]["nodes"] if n["operation"] != "total"]
        distractors += sentences - len(stated)
        for node in record["graph"]["nodes"]:
            if node["operation"] == "total":
                assert f"{node['name'][:1].upper()}{node['name'][1:]} equals" not in record["problem"]
    assert distractors >= 40


def test_same_seed_same_problem_and_seeds_differ():
    assert generate_problem(15, "C", "reverse", 7) == generate_problem(15, "C", "reverse", 7)
    assert generate_problem(15, "C", "reverse", 7)["id"] != generate_problem(15, "C", "reverse", 8)["id"]


def test_document_has_the_tagged_format():
    record = generate_problem(4, "A", "forward", 1)
    text = document_text(record)
    assert text == (f"<question> {record['problem']} {record['question']} </question> <solution> "
                    f"{record['solution']} </solution> <answer> {record['answer']} </answer>")
    assert verify(text, record).verified_correct


@pytest.mark.parametrize("op, mode", [(1, "forward"), (5, "sideways")])
def test_bad_arguments_raise_clear_errors(op, mode):
    with pytest.raises(ValueError, match="op count|mode"):
        generate_problem(op, "A", mode, 0)
