"""The group filters, by hand: the edge-of-competence band (histogram, masking of dropped groups) and DAPO's dynamic
sampling (groups with equal rewards dropped, further prompts sampled, fillers masked), and the overlong shaping."""

import types

import jax
import numpy as np
import pytest

from rlpjax.config import Config, GRPOConfig
from rlpjax.config_io import ConfigError
from rlpjax.reasoning.format import completion_text
from rlpjax.sampling import SampleOutput
from rlpjax.reasoning.rewards import overlong_shaping
from rlpjax.train.tasks.grpo import GRPOTask, edge_filter, select_groups


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
    settings = dict(ops=(2,), templates=("A",), modes=("forward",), prompts_per_step=3, num_rollouts=4,
                    max_prompt_tokens=1024, max_new_tokens=512)
    return GRPOTask(Config(grpo=GRPOConfig(**settings | grpo)))


def _rollout(task, *passes_per_round):
    """task.rollout with a stub sampler: in sampling round k, rollout r of prompt b writes the gold completion when
    r < passes_per_round[k][b], else a wrong answer; every response ends with EOS."""
    stream = task.batches()
    records = next(stream)
    calls = []

    def sample(params, prompts, lengths, key):
        k = len(calls)
        calls.append(key)
        per_step = task.cfg.grpo.prompts_per_step
        round_records = [stream.problem(k * per_step + b) for b in range(per_step)]
        texts = [completion_text(record) if r < passes else " </solution> <answer> 0 </answer>"
                 for record, passes in zip(round_records, passes_per_round[k])
                 for r in range(task.cfg.grpo.num_rollouts)]
        ids = [task.tokenizer.encode(text) + [task.tokenizer.eos_id] for text in texts]
        width = task.cfg.grpo.max_new_tokens
        tokens = np.full((len(ids), width), task.tokenizer.pad_id, np.int32)
        for row, row_ids in enumerate(ids):
            tokens[row, :len(row_ids)] = row_ids
        lengths = np.array([len(row_ids) for row_ids in ids], np.int32)
        return SampleOutput(tokens, lengths, np.zeros(tokens.shape, np.float32), np.zeros(tokens.shape, np.float32),
                            np.ones(len(ids), bool))

    state = types.SimpleNamespace(rng=jax.random.PRNGKey(0), params=None)
    batch, metrics = task.rollout(sample, state, records)
    assert len({str(jax.random.key_data(key).tolist()) for key in calls}) == len(calls), "each round its own key"
    return batch, metrics, stream


def test_dropped_groups_are_masked_out_of_the_update():
    kept = _task(edge_filter=True, reward="authors_gated")
    plain = _task(reward="authors_gated")
    batch, metrics, _ = _rollout(kept, [4, 2, 0])
    reference, plain_metrics, _ = _rollout(plain, [4, 2, 0])
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


def test_select_groups_keeps_sampling_order_and_fills_with_dropped_groups():
    keep = np.array([False, True, False, True, True, False])
    assert select_groups(keep, 3, refill=False).tolist() == [0, 1, 2]
    assert select_groups(keep, 3, refill=True).tolist() == [1, 3, 4]
    assert select_groups(keep, 4, refill=True).tolist() == [1, 3, 4, 0]


def _source(task, stream, batch, rounds):
    """(round, prompt) each group of the update batch was sampled in, found by its prompt tokens."""
    per_step, rollouts = task.cfg.grpo.prompts_per_step, task.cfg.grpo.num_rollouts
    prompts, lengths = task.encode_prompts([stream.problem(i) for i in range(rounds * per_step)])
    return [next(divmod(i, per_step) for i, (prompt, n) in enumerate(zip(prompts, lengths))
                 if (batch["tokens_nt"][row, :n] == prompt[:n]).all())
            for row in range(0, len(batch["tokens_nt"]), rollouts)]


def test_dynamic_sampling_refills_groups_with_equal_rewards():
    """Round 0 has one group with signal (2 of 4 pass), round 1 two more, round 2 two more: the update takes the
    first three kept groups in sampling order, then the fourth of round 2, and the stream advances past every
    round so a resumed run continues after them."""
    task = _task(prompts_per_step=4, reward="outcome", dynamic_sampling=True, dynamic_sampling_rounds=3)
    batch, metrics, stream = _rollout(task, [4, 2, 0, 4], [2, 2, 0, 0], [0, 2, 2, 4])
    assert _source(task, stream, batch, 3) == [(0, 1), (1, 0), (1, 1), (2, 1)]
    assert batch["response_mask_nt"].any(axis=1).all() and stream.get_state() == {"index": 12}
    assert metrics["dynamic_rounds"] == 3 and metrics["dynamic_kept_frac"] == 1.0
    assert metrics["no_signal_group_frac"] == pytest.approx(7 / 12)  # over every sampled group
    assert metrics["verified_accuracy"] == pytest.approx((10 + 4 + 8) / 48)


def test_dynamic_sampling_out_of_rounds_masks_the_fillers():
    task = _task(prompts_per_step=4, reward="outcome", dynamic_sampling=True, dynamic_sampling_rounds=2)
    batch, metrics, stream = _rollout(task, [4, 2, 0, 4], [2, 0, 0, 0])
    assert _source(task, stream, batch, 2) == [(0, 1), (1, 0), (0, 0), (0, 2)]
    kept_n = np.repeat([True, True, False, False], 4)
    assert batch["response_mask_nt"][kept_n].any(axis=1).all() and not batch["response_mask_nt"][~kept_n].any()
    assert not batch["advantages_n"][~kept_n].any() and batch["advantages_n"][kept_n].any()
    assert metrics["dynamic_rounds"] == 2 and metrics["dynamic_kept_frac"] == 0.5 and stream.get_state()["index"] == 8


def test_overlong_shaping_matches_dapo_formula():
    """DAPO's Eq. 13, written out per length: 0 up to L_max - L_cache, then ((L_max - L_cache) - |y|) / L_cache."""
    max_len, buffer, penalty = 20, 5, 0.5
    lengths = np.arange(0, max_len + 1)
    want = [0.0 if n <= max_len - buffer else penalty * ((max_len - buffer) - n) / buffer for n in lengths]
    np.testing.assert_allclose(overlong_shaping(lengths, max_len, buffer, penalty), want, rtol=1e-6, atol=1e-7)
    assert overlong_shaping(lengths, max_len, buffer, penalty)[-1] == pytest.approx(-penalty)
    assert not overlong_shaping(lengths, max_len, 0, penalty).any()
    task = _task(reward="outcome", overlong_buffer=511, overlong_penalty=1.0)  # every response is penalised
    batch, metrics, _ = _rollout(task, [4, 0, 0])
    lengths_n = batch["response_mask_nt"].sum(axis=1)  # response tokens, the stop token included
    correct_n = np.repeat([1.0, 0.0, 0.0], 4)
    assert metrics["reward_mean"] == pytest.approx(np.mean(correct_n + overlong_shaping(lengths_n, 512, 511, 1.0)))
    assert metrics["reward_mean"] < 4 / 12
