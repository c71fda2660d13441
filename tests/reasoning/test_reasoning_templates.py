"""Templates are data: a user-written JSON file works without code; malformed ones are rejected clearly."""

import json

import pytest

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.generator import generate_problem
from rlpjax.reasoning.templates import available_templates, load_template
from rlpjax.reasoning.verify import verify


def _write(path, **overrides):
    data = {"name": "D", "description": "books in libraries", "outer": [f"Library {c}" for c in "PQRSTUVW"],
            "inner": [f"{g} books" for g in ("poetry", "travel", "science", "history", "cookery", "chess")],
            "instance": "the number of {inner} in {outer}", "total": "the total number of books in {outer}"}
    data.update(overrides)
    path.write_text(json.dumps(data))
    return str(path)


def test_shipped_templates():
    assert {"A", "B", "C"} <= set(available_templates())
    assert load_template("B").total_name(0) == "the total number of teachers in Riverview High"


def test_user_template_generates_verifiable_problems(tmp_path):
    path = _write(tmp_path / "d.json")
    for mode in ("forward", "reverse"):
        record = generate_problem(14, path, mode, 3)
        assert "books in Library" in record["problem"] and record["template"] == "D"
        assert verify(record["solution"] + f" <answer> {record['answer']} </answer>", record["graph"]).verified_correct


@pytest.mark.parametrize("overrides, message", [
    ({"outer": ["Library P", "Library Q"]}, "at least 3"),
    ({"instance": "the number of {inner}"}, "must contain"),
    ({"inner": ["a.b books", "c books", "d books", "e books", "f books", "g books"]}, "may not contain"),
    ({"outer": None}, "malformed"),
])
def test_bad_templates_are_rejected(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_template(_write(tmp_path / "bad.json", **overrides))
