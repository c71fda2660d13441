"""The paper suite: multiple-choice loaders on hand-written public-layout files, answer checking on hand-made cases,
the averages against a hand computation, bad input as one line, and `rlpjax eval --suite paper` end to end."""

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlpjax import cli
from rlpjax.config_io import ConfigError
from rlpjax.eval import answers
from rlpjax.eval.answers import answers_match, extract_answer
from rlpjax.eval.choice import extract_letter, load_choice
from rlpjax.eval.harness import score_choice
from rlpjax.eval.paper import PROTOCOL, paper_summary


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_mmlu_jsonl_index_and_letter_answers_bad_record_counted(tmp_path, capsys):
    path = _jsonl(tmp_path / "mmlu.jsonl", [
        {"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1, "subject": "math"},
        {"question": "Red?", "choices": ["blue", "green", "red", "gold"], "answer": "C"},
        {"question": "no answer", "choices": ["a", "b"]},
        {"question": "bad answer", "choices": ["a", "b"], "answer": 7}])
    problems, skipped = load_choice("mmlu", path)
    assert [(p.answer, p.choices[p.answer]) for p in problems] == [(1, "4"), (2, "red")] and skipped == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "record 2 of" in err[0] and "'answer'" in err[0] and "record 3" in err[1]
    assert problems[0].prompt() == "Question: 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:"


def test_mmlu_pro_parquet_and_gpqa_csv(tmp_path):
    options = [f"o{i}" for i in range(10)]
    pq.write_table(pa.Table.from_pylist([{"question": "q", "options": options, "answer": "J", "answer_index": 9},
                                         {"question": "r", "options": options[:4], "answer": "B",
                                          "answer_index": None}]), tmp_path / "pro.parquet")
    pro, skipped = load_choice("mmlu_pro", tmp_path / "pro.parquet")
    assert [p.answer for p in pro] == [9, 1] and skipped == 0 and len(pro[0].choices) == 10
    fields = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]
    with (tmp_path / "gpqa.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        for i in range(6):
            writer.writerow(dict(zip(fields, [f"question {i}", "right", "wrong1", "wrong2", "wrong3"])))
    gpqa, _ = load_choice("gpqa", tmp_path / "gpqa.csv")
    again, _ = load_choice("gpqa", tmp_path / "gpqa.csv")
    assert all(p.choices[p.answer] == "right" and sorted(p.choices) == ["right", "wrong1", "wrong2", "wrong3"]
               for p in gpqa)
    assert [p.choices for p in gpqa] == [p.choices for p in again]  # deterministic
    assert len({p.answer for p in gpqa}) > 1  # shuffled: the right answer is not always A (6 questions)


def test_unknown_layout_is_one_line(tmp_path):
    path = _jsonl(tmp_path / "x.jsonl", [{"text": "hello"}])
    with pytest.raises(ConfigError, match=r"no record of .*x.jsonl.* fits the mmlu layout"):
        load_choice("mmlu", path)


@pytest.mark.parametrize("verifier", ["math-verify", "fallback"])
def test_answer_checking_hand_cases(verifier, monkeypatch):
    if verifier == "fallback":
        monkeypatch.setattr(answers, "_math_verify", lambda: None)
        assert "not installed" in answers.answer_rule()
    elif answers._math_verify() is None:
        pytest.skip("math-verify is not installed (the `math` extra)")
    assert answers_match(extract_answer("so \\boxed{\\frac{1}{2}}."), "0.5")
    assert answers_match(extract_answer("The answer is 27.0"), "27")
    assert not answers_match(extract_answer("\\boxed{\\frac{1}{3}}"), "0.5")


def test_math_verify_adds_symbolic_equivalence():
    if answers._math_verify() is None:
        pytest.skip("math-verify is not installed (the `math` extra)")
    assert answers_match("\\sqrt{8}", "2\\sqrt{2}") and not answers.exact_match("\\sqrt{8}", "2\\sqrt{2}")


def test_letter_extraction_and_scoring(tmp_path):
    assert extract_letter(" B. because", 4) == "B" and extract_letter("I think (C)", 4) == "C"
    assert extract_letter("A is wrong, so the answer is D", 4) == "D"
    assert extract_letter("the answer is a guess", 4) is None and extract_letter(" E", 4) is None
    path = _jsonl(tmp_path / "m.jsonl", [{"question": "q", "choices": ["a", "b", "c", "d"], "answer": 1}])
    problems, _ = load_choice("mmlu", path)
    output = score_choice(problems, [[" B", " A", "answer is B", "C"]])
    assert output.results[0].flags == (True, False, True, False)  # a wrong letter is wrong


def test_averages_against_hand_computation():
    scores = {"aime25": 0.1, "math500": 0.5, "gsm8k": 0.7, "mmlu": 0.4, "gpqa": 0.25}
    summary = paper_summary(scores, {"amc23": "missing"})
    assert summary["benchmarks"]["MATH500"] == pytest.approx(50.0)
    assert summary["averages"]["Math Avg"] == pytest.approx((10 + 50 + 70) / 3)
    assert summary["averages"]["Science Avg"] == pytest.approx((40 + 25) / 2)
    assert summary["averages"]["Overall"] == pytest.approx((10 + 50 + 70 + 40 + 25) / 5)
    assert "missing: AMC23, Minerva" in summary["how"]["Math Avg"]


def test_gsm8k_given_math_file_is_one_line(shared_data, tmp_path, capsys):
    code = cli.main(["eval", "--checkpoint", str(shared_data / "models" / "stories260K"), "--suite", "gsm8k",
                     "--data", str(shared_data / "math" / "math500_test.jsonl"), "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "gsm8k layout" in err[0], err


def test_paper_suite_end_to_end_on_stories260k(shared_data, tmp_path, capsys):
    mmlu = _jsonl(tmp_path / "mmlu.jsonl", [{"question": "Once upon a time?", "choices": ["yes", "no"],
                                             "answer": 0}] * 2)
    absent = ",".join(f"{suite}={tmp_path / 'absent'}" for suite in ("aime25", "math500", "amc23", "minerva"))
    code = cli.main(["eval", "--checkpoint", str(shared_data / "models" / "stories260K"), "--suite", "paper",
                     "--data", f"mmlu={mmlu},{absent}", "--limit", "2", "--samples", "2", "--max-new-tokens", "4",
                     "--batch-size", "8", "--no-progress", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0 and "| **Overall** |" in out
    report = json.loads((tmp_path / "out" / "paper.json").read_text())
    assert set(report["skipped"]) == {"aime25", "math500", "amc23", "minerva", "mmlu_pro", "gpqa"}
    assert "--data gpqa=PATH" in report["skipped"]["gpqa"] and list(report["benchmarks"]) == ["GSM8K", "MMLU"]
    assert report["averages"]["Overall"] == pytest.approx(sum(report["benchmarks"].values()) / 2)
    assert (tmp_path / "out" / "paper.png").read_bytes()[:4] == b"\x89PNG"
    suite_meta = json.loads((tmp_path / "out" / "gsm8k" / "report.json").read_text())["meta"]
    assert suite_meta["samples"] == 2 and suite_meta["temperature"] == PROTOCOL["gsm8k"].temperature
    assert "answer" in suite_meta["verdict"]
