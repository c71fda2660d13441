"""Mixtures, the on-the-fly stream, held-out sets and the generate-data command (determinism, dedup, errors)."""

import collections
import itertools
import json

import pytest

from rlpjax.cli import main
from rlpjax.reasoning.corpora import build_eval_set, corpus_ids, grid_quotas, iter_documents, split_of_op
from rlpjax.reasoning.corpora import candidate, training_candidate
from rlpjax.reasoning.format import SPECIAL_TOKENS
from rlpjax.reasoning.generator import canonical_key, is_heldout
from rlpjax.reasoning.verify import verify


def test_grid_quotas_cover_modes_and_templates_with_few_problems_per_op():
    grid = grid_quotas([3, 4], "AB", ["forward", "reverse"], 6)
    assert sum(n for (op, _t, _m), n in grid.items() if op == 3) == 6 and set(grid.values()) == {1, 2}
    # one problem per op over six ops and 3 x 2 cells: every cell exactly once (modes alternate)
    grid = grid_quotas(range(2, 8), "ABC", ["forward", "reverse"], 1)
    assert sorted(cell for cell, n in grid.items() if n) == sorted(
        [(2, "A", "forward"), (3, "A", "reverse"), (4, "B", "forward"), (5, "B", "reverse"), (6, "C", "forward"),
         (7, "C", "reverse")])


def test_iter_documents_is_deterministic_resumable_and_follows_the_mixture():
    first = list(itertools.islice(iter_documents("midtrain", seed=5), 300))
    assert first == list(itertools.islice(iter_documents("midtrain", seed=5), 300))
    assert first[100:110] == list(itertools.islice(iter_documents("midtrain", seed=5, start=100), 10))
    assert first != list(itertools.islice(iter_documents("midtrain", seed=6), 300))
    assert all(text.startswith("<question> ") and text.endswith(" </answer>") for text in first)
    assert not any("Answer:" in text for text in first)
    with_line = list(itertools.islice(iter_documents("midtrain", seed=5, answer_line=True), 20))
    assert all(" Answer: " in text for text in with_line)
    assert sum("<|endoftext|>" in text for text in first) == 0 and "<|endoftext|>" in SPECIAL_TOKENS
    templates = collections.Counter(t for text in first for t in "ABC" if _template_of(text) == t)
    assert min(templates.values()) > 60


def _template_of(text):
    return "A" if "Zoo" in text or "Ranch" in text or "adult" in text else "B" if "teachers" in text else "C"


def test_eval_set_is_held_out_from_a_corpus(tmp_path):
    assert main(["generate-data", "--out", str(tmp_path), "--ops", "2-3", "--per-op", "60", "--seed", "1",
                 "--no-progress"]) == 0
    train_keys = corpus_ids(tmp_path)
    assert 100 < len(train_keys) <= 120 and not any(map(is_heldout, train_keys))  # two texts may share a key
    held_out = build_eval_set([2, 3, 12], "ABC", ["forward", "reverse"], per_op=30, seed=1, exclude_ids=train_keys)
    keys = {p["key"] for p in held_out}
    assert len(held_out) == 90 == len(keys) and not train_keys & keys and all(map(is_heldout, keys))
    assert {p["split"] for p in held_out} == {"id", "edge"} and split_of_op(17) == "hard"
    # the stream skips held-out problems unasked (no exclude_ids given; `training_candidate` is tested below)
    documents = list(itertools.islice(iter_documents("pretrain", seed=1), 200))
    assert not any(p["problem"] in text for text in documents for p in held_out)


def test_canonical_key_ignores_wording_and_letters_but_not_values():
    record = candidate(3, "x", (4, "A", "forward"), 0)
    shuffled = {**record["graph"], "nodes": list(reversed(record["graph"]["nodes"]))}
    upper = {**record["graph"], "query": record["graph"]["query"].upper()}
    assert canonical_key(shuffled) == canonical_key(upper) == record["key"]
    changed = json.loads(json.dumps(record["graph"]))
    changed["nodes"][0]["value"] += 1
    assert canonical_key(changed) != record["key"]
    # training streams redraw held-out candidates: find one and check its replacement
    index = next(i for i in range(400) if is_heldout(candidate(3, "x", (4, "A", "forward"), i)["key"]))
    replaced = training_candidate(3, "x", (4, "A", "forward"), index)
    assert not is_heldout(replaced["key"]) and replaced["key"] != candidate(3, "x", (4, "A", "forward"), index)["key"]


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


def test_generate_data_preset_and_mixture_state_exact_part_counts(tmp_path, capsys):
    assert main(["generate-data", "--out", str(tmp_path / "p"), "--preset", "pretrain", "--num-problems", "200",
                 "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["splits"]["train"]["records"] == 200 and manifest["answer_line"] is False
    assert [p["count"] for p in manifest["mixture"]["parts"]] == [40, 60, 100]
    assert main(["generate-data", "--out", str(tmp_path / "m"), "--mixture", "2-20:0.9@A;2:0.1@B",
                 "--num-problems", "50", "--no-progress"]) == 0
    assert "part 2:0.1@B: 5 problems" in capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "m" / "train-00000-of-00001.jsonl").read_text().splitlines()]
    # A: 45 problems over 19 ops x 2 modes = 38 cells, one each plus 7 by tied remainders in cell order (ops 2, 2,
    # 3, 3, 4, 4, 5), so op 2 of A holds 2 x 2 = 4; B: all 5 at op 2
    assert collections.Counter((r["template"], r["op"] == 2) for r in records) == {("A", False): 41, ("A", True): 4,
                                                                                 ("B", True): 5}


@pytest.mark.parametrize("args, message", [
    (["--ops", "1-4", "--per-op", "5"], "at least 2"),
    (["--ops", "two", "--per-op", "5"], "range"),
    (["--ops", "2-4"], "either"),
    (["--ops", "2-4", "--per-op", "5", "--templates", "Z"], "template 'Z' not found"),
    (["--ops", "2-4", "--per-op", "5", "--modes", "up"], "not one of"),
    (["--ops", "2-4", "--per-op", "5", "--splits", "train=0.5"], "sum to"),
    (["--preset", "nope", "--num-problems", "5"], "unknown corpus preset"),
    (["--mixture", "2-20:0.9@A;2:0.2@B", "--num-problems", "5"], "shares sum to 1.1; make them sum to 1"),
    (["--mixture", "2-20:0.999@A;2:0.001@B", "--num-problems", "400"], "ask for at least 1000 problems"),
    (["--preset", "pretrain"], "--num-problems"),
])
def test_generate_data_bad_input(tmp_path, capsys, args, message):
    assert main(["generate-data", "--out", str(tmp_path), "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
