"""Mixtures, the on-the-fly stream, held-out sets and the generate-data command (determinism, dedup, errors)."""

import collections
import itertools
import json

import pytest

from rlpjax.cli import main
from rlpjax.reasoning.corpora import (PRESETS, apportion, build_eval_set, cell_weights, corpus_ids, grid_quotas,
                                      iter_documents, mixture_quotas, split_of_op)
from rlpjax.reasoning.format import SPECIAL_TOKENS
from rlpjax.reasoning.verify import verify


def test_pretrain_and_midtrain_mixture_shares():
    for preset, ranges in (("pretrain", {(2, 4): 0.2, (5, 7): 0.3, (8, 10): 0.5}),
                           ("midtrain", {(2, 10): 0.2, (11, 14): 0.8})):
        weights = cell_weights(PRESETS[preset])
        for (low, high), share in ranges.items():
            assert sum(w for (op, _t, _m), w in weights.items() if low <= op <= high) == pytest.approx(share)
        for template in "ABC":
            assert sum(w for (_o, t, _m), w in weights.items() if t == template) == pytest.approx(1 / 3)
    for preset, share in (("transfer-b0", 0.0), ("transfer-b0.1", 0.001), ("transfer-b1", 0.01),
                          ("transfer-b10", 0.1)):
        weights = cell_weights(PRESETS[preset])
        assert sum(w for (_o, t, _m), w in weights.items() if t == "B") == pytest.approx(share)


def test_quotas_sum_exactly():
    quotas = mixture_quotas("pretrain", 1001)
    assert sum(quotas.values()) == 1001
    weights = cell_weights(PRESETS["pretrain"])
    assert all(abs(n - 1001 * weights[cell]) < 1 for cell, n in quotas.items())
    assert apportion({"a": 1.0, "b": 1.0, "c": 1.0}, 4) == {"a": 2, "b": 1, "c": 1}
    grid = grid_quotas([3, 4], "AB", ["forward", "reverse"], 6)
    assert sum(n for (op, _t, _m), n in grid.items() if op == 3) == 6 and set(grid.values()) == {1, 2}


def test_iter_documents_is_deterministic_resumable_and_follows_the_mixture():
    first = list(itertools.islice(iter_documents("midtrain", seed=5), 300))
    assert first == list(itertools.islice(iter_documents("midtrain", seed=5), 300))
    assert first[100:110] == list(itertools.islice(iter_documents("midtrain", seed=5, start=100), 10))
    assert first != list(itertools.islice(iter_documents("midtrain", seed=6), 300))
    assert all(text.startswith("<question> ") and text.endswith(" </answer>") for text in first)
    assert sum("<|endoftext|>" in text for text in first) == 0 and "<|endoftext|>" in SPECIAL_TOKENS
    templates = collections.Counter(t for text in first for t in "ABC" if _template_of(text) == t)
    assert min(templates.values()) > 60


def _template_of(text):
    return "A" if "Zoo" in text or "Ranch" in text or "adult" in text else "B" if "teachers" in text else "C"


def test_eval_set_is_held_out_from_a_corpus(tmp_path):
    assert main(["generate-data", "--out", str(tmp_path), "--ops", "2-3", "--per-op", "60", "--seed", "1",
                 "--no-progress"]) == 0
    train_ids = corpus_ids(tmp_path)
    held_out = build_eval_set([2, 3, 12], "ABC", ["forward", "reverse"], per_op=30, seed=1, exclude_ids=train_ids)
    assert len(held_out) == 90 and not train_ids & {p["id"] for p in held_out}
    assert len({p["id"] for p in held_out}) == 90
    assert {p["split"] for p in held_out} == {"id", "edge"} and split_of_op(17) == "hard"
    documents = iter_documents("pretrain", seed=1, exclude_ids={p["id"] for p in held_out})
    assert not any(p["problem"] in text for text in itertools.islice(documents, 200) for p in held_out)


def _run_generate(out, *extra):
    return main(["generate-data", "--out", str(out), "--ops", "2-12", "--per-op", "24", "--seed", "11",
                 "--splits", "train=0.5,val=0.25,test=0.25", "--records-per-shard", "50", "--no-progress", *extra])


def test_generate_data_same_seed_same_corpus_any_workers_and_no_duplicates(tmp_path):
    assert _run_generate(tmp_path / "one") == 0
    assert _run_generate(tmp_path / "two", "--workers", "2") == 0
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert "train-00000-of-00003.jsonl" in files and "val-00001-of-00002.jsonl" in files
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    records = [json.loads(line) for path in sorted((tmp_path / "one").glob("*.jsonl"))
               for line in path.read_text().splitlines()]
    assert len(records) == 11 * 24 and len({r["id"] for r in records}) == len(records)
    assert collections.Counter(r["op"] for r in records) == {op: 24 for op in range(2, 13)}
    for record in records[::25]:
        assert verify(record["text"], record["graph"]).verified_correct
        assert record["text"].startswith(record["prompt"])


def test_generate_data_preset(tmp_path):
    assert main(["generate-data", "--out", str(tmp_path), "--preset", "pretrain", "--num-problems", "200",
                 "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["splits"]["train"]["records"] == 200


@pytest.mark.parametrize("args, message", [
    (["--ops", "1-4", "--per-op", "5"], "at least 2"),
    (["--ops", "two", "--per-op", "5"], "range"),
    (["--ops", "2-4"], "either"),
    (["--ops", "2-4", "--per-op", "5", "--templates", "Z"], "template 'Z' not found"),
    (["--ops", "2-4", "--per-op", "5", "--modes", "up"], "not one of"),
    (["--ops", "2-4", "--per-op", "5", "--splits", "train=0.5"], "sum to"),
    (["--preset", "nope", "--num-problems", "5"], "unknown corpus preset"),
    (["--preset", "pretrain"], "--num-problems"),
])
def test_generate_data_bad_input(tmp_path, capsys, args, message):
    assert main(["generate-data", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
