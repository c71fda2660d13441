"""The report writer turns synthetic per-problem results into JSON, markdown and PNG files with correct means."""

import json
import random

import pytest

from rlpjax.eval.passk import pass_at_k_unbiased
from rlpjax.eval.report import ProblemResult, aggregate, write_report


def _results(seed=0, n=8):
    rng = random.Random(seed)
    results = []
    for op in range(2, 21):
        for index in range(4):
            rate = max(0.0, 1.0 - op / 20)
            results.append(ProblemResult(op, "ABC"[index % 3], ("forward", "reverse")[index % 2],
                                         tuple(rng.random() < rate for _ in range(n))))
    return results


def test_aggregate_means_and_groups():
    results = _results()
    report = aggregate(results, ks=[1, 4, 8])
    edge = [r for r in results if 11 <= r.op <= 14]
    expected = sum(pass_at_k_unbiased(8, sum(r.flags), 4) for r in edge) / len(edge)
    assert report["by_split"]["edge"]["unbiased"][4] == pytest.approx(expected)
    assert report["by_split"]["edge"]["problems"] == 16 and set(report["by_split"]) == {"id", "edge", "hard"}
    assert report["by_op"][20]["unbiased"][8] == 0.0
    first = [any(r.flags[:1]) for r in results if r.template == "B"]
    assert report["by_template"]["B"]["first_k"][1] == pytest.approx(sum(first) / len(first))
    with pytest.raises(ValueError, match="exceeds"):
        aggregate(results, ks=[16])


def test_write_report_files(tmp_path):
    paths = write_report(_results(), tmp_path)
    for name in ("report.json", "report.md", "passk_by_split.png", "passk_by_op.png"):
        assert paths[name].is_file() and paths[name].stat().st_size > 0
    assert paths["passk_by_op.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(paths["report.json"].read_text())
    assert report["ks"] == [1, 2, 4, 8]
    markdown = paths["report.md"].read_text()
    assert "| edge | 16 |" in markdown and "first_k" in markdown


def _failing(op, template, flags, failures):
    return ProblemResult(op, template, "forward", flags, failures)


def test_failure_breakdown_and_context_splits_by_hand():
    from rlpjax.eval.report import failure_types
    from rlpjax.reasoning.verify import Verification

    def check(value=0, dependency=0, missing=0, extra=0, answer=0):
        verified = not (value or dependency or missing or answer)
        return Verification(1.0 if verified else 0.0, not answer, verified, "", value, dependency, missing, extra,
                            answer, None, 3)

    assert failure_types(check()) == [] and failure_types(check(extra=1)) == []  # extras alone still verify
    assert failure_types(check(value=1, extra=1, answer=1)) == ["wrong_step", "extra_node"]
    assert failure_types(check(missing=2, dependency=1)) == ["wrong_step", "missing_step"]
    assert failure_types(check(answer=1)) == ["answer_only"]
    results = [_failing(3, "A", (True, False, False, False), (("answer_only", 2), ("wrong_step", 1))),  # 3 failed
               _failing(12, "B", (False, False), (("missing_step", 2), ("extra_node", 1))),             # 2 failed
               _failing(12, "A", (True, True), ())]                                                      # 0 failed
    report = aggregate(results, ks=[1, 2])
    assert report["failures"]["overall"] == pytest.approx(
        {"failed": 5, "wrong_step": 1 / 5, "missing_step": 2 / 5, "extra_node": 1 / 5, "answer_only": 2 / 5})
    assert report["failures"]["by_split"]["edge"] == pytest.approx(
        {"failed": 2, "wrong_step": 0.0, "missing_step": 1.0, "extra_node": 0.5, "answer_only": 0.0})
    assert set(report["by_context_split"]) == {"A/id", "A/edge", "B/edge"}
    assert report["by_context_split"]["A/edge"]["unbiased"][1] == 1.0
    assert report["by_context_split"]["A/id"]["unbiased"][1] == 0.25
    assert report["by_context_split"]["B/edge"]["unbiased"][2] == 0.0


def test_report_with_nll_and_all_zero_bars_and_compare(tmp_path):
    from rlpjax.eval.compare import write_compare

    zeros = [_failing(op, "A", (False, False), (("wrong_step", 2),)) for op in (2, 3, 12)]
    paths = write_report(zeros, tmp_path / "zero", nll_by_op={2: 0.5, 3: 0.75, 12: 1.5})
    markdown = paths["report.md"].read_text()
    assert "| 12 | 1.5000 |" in markdown and "| all | 6 | 100.0 | 0.0 | 0.0 | 0.0 |" in markdown
    for name in ("passk_by_context.png", "failures.png", "nll_by_op.png"):
        assert paths[name].read_bytes()[:4] == b"\x89PNG"
    run = tmp_path / "runs" / "good"
    write_report(_results(), run / "eval" / "controlled")
    compared = write_compare([str(run), str(tmp_path / "zero" / "report.json")], tmp_path / "cmp")
    table = compared["compare.md"].read_text()
    assert "| good | edge | 16 |" in table and "| zero | edge | 1 | 0.0 | 0.0 (k=2) |" in table
    assert compared["compare.png"].read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileNotFoundError, match="run `rlpjax eval --checkpoint"):
        write_compare([str(tmp_path / "nothing")], tmp_path / "cmp")
