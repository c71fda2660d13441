"""RPT (grpo.prompts=documents): the prefix-match reward on real token boundaries, the document prompts against the
data batches they come from, the task's scoring, the config rules, and the CPU preset trained and resumed."""

import json
import pathlib
import types

import numpy as np
import pytest

from rlpjax.config import Config
from rlpjax.config_io import ConfigError, apply_overrides, load_preset
from rlpjax.config_checks import validate
from rlpjax.data import load_tokenizer
from rlpjax.data.pipeline import build_train_iterator
from rlpjax.data.rl_documents import DocumentPrompts
from rlpjax.train.tasks.grpo import GRPOTask
from rlpjax.train.tasks.grpo_prompts import prefix_match_reward

ROOT = pathlib.Path(__file__).resolve().parents[2]
QWEN3 = ROOT.parent / "shared" / "data" / "tokenizers" / "qwen3"
RPT_CPU = ROOT / "experiments" / "rpt_cpu.py"


def _rpt_cfg(*overrides: str) -> Config:
    return apply_overrides(load_preset(RPT_CPU), list(overrides))


@pytest.mark.skipif(not QWEN3.is_dir(), reason="needs ../shared/data/tokenizers/qwen3 (the shared data folder)")
def test_prefix_match_pays_only_whole_tokens_of_the_true_continuation():
    """"Hello world" is [9707, 1879] = "Hello", " world" in Qwen3: a prediction scores 1 exactly when it spells the
    first one or two tokens (the leading space of " world" may be left out), never a cut inside a token."""
    tokenizer = load_tokenizer(str(QWEN3))
    ids = tokenizer.encode("Hello world")
    assert ids == [9707, 1879]
    prefixes = [tokenizer.decode(ids[:j]) for j in (1, 2)]
    for prediction, expected in [("Hello", 1.0), ("Hello world", 1.0), ("Hell", 0.0), ("Hello wor", 0.0),
                                 ("Hello world!", 0.0), ("hello", 0.0), ("", 0.0), (None, 0.0)]:
        assert prefix_match_reward(prediction, prefixes) == expected, prediction
    world = [tokenizer.decode(ids[1:2])]  # the continuation " world": "world" and " world" both spell it
    assert [prefix_match_reward(p, world) for p in ("world", " world", "worl", "  world")] == [1.0, 1.0, 0.0, 0.0]


def test_document_prompts_cut_each_document_at_a_seeded_position_and_resume_exactly():
    cfg = _rpt_cfg()
    prompts = DocumentPrompts(cfg, context_tokens=16)
    batches = build_train_iterator(cfg.data)  # an independent reader of the same documents
    first = [next(prompts) for _ in range(2)]
    for records in first:
        batch = next(batches)
        assert len(records) == cfg.grpo.prompts_per_step
        for record, tokens_s, length in zip(records, batch["tokens"], batch["lengths"]):
            ends_with_eos = tokens_s[int(length) - 1] == load_tokenizer("byte").eos_id  # unless cut at seq_len
            t, n = record["position"], int(length) - int(ends_with_eos)
            assert min(cfg.grpo.document_min_context, n - 1) <= t <= n - 1
            assert record["context_ids"] == tokens_s[max(0, t - 16):t].tolist()
            assert record["continuation_ids"] == tokens_s[t:min(n, t + cfg.grpo.document_continuation_tokens)].tolist()
    assert [r["position"] for r in first[0]] != [r["position"] for r in first[1]]
    state = json.loads(json.dumps(prompts.get_state()))
    ahead = [next(prompts) for _ in range(2)]
    resumed = DocumentPrompts(cfg, context_tokens=16)
    resumed.set_state(state)
    assert [next(resumed) for _ in range(2)] == ahead
    assert DocumentPrompts(cfg, context_tokens=16).__next__() == first[0]  # same seed, same prompts


def test_rpt_scoring_rewards_the_boxed_next_tokens():
    """Four responses per prompt: the right next tokens, a wrong guess, no box, one token too many."""
    cfg = _rpt_cfg()
    task = GRPOTask(cfg)
    task.samples_requested = 4
    records = next(task.batches())
    tok, R = task.tokenizer, cfg.grpo.num_rollouts
    texts = []
    for record in records:
        truth = tok.decode(record["continuation_ids"][:3])
        too_long = tok.decode(record["continuation_ids"]) + "#"
        texts += [f"hmm \\boxed{{{truth}}}", "\\boxed{qqq}", truth, f"\\boxed{{{too_long}}}"]
    ids = [tok.encode(text) + [tok.eos_id] for text in texts]
    width = max(map(len, ids))
    out = types.SimpleNamespace(
        tokens_bl=np.array([row + [tok.pad_id] * (width - len(row)) for row in ids], np.int32),
        lengths_b=np.array([len(row) for row in ids], np.int32), stopped_b=np.ones(len(ids), bool))
    rewards_br, metrics, checked = task.score(records, out)
    assert rewards_br.shape == (len(records), R)
    np.testing.assert_array_equal(rewards_br, np.tile([1.0, 0.0, 0.0, 0.0], (len(records), 1)))
    assert metrics["prefix_match_rate"] == 0.25
    assert [scored.passed for _, scored in checked[:R]] == [True, False, False, False]
    rows = task._sample_rows(records, out, rewards_br, checked)
    assert rows[0][2].endswith(cfg.grpo.document_instruction) and rows[0][-1] is True and rows[1][-1] is False


@pytest.mark.parametrize("override, message", [
    ("data.mode=packed", "set data.mode=documents"),
    ("data.global_batch_size=4", "must equal grpo.prompts_per_step"),
    ("grpo.reward=outcome", "grpo.reward='outcome' is not one of prefix_match"),
    ("grpo.document_continuation_tokens=0", "must be at least 1"),
])
def test_rpt_config_mistakes_are_one_line(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(_rpt_cfg(override, "run.objective=grpo"))


def test_prefix_match_is_not_a_verifier_reward():
    with pytest.raises(ConfigError, match="grpo.reward='prefix_match' is not one of"):
        validate(apply_overrides(Config(), ["run.objective=grpo", "grpo.reward=prefix_match"]))


def test_rpt_cpu_preset_trains_and_resumes(tmp_path):
    """Two steps, then a third resumed from the checkpoint: the document prompt stream continues where it stopped
    (data/prompts_seen), and the metrics and sample table are RPT's."""
    from rlpjax.train.loop import train

    run_dir = tmp_path / "rpt"
    common = [f"run.run_dir={run_dir}", "checkpoint.every_steps=2", "checkpoint.async_save=false",
              "run.progress=false", "run.peak_tflops=1", "grpo.max_new_tokens=8", "run.samples_every=3",
              "run.samples_rows=2"]
    train(_rpt_cfg(*common, "run.steps=2"))
    train(_rpt_cfg(*common, "run.steps=3"))
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = {line["step"]: line for line in lines if "loss" in line}
    assert sorted(steps) == [1, 2, 3]
    assert steps[3]["data/prompts_seen"] == 3 * 8
    assert 0.0 <= steps[3]["prefix_match_rate"] <= 1.0 and np.isfinite(steps[3]["loss"])
    table = json.loads((run_dir / "samples.jsonl").read_text().splitlines()[-1])
    assert table["step"] == 3 and table["columns"][-3:] == ["continuation", "prediction", "prefix_match"]
    assert len(table["rows"]) == 2
