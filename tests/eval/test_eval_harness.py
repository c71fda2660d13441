"""The evaluation harness: sampling end to end on a tiny untrained model, the gold-completion oracle through the same
batching / decoding / verification path (pass@k = 1), the `rlpjax eval` CLI and its one-line errors."""

import json

import numpy as np
import pytest
from flax import nnx

from rlpjax import cli
from rlpjax.config import ModelConfig
from rlpjax.data import load_tokenizer
from rlpjax.eval import generate as generate_module
from rlpjax.eval.generate import completion_text, plan_batches
from rlpjax.eval.harness import MATH_STOP, evaluate_controlled, load_suite, score_math
from rlpjax.eval.report import aggregate, write_report
from rlpjax.model.decoder import Decoder
from rlpjax.model.io import save_model_dir
from rlpjax.reasoning.format import completion_text as gold_completion
from rlpjax.reasoning.format import prompt_text
from rlpjax.sampling import SampleOutput

TINY = ModelConfig(family="qwen3", vocab_size=261, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                   num_kv_heads=2, head_dim=8, qk_norm=True)
BYTE = load_tokenizer("byte")


@pytest.fixture(scope="module")
def tiny_model():
    return nnx.split(Decoder(TINY, rngs=nnx.Rngs(0)), nnx.Param)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_model):
    path = tmp_path_factory.mktemp("eval") / "model"
    save_model_dir(path, TINY, nnx.merge(*tiny_model))
    return path


def test_plan_batches_fixed_size_bucketed_and_complete():
    batches = plan_batches([70, 5, 130], samples=2, batch_size=4)
    assert [b.rows for b in batches] == [((1, 0), (1, 1), (0, 0), (0, 1)), ((2, 0), (2, 1))]
    assert [b.width for b in batches] == [128, 192]


def test_controlled_end_to_end_on_untrained_model(tiny_model, tmp_path):
    graphdef, params = tiny_model
    output = evaluate_controlled(graphdef, params, BYTE, ops=[2, 3], templates=["A"], modes=["forward", "reverse"],
                                 per_op=2, samples=2, max_new_tokens=16, batch_size=8, seed=0, progress=False)
    assert [(r.op, len(r.flags)) for r in output.results] == [(2, 2), (2, 2), (3, 2), (3, 2)]
    assert all(len(e["completion"]) <= 16 and e["prompt"].endswith("<solution>") for e in output.examples)
    paths = write_report(output.results, tmp_path, meta={"checkpoint": "tiny"})
    report = json.loads(paths["report.json"].read_text())
    assert report["ks"] == [1, 2] and set(report["estimators"]) == {"unbiased", "first_k"}
    assert "estimator `first_k`" in paths["report.md"].read_text()
    assert paths["passk_by_op.png"].read_bytes()[:4] == b"\x89PNG"


def _oracle_sampler(records, wrong_every_other: bool, shapes: list):
    """A stand-in for `sample` that writes each row's gold completion (then junk after </answer>, then EOS)."""
    gold = {prompt_text(r): gold_completion(r) for r in records}
    calls: dict[str, int] = {}

    def fake_sample(graphdef, params, prompt_tokens_bt, prompt_lengths_b, key, settings):
        shapes.append(prompt_tokens_bt.shape)
        tokens_bl = np.full((len(prompt_lengths_b), settings.max_new_tokens), settings.pad_id, np.int32)
        lengths_b = np.zeros(len(prompt_lengths_b), np.int32)
        for row, length in enumerate(np.asarray(prompt_lengths_b)):
            prompt = BYTE.decode(np.asarray(prompt_tokens_bt)[row, :length]).removeprefix("<bos>")
            calls[prompt] = calls.get(prompt, 0) + 1
            text = gold[prompt]
            if wrong_every_other and calls[prompt] % 2 == 0:
                text = text.replace("<answer> ", "<answer> 1")
            ids = BYTE.encode(text + " <answer> 0 </answer> Define junk") + [BYTE.eos_id]
            tokens_bl[row, :len(ids)] = ids
            lengths_b[row] = len(ids)
        return SampleOutput(tokens_bl, lengths_b, tokens_bl * 0.0, tokens_bl * 0.0, lengths_b > 0)

    return fake_sample


@pytest.mark.parametrize("wrong_every_other", [False, True])
def test_gold_completions_give_pass_at_k_one(monkeypatch, wrong_every_other):
    from rlpjax.reasoning.corpora import build_eval_set

    ops, shapes = [2, 9, 15], []
    records = build_eval_set(ops, ["A", "B"], ["forward", "reverse"], 2, seed=0)
    monkeypatch.setattr(generate_module, "sample", _oracle_sampler(records, wrong_every_other, shapes))
    output = evaluate_controlled(None, None, BYTE, ops=ops, templates=["A", "B"], modes=["forward", "reverse"],
                                 per_op=2, samples=2, max_new_tokens=3000, batch_size=3, seed=0, progress=False)
    assert all(batch == 3 and width % 64 == 0 for batch, width in shapes) and len(shapes) == 4
    overall = aggregate(output.results)["overall"]
    if wrong_every_other:
        assert all(sum(r.flags) == 1 for r in output.results)
        assert overall["unbiased"] == {1: 0.5, 2: 1.0}
    else:
        assert overall["unbiased"] == overall["first_k"] == {1: 1.0, 2: 1.0}
        assert [e["completion"] for e in output.examples] == [gold_completion(r) for r in records[:4]]


def test_math_scoring_cuts_at_next_question(shared_data):
    problems, _skipped = load_suite("gsm8k", shared_data / "math" / "gsm8k_test.jsonl", limit=3)
    texts = [[completion_text(BYTE, BYTE.encode(f" It is {p.answer}.\nQuestion: 7 + 1 = 8"), MATH_STOP),
              " no idea"] for p in problems]
    output = score_math(problems, texts)
    assert [r.flags for r in output.results] == [(True, False)] * 3
    assert output.examples[0]["completion"].endswith(f"{problems[0].answer}.\nQuestion:")


def _eval(argv, capsys):
    code = cli.main(["eval", "--no-progress", "--samples", "2", "--max-new-tokens", "8", "--batch-size", "8",
                     *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_controlled_on_model_dir(model_dir, capsys):
    code, out, _err = _eval(["--checkpoint", model_dir, "--tokenizer", "byte", "--ops", "2-3", "--per-op", "2",
                             "--templates", "A"], capsys)
    out_dir = model_dir / "eval" / "controlled"
    assert code == 0 and "pass@1" in out and str(out_dir) in out
    for name in ("report.json", "report.md", "passk_by_split.png", "passk_by_op.png", "nll_by_op.png",
                 "examples.jsonl"):
        assert (out_dir / name).stat().st_size > 0
    report = json.loads((out_dir / "report.json").read_text())
    meta = report["meta"]
    assert sorted(report["nll_by_op"]) == ["2", "3"] and all(v > 0 for v in report["nll_by_op"].values())
    assert meta["samples"] == 2 and meta["modes"] == "forward (2), reverse (2)" and meta["templates"] == "A (4)"


def test_cli_gsm8k_three_problems(model_dir, shared_data, tmp_path, capsys):
    code, out, _err = _eval(["--checkpoint", model_dir, "--tokenizer", "byte", "--suite", "gsm8k", "--limit", "3",
                             "--data", shared_data / "math" / "gsm8k_test.jsonl", "--out", tmp_path], capsys)
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == 0 and "gsm8k pass@k" in out and report["overall"]["problems"] == 3
    assert 0.0 <= report["accuracy"] <= 1.0 and (tmp_path / "passk.png").is_file()


@pytest.mark.parametrize("problem", ["missing", "empty", "unsaved_run", "vocab"])
def test_cli_bad_checkpoint_is_one_line_exit_2(problem, tmp_path, capsys):
    checkpoint = {"missing": tmp_path / "nope", "empty": tmp_path, "unsaved_run": tmp_path}.get(problem)
    if problem == "unsaved_run":
        (tmp_path / "checkpoints").mkdir()
        (tmp_path / "config.json").write_text("{}")
    if problem == "vocab":
        checkpoint = tmp_path / "small"
        small = ModelConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_heads=4, num_kv_heads=2,
                            head_dim=8)
        save_model_dir(checkpoint, small, Decoder(small, rngs=nnx.Rngs(0)))
    code, _out, err = _eval(["--checkpoint", checkpoint, "--tokenizer", "byte"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert {"missing": "does not exist", "empty": "nothing loadable", "unsaved_run": "no saved checkpoint step",
            "vocab": "smaller than"}[problem] in err
