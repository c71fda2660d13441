"""The GRPO task's wiring: sequence layout, loss_fn vs a NumPy reference, step-0 identities, problem stream, FLOPs."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax import compute
from rlpjax.config import Config, GRPOConfig, ModelConfig, PolicyGradientConfig
from rlpjax.data.rl_problems import ProblemStream
from rlpjax.model.decoder import Decoder
from rlpjax.objectives.advantages import group_advantages
from rlpjax.sampling import SamplingSettings, sample
from rlpjax.train.tasks.grpo import GRPOTask, make_grpo_loss_fn, rollout_layout, sequence_logprobs

CFG = ModelConfig(family="qwen2", vocab_size=29, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                  num_kv_heads=2, head_dim=8, qkv_bias=True)
PAD, STOP = 0, 3


def test_rollout_layout_by_hand():
    prompts = np.array([[5, 6, 7, PAD], [9, PAD, PAD, PAD]])
    responses = np.array([[8, 4, PAD], [1, 2, 3]])
    logp = np.array([[-0.1, -0.2, 0.0], [-0.3, -0.4, -0.5]], np.float32)
    out = rollout_layout(prompts, np.array([3, 1]), responses, np.array([2, 3]), logp, PAD)
    np.testing.assert_array_equal(out["tokens_nt"], [[5, 6, 7, 8, 4, 0, 0], [9, 1, 2, 3, 0, 0, 0]])
    np.testing.assert_array_equal(out["targets_nt"], [[6, 7, 8, 4, 0, 0, 0], [1, 2, 3, 0, 0, 0, 0]])
    np.testing.assert_array_equal(out["response_mask_nt"], [[0, 0, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0]])
    np.testing.assert_allclose(out["logp_old_nt"], [[0, 0, -0.1, -0.2, 0, 0, 0], [-0.3, -0.4, -0.5, 0, 0, 0, 0]])


@pytest.fixture(scope="module")
def rollout():
    """A sampled rollout of 2 prompts x 3 responses from a tiny random model, in the task's layout."""
    graphdef, params = nnx.split(Decoder(CFG, rngs=nnx.Rngs(0)))
    prompts = np.array([[4, 5, 6, 7, 8], [9, 10, PAD, PAD, PAD]], np.int32).repeat(3, 0)
    lengths = np.array([5, 2], np.int32).repeat(3)
    settings = SamplingSettings(max_new_tokens=6, temperature=1.0, stop_tokens=(STOP,), pad_id=PAD)
    out = jax.device_get(sample(graphdef, params, prompts, lengths, jax.random.PRNGKey(3), settings))
    batch = rollout_layout(prompts, lengths, out.tokens_bl, out.lengths_b, out.logprobs_model_bl, PAD)
    return graphdef, params, prompts, lengths, out, batch


def _reference_logprobs(graphdef, params, prompt, response):
    """log p(response[i] | prompt + response[:i]) from one forward over that row alone, in NumPy."""
    logits = np.asarray(nnx.merge(graphdef, params)(jnp.asarray([list(prompt) + list(response)], jnp.int32))[0],
                        np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(
        -1, keepdims=True)
    return np.array([logp[len(prompt) - 1 + i, tok] for i, tok in enumerate(response)])


def test_sampler_logprobs_equal_recomputed_at_step0(rollout):
    graphdef, params, _, _, out, batch = rollout
    model = nnx.merge(graphdef, params)
    recomputed = np.asarray(sequence_logprobs(model, batch["tokens_nt"], batch["targets_nt"], GRPOConfig())[0])
    mask = batch["response_mask_nt"]
    assert mask.sum() == out.lengths_b.sum() > 0
    np.testing.assert_allclose(recomputed[mask], batch["logp_old_nt"][mask], atol=2e-5)


@pytest.mark.parametrize("aggregation", ["token_mean", "seq_mean", "constant_length"])
def test_loss_fn_matches_numpy_reference(rollout, aggregation):
    graphdef, params, prompts, lengths, out, batch = rollout
    rewards_br = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]], np.float32)
    rng = np.random.default_rng(0)
    shift_old = rng.normal(0, 0.3, batch["logp_old_nt"].shape).astype(np.float32)  # ratios away from 1, some clipped
    shift_ref = rng.normal(0, 0.3, batch["logp_old_nt"].shape).astype(np.float32)
    cfg = GRPOConfig(pg=PolicyGradientConfig(aggregation=aggregation, kl_beta=0.05, eps_low=0.2, eps_high=0.2),
                     entropy_coef=0.0, max_new_tokens=6)  # the rollout's cap: the "constant_length" normaliser
    device_batch = dict(batch, logp_old_nt=batch["logp_old_nt"] + shift_old, logp_ref_nt=batch["logp_old_nt"] + shift_ref,
                        advantages_n=np.asarray(group_advantages(rewards_br, "group_mean", normalize_std=True)).reshape(-1),
                        truncated_n=~out.stopped_b)
    loss, metrics = make_grpo_loss_fn(cfg)(nnx.merge(graphdef, params), device_batch, None)

    # Independent reference: per response, its own forward pass, the advantage from the group, GRPO per token.
    mean, std = rewards_br.mean(1, keepdims=True), rewards_br.std(1, ddof=1, keepdims=True)
    advantages = ((rewards_br - mean) / (std + 1e-6)).reshape(-1)
    pg_rows, kl_rows, ratios = [], [], []
    for n in range(len(prompts)):
        length, p = int(out.lengths_b[n]), int(lengths[n])
        new = _reference_logprobs(graphdef, params, prompts[n, :p], out.tokens_bl[n, :length])
        columns = np.arange(p - 1, p - 1 + length)  # where the layout keeps this response's log-probs
        old = out.logprobs_model_bl[n, :length] + shift_old[n, columns]
        ref = out.logprobs_model_bl[n, :length] + shift_ref[n, columns]
        ratio = np.exp(new - old)
        pg_rows.append(-np.minimum(ratio * advantages[n], np.clip(ratio, 0.8, 1.2) * advantages[n]))
        kl_rows.append(np.exp(ref - new) - (ref - new) - 1)
        ratios.append(ratio)
    agg = {"token_mean": lambda rows: np.concatenate(rows).mean(),
           "seq_mean": lambda rows: np.mean([r.mean() for r in rows]),
           "constant_length": lambda rows: np.concatenate(rows).sum() / (len(rows) * 6)}[aggregation]
    np.testing.assert_allclose(float(loss), agg(pg_rows) + 0.05 * agg(kl_rows), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(metrics["kl_ref"]), agg(kl_rows), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(metrics["ratio_mean"]), np.concatenate(ratios).mean(), rtol=1e-4)
    assert float(metrics["num_tokens"]) == out.lengths_b.sum()


def test_ratio_one_and_kl_zero_at_step0(rollout):
    graphdef, params, _, _, out, batch = rollout
    model = nnx.merge(graphdef, params)
    ref = np.asarray(sequence_logprobs(model, batch["tokens_nt"], batch["targets_nt"], GRPOConfig())[0])
    device_batch = dict(batch, logp_ref_nt=ref, advantages_n=np.linspace(-1, 1, 6, dtype=np.float32),
                        truncated_n=~out.stopped_b)
    _, metrics = make_grpo_loss_fn(GRPOConfig(pg=PolicyGradientConfig(kl_beta=1e-3)))(model, device_batch, None)
    assert abs(float(metrics["ratio_mean"]) - 1) < 1e-4
    assert abs(float(metrics["kl_ref"])) < 1e-6
    assert float(metrics["clip_frac_low"]) == float(metrics["clip_frac_high"]) == 0.0


def test_problem_stream_resumes_exactly():
    cfg = GRPOConfig(ops=(2, 3), templates=("A", "B"), prompts_per_step=3, seed=7)
    stream = ProblemStream(cfg)
    first = [next(stream) for _ in range(2)]
    state = json.loads(json.dumps(stream.get_state()))
    expected = next(stream)
    resumed = ProblemStream(cfg)
    resumed.set_state(state)
    assert [r["id"] for r in next(resumed)] == [r["id"] for r in expected]
    ids = [r["id"] for batch in first + [expected] for r in batch]
    assert len(set(ids)) > 1 and {r["op"] for batch in first for r in batch} <= {2, 3}
    assert [r["id"] for r in next(ProblemStream(GRPOConfig(ops=(2, 3), templates=("A", "B"), prompts_per_step=3,
                                                           seed=8)))] != [r["id"] for r in first[0]]


def test_problem_pool_reads_the_streams_first_problems_in_epochs():
    """problem_pool=5 at 3 prompts a step: prompts 0..8 are problems 0 1 2 3 4 0 1 2 3 of the endless stream."""
    base = dict(ops=(2, 3), templates=("A", "B"), prompts_per_step=3, seed=7)
    endless = ProblemStream(GRPOConfig(**base))
    first = [r["id"] for _ in range(2) for r in next(endless)][:5]
    pooled = ProblemStream(GRPOConfig(**base, problem_pool=5))
    assert [r["id"] for _ in range(3) for r in next(pooled)] == first + first[:4]
    assert len(set(first)) == 5


def test_step_flops_equal_the_paper_formula_with_defaults():
    grpo = GRPOConfig(prompts_per_step=8, num_rollouts=6, max_prompt_tokens=64, max_new_tokens=64,
                      pg=PolicyGradientConfig(kl_beta=1e-3))
    task = GRPOTask(Config(model=CFG, grpo=grpo))
    flops, tokens = task.flops_and_tokens_per_step()
    assert tokens == 8 * 6 * 128
    assert flops == pytest.approx(compute.grpo_step_flops(CFG, 8, 6, 128, rollout_cost_factor=1.0).total)
    more_epochs = PolicyGradientConfig(ppo_epochs=2, kl_beta=0.0)
    more = GRPOTask(Config(model=CFG, grpo=dataclasses.replace(grpo, pg=more_epochs)))
    assert more.passes_per_token() == 1 + 0 + 6
