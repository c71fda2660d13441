"""The edge-of-competence filter: pass-rate band, histogram and the masking of dropped groups, by hand."""

import types

import jax
import numpy as np
import pytest

from rlpjax.config import Config, GRPOConfig
from rlpjax.config_io import ConfigError
from rlpjax.reasoning.format import completion_text
from rlpjax.sampling import SampleOutput
from rlpjax.train.tasks.grpo import GRPOTask, edge_filter


def test_edge_filter_by_hand():
    passed = np.array([[1, 1, 1, 1],    # p = 1    -> dropped (always solved)
                       [1, 0, 0, 0],    # p = 0.25 -> kept
                       [0, 0, 0, 0],    # p = 0    -> dropped (never solved)
                       [1, 1, 0, 0],    # p = 0.5  -> kept
                       [1, 1, 1, 0]],   # p = 0.75 -> kept
                      bool)
    keep, metrics = edge_filter(passed, 0.0, 1.0)
    assert keep.tolist() == [False, True, False, True, True]
    assert metrics == pytest.approx({"edge_kept_frac": 3 / 5, "edge_pass_rate_mean": 2.5 / 5,
                                     "edge_pass_rate_zero": 1 / 5, "edge_pass_rate_below_half": 1 / 5,
                                     "edge_pass_rate_half_up": 2 / 5, "edge_pass_rate_one": 1 / 5})
    keep, metrics = edge_filter(passed, 0.3, 0.8)  # a narrower band keeps 0.5 and 0.75 only
    assert keep.tolist() == [False, False, False, True, True] and metrics["edge_kept_frac"] == 2 / 5


def _task(**grpo):
    cfg = Config(grpo=GRPOConfig(ops=(2,), templates=("A",), modes=("forward",), prompts_per_step=3, num_rollouts=4,
                                 max_prompt_tokens=1024, max_new_tokens=512, **grpo))
    return GRPOTask(cfg)


def _rollout(task, passes_per_group):
    """task.rollout with a stub sampler: rollout r of prompt b writes the gold completion when r < passes[b], else
    a wrong answer; every response ends with EOS."""
    records = next(task.batches())
    texts = [completion_text(record) if r < passes else " </solution> <answer> 0 </answer>"
             for record, passes in zip(records, passes_per_group) for r in range(task.cfg.grpo.num_rollouts)]
    ids = [task.tokenizer.encode(text) + [task.tokenizer.eos_id] for text in texts]
    width = task.cfg.grpo.max_new_tokens
    tokens = np.full((len(ids), width), task.tokenizer.pad_id, np.int32)
    for row, row_ids in enumerate(ids):
        tokens[row, :len(row_ids)] = row_ids
    lengths = np.array([len(row_ids) for row_ids in ids], np.int32)
    out = SampleOutput(tokens, lengths, np.zeros(tokens.shape, np.float32), np.zeros(tokens.shape, np.float32),
                       np.ones(len(ids), bool))
    state = types.SimpleNamespace(rng=jax.random.PRNGKey(0), params=None)
    return task.rollout(lambda *args: out, state, records)


def test_dropped_groups_are_masked_out_of_the_update():
    kept = _task(edge_filter=True, reward="authors_gated")
    plain = _task(reward="authors_gated")
    batch, metrics = _rollout(kept, [4, 2, 0])
    reference, plain_metrics = _rollout(plain, [4, 2, 0])
    assert metrics["verified_accuracy"] == pytest.approx(6 / 12)
    assert metrics["edge_kept_frac"] == pytest.approx(1 / 3) and metrics["edge_pass_rate_mean"] == pytest.approx(0.5)
    assert (metrics["edge_pass_rate_one"], metrics["edge_pass_rate_half_up"], metrics["edge_pass_rate_zero"]) == \
        pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert "edge_kept_frac" not in plain_metrics and plain_metrics["edge_pass_rate_mean"] == pytest.approx(0.5)
    rows_kept = np.repeat([False, True, False], 4)
    assert not batch["response_mask_nt"][~rows_kept].any() and not batch["advantages_n"][~rows_kept].any()
    np.testing.assert_array_equal(batch["response_mask_nt"][rows_kept], reference["response_mask_nt"][rows_kept])
    np.testing.assert_array_equal(batch["advantages_n"][rows_kept], reference["advantages_n"][rows_kept])
    assert reference["response_mask_nt"][~rows_kept].any()  # without the filter those rows do train


@pytest.mark.parametrize("override, message", [({"edge_pass": "reward"}, "grpo.edge_pass='reward'"),
                                               ({"edge_pass_low": 0.6, "edge_pass_high": 0.5}, "0 <= low < high")])
def test_bad_edge_settings(override, message):
    with pytest.raises(ConfigError, match=message):
        _task(**override)
