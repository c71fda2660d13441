"""Document renders with thinking in distribution: exact texts, deterministic share-respecting choice, corpus rewrite."""

import json

import numpy as np
import pytest

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.thinking import check_shares, render, render_kind, rewrite_corpus

RECORD = {"id": "p1", "problem": "The number of owls equals 5.", "question": "What is the number of owls?",
          "solution": "Define the number of owls as a; so a = 5.", "answer": 5}


def test_each_render_is_the_documented_text():
    assert render(RECORD, "solution") == ("<question> The number of owls equals 5. What is the number of owls? "
                                          "</question> <solution> Define the number of owls as a; so a = 5. "
                                          "</solution> <answer> 5 </answer>")
    assert render(RECORD, "think") == ("<question> The number of owls equals 5. What is the number of owls? "
                                       "</question><think> Define the number of owls as a; so a = 5. </think> "
                                       "<answer> 5 </answer>")
    assert render(RECORD, "direct") == ("<question> The number of owls equals 5. What is the number of owls? "
                                        "</question> <answer> 5 </answer>")
    with pytest.raises(ConfigError, match="unknown document kind 'essay'"):
        render(RECORD, "essay")


def test_think_render_is_direct_with_the_thought_where_rlp_inserts_it():
    """RLP thinks right after `</question>` (no space), then scores the direct document's next tokens: the think
    render must be exactly that sequence, so pre-training thoughts sit where RLP's thoughts go."""
    head, tail = render(RECORD, "direct").split("</question>")
    assert render(RECORD, "think") == f"{head}</question><think> {RECORD['solution']} </think>{tail}"


def test_render_kind_is_deterministic_and_follows_the_shares():
    shares = {"solution": 0.6, "think": 0.3, "direct": 0.1}
    kinds = [render_kind(f"id{i}", shares, seed=3) for i in range(6000)]
    assert kinds == [render_kind(f"id{i}", shares, seed=3) for i in range(6000)]
    assert kinds != [render_kind(f"id{i}", shares, seed=4) for i in range(6000)]
    for kind, share in shares.items():
        # binomial standard error at n = 6000 is at most 0.0065; 4 SE keeps the check machine-independent
        assert abs(np.mean([k == kind for k in kinds]) - share) < 4 * np.sqrt(share * (1 - share) / 6000), kind
    assert {render_kind(f"id{i}", {"think": 1.0}, 0) for i in range(50)} == {"think"}


def test_bad_shares_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown document kinds"):
        check_shares({"solution": 0.5, "essay": 0.5})
    with pytest.raises(ConfigError, match="non-negative with a positive sum"):
        check_shares({"solution": -1.0, "think": 0.5})
    assert check_shares({"solution": 2.0, "think": 2.0}) == {"solution": 0.5, "think": 0.5, "direct": 0.0}


def test_rewrite_corpus_rerenders_every_record_and_counts_them(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    records = [{**RECORD, "id": f"p{i}", "text": "old"} for i in range(40)]
    (src / "train-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    counts = rewrite_corpus(src, dst, {"solution": 0.5, "direct": 0.5}, seed=0)
    out = [json.loads(line) for line in (dst / "train-00000-of-00001.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == [r["id"] for r in records]
    assert all(r["text"] == render(r, r["kind"]) for r in out)
    assert counts == {kind: sum(r["kind"] == kind for r in out) for kind in ("solution", "think", "direct")}
    assert counts["think"] == 0 and counts["solution"] > 0 and counts["direct"] > 0
    (src / "other-00000-of-00001.jsonl").write_text(json.dumps(records[0]) + "\n")
    assert rewrite_corpus(src, dst, {"think": 1.0}, seed=0, pattern="other-*.jsonl") == {
        "solution": 0, "think": 1, "direct": 0}
    with pytest.raises(ConfigError, match="no \\*.jsonl corpus files"):
        rewrite_corpus(tmp_path / "empty", dst, {"solution": 1.0}, 0)
