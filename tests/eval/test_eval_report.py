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
