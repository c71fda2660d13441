"""GRPO's ratio log-probs (`grpo.pg.ratio_logprobs`) and their chunked reduction (`grpo.pg.logits_chunk_tokens`).

Checked against independent computations: the sampler's behaviour log-probs and the update's recomputed ones equal
a NumPy log_softmax(logits / T) of a plain forward (T = the sampling temperature, or 1 for "model"); the chunked
loss and gradient equal the same loss written on full [rows, T, V] logits; the differentiable entropy's gradient
equals its closed form; no [rows, T, V] array is traced when the rows hold more tokens than a chunk.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import (Config, GRPOConfig, ModelConfig, PolicyGradientConfig, RunConfig,
                           SamplingConfig)
from rlpjax.config_io import ConfigError, resolve
from rlpjax.model.decoder import Decoder
from rlpjax.objectives.logprobs import hidden_logprobs, target_logprobs, token_entropy
from rlpjax.objectives.policy_gradient import policy_gradient_loss
from rlpjax.sampling import sample
from rlpjax.train.task import get_task
from rlpjax.train.tasks.grpo import GRPOTask, make_grpo_loss_fn, rollout_layout, sequence_logprobs

V = 261  # the byte tokenizer's vocabulary, so the task's own sampling settings (EOS 258, pad 256) apply
CFG = ModelConfig(family="qwen2", vocab_size=V, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                  num_kv_heads=2, head_dim=8, qkv_bias=True)
PAD = 256
TEMPERATURE = 0.7


def _grpo(entropy_coef: float = 0.0, **pg_overrides) -> GRPOConfig:
    """A GRPO section sampling at TEMPERATURE with a KL term; `pg_overrides` are PolicyGradientConfig fields."""
    return GRPOConfig(sampling=SamplingConfig(temperature=TEMPERATURE), max_new_tokens=6, entropy_coef=entropy_coef,
                      pg=PolicyGradientConfig(**{"kl_beta": 1e-3, **pg_overrides}))


@pytest.fixture(scope="module")
def model_parts():
    graphdef, params = nnx.split(Decoder(CFG, rngs=nnx.Rngs(0)))
    prompts_np = np.array([[40, 41, 42, 43, 44], [50, 51, PAD, PAD, PAD]], np.int32).repeat(3, 0)
    return graphdef, params, prompts_np, np.array([5, 2], np.int32).repeat(3)


def _rollout(model_parts, grpo: GRPOConfig):
    """6 responses sampled with the GRPO task's own `SamplingSettings`, in the task's sequence layout."""
    graphdef, params, prompts_np, lengths_n = model_parts
    task = GRPOTask(Config(model=CFG, grpo=grpo))
    out = jax.device_get(sample(graphdef, params, prompts_np, lengths_n, jax.random.PRNGKey(3), task.settings))
    batch = rollout_layout(prompts_np, lengths_n, out.tokens_bl, out.lengths_b, out.logprobs_model_bl, PAD)
    return task, out, batch


def _numpy_logprobs(graphdef, params, tokens_nt, targets_nt, temperature):
    """log_softmax(logits / temperature)[target] in float64 from one plain (logits-returning) forward."""
    scaled_ntv = np.asarray(nnx.merge(graphdef, params)(jnp.asarray(tokens_nt)), np.float64) / temperature
    top_nt1 = scaled_ntv.max(-1, keepdims=True)
    logp_ntv = scaled_ntv - top_nt1 - np.log(np.exp(scaled_ntv - top_nt1).sum(-1, keepdims=True))
    return np.take_along_axis(logp_ntv, targets_nt[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("ratio_logprobs, logprob_temperature", [("sampling", TEMPERATURE), ("model", 1.0)])
def test_behaviour_and_recomputed_logprobs_equal_numpy_softmax(model_parts, ratio_logprobs, logprob_temperature):
    """Sampled at T = 0.7: behaviour (sampler) and recomputed (update) log-probs both equal the NumPy log-softmax at
    0.7 ("sampling") or 1 ("model"), so the step-0 ratio is 1 and the KL to an identical reference is 0."""
    graphdef, params, _, _ = model_parts
    grpo = _grpo(ratio_logprobs=ratio_logprobs, logits_chunk_tokens=16)  # 6 rows x 11 columns: 5 chunks
    task, out, batch = _rollout(model_parts, grpo)
    assert task.settings.score_temperature == logprob_temperature and task.settings.temperature == TEMPERATURE
    model = nnx.merge(graphdef, params)
    recomputed_nt = np.asarray(jax.jit(lambda t, y: sequence_logprobs(model, t, y, grpo)[0])(
        batch["tokens_nt"], batch["targets_nt"]))
    expected_nt = _numpy_logprobs(graphdef, params, batch["tokens_nt"], batch["targets_nt"], logprob_temperature)
    mask = batch["response_mask_nt"]
    assert mask.sum() == out.lengths_b.sum() > 0
    # float32 forwards (cached decode, teacher-forced) against float64 softmax of float32 logits: a few ulps of
    # O(1-10) log-probs, scaled by 1 / 0.7.
    np.testing.assert_allclose(batch["logp_old_nt"][mask], expected_nt[mask], atol=3e-5)
    np.testing.assert_allclose(recomputed_nt[mask], expected_nt[mask], atol=3e-5)
    device_batch = dict(batch, logp_ref_nt=recomputed_nt, advantages_n=np.linspace(-1, 1, 6, dtype=np.float32),
                        truncated_n=~out.stopped_b)
    _, metrics = make_grpo_loss_fn(grpo)(model, device_batch, None)
    assert abs(float(metrics["ratio_mean"]) - 1) < 1e-4 and abs(float(metrics["kl_ref"])) < 1e-6


def _full_logits_loss(grpo: GRPOConfig, entropy_grad: bool):
    """The GRPO loss written on a plain forward's [rows, T, V] logits (no hidden states, no chunks)."""

    def loss(model, batch):
        logits_ntv = model(batch["tokens_nt"])
        logp_nt, _ = target_logprobs(logits_ntv, batch["targets_nt"], temperature=grpo.sampling.temperature)
        entropy_nt = token_entropy(logits_ntv if entropy_grad else jax.lax.stop_gradient(logits_ntv),
                                   temperature=grpo.sampling.temperature)
        return policy_gradient_loss(
            logp_nt, batch["logp_old_nt"], batch["response_mask_nt"], batch["advantages_n"], eps_low=grpo.pg.eps_low,
            eps_high=grpo.pg.eps_high, aggregation=grpo.pg.aggregation, kl_beta=grpo.pg.kl_beta,
            logp_ref_xl=batch["logp_ref_nt"], entropy_xl=entropy_nt, entropy_coef=grpo.entropy_coef,
            truncated_x=batch["truncated_n"])[0]

    return loss


def test_chunked_loss_and_gradient_equal_full_logits(model_parts):
    """Chunks of 5 tokens (66 tokens: padded) and one projection give the loss and gradient of the full-logits
    loss, entropy bonus included; dropping the entropy's gradient there changes the gradient well past the
    tolerance, so the bonus's gradient is really checked."""
    graphdef, params, _, _ = model_parts
    base = _grpo(entropy_coef=0.5, kl_beta=0.05)
    _, out, batch = _rollout(model_parts, base)
    rng = np.random.default_rng(0)
    shift_nt = lambda: rng.normal(0, 0.3, batch["logp_old_nt"].shape).astype(np.float32)  # noqa: E731
    batch = dict(batch, logp_old_nt=batch["logp_old_nt"] + shift_nt(), logp_ref_nt=batch["logp_old_nt"] + shift_nt(),
                 advantages_n=np.array([1.0, -0.5, -0.5, 0.7, 0.7, -1.4], np.float32), truncated_n=~out.stopped_b)

    def value_and_grad(loss):
        return jax.jit(jax.value_and_grad(lambda p: loss(nnx.merge(graphdef, p), batch)))(params)

    task_loss = lambda grpo: lambda m, b: make_grpo_loss_fn(grpo)(m, b, None)[0]  # noqa: E731
    expected_loss, expected_grad = value_and_grad(_full_logits_loss(base, entropy_grad=True))
    _, no_entropy_grad = value_and_grad(_full_logits_loss(base, entropy_grad=False))
    entropy_part = max(float(np.abs(np.asarray(a - b)).max())
                       for a, b in zip(jax.tree.leaves(expected_grad), jax.tree.leaves(no_entropy_grad)))
    assert entropy_part > 1e-3
    for chunk in (5, 0):
        chunked = dataclasses.replace(base, pg=dataclasses.replace(base.pg, logits_chunk_tokens=chunk))
        loss, grad = value_and_grad(task_loss(chunked))
        # Same float32 arithmetic per token, sums in another order: relative 1e-5 on an O(1) loss; gradients of
        # O(1e-2) to O(1): atol 1e-6 (far below entropy_part) plus rtol 1e-4.
        np.testing.assert_allclose(float(loss), float(expected_loss), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(expected_grad)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=1e-4)


def test_entropy_gradient_equals_closed_form():
    """d/dh of sum entropy(softmax(h W / T)) against the closed form W (-p (log p + H) / T), for 2 rows x 7 tokens
    in chunks of 2 columns (5 tokens // 2 rows; the last chunk padded); without `entropy_grad` the entropy has no
    gradient (the RLP default)."""
    rng = np.random.default_rng(1)
    h_rnd, w_dv = rng.normal(size=(2, 7, 4)), rng.normal(size=(4, 11))
    targets_rn = rng.integers(0, 11, (2, 7))
    project = lambda x: x @ jnp.asarray(w_dv, jnp.float32)  # noqa: E731

    def entropy_sum(h, entropy_grad):
        return hidden_logprobs(project, h, jnp.asarray(targets_rn), chunk_tokens=5, temperature=TEMPERATURE,
                               entropy_grad=entropy_grad)[1].sum()

    s_rnv = h_rnd @ w_dv / TEMPERATURE
    logp_rnv = s_rnv - s_rnv.max(-1, keepdims=True)
    logp_rnv -= np.log(np.exp(logp_rnv).sum(-1, keepdims=True))
    p_rnv = np.exp(logp_rnv)
    entropy_rn1 = -(p_rnv * logp_rnv).sum(-1, keepdims=True)
    expected_rnd = (-p_rnv * (logp_rnv + entropy_rn1) / TEMPERATURE) @ w_dv.T
    h = jnp.asarray(h_rnd, jnp.float32)
    # float32 against float64 on O(1) values: relative 1e-5 and a small absolute floor for entries near 0.
    np.testing.assert_allclose(jax.grad(entropy_sum)(h, True), expected_rnd, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(jax.grad(entropy_sum)(h, False), 0.0)


def _traced_shapes(jaxpr) -> list[tuple[int, ...]]:
    """Shapes of every value a jaxpr and its nested jaxprs (map bodies, remat, pjit, custom rules) produce."""
    shapes = []
    for eqn in jaxpr.eqns:
        shapes += [tuple(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape")]
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    shapes += _traced_shapes(inner)
    return shapes


def test_no_rows_by_time_by_vocab_array_in_the_update(model_parts):
    """The traced loss + gradient holds no array of rows * T * V elements with chunks of 16 < 66 tokens; the same
    trace with chunking off does (so the search can find one)."""
    graphdef, params, prompts_np, _ = model_parts
    rows, width = prompts_np.shape[0], prompts_np.shape[1] + 6
    batch = {"tokens_nt": jnp.zeros((rows, width), jnp.int32), "targets_nt": jnp.zeros((rows, width), jnp.int32),
             "response_mask_nt": jnp.ones((rows, width), bool), "logp_old_nt": jnp.zeros((rows, width)),
             "logp_ref_nt": jnp.zeros((rows, width)), "advantages_n": jnp.ones(rows),
             "truncated_n": jnp.zeros(rows, bool)}

    def largest_vocab_array(chunk):
        loss_fn = make_grpo_loss_fn(_grpo(logits_chunk_tokens=chunk, entropy_coef=0.01))
        jaxpr = jax.make_jaxpr(jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), batch, None)[0]))(params).jaxpr
        return max(int(np.prod(s)) for s in _traced_shapes(jaxpr) if s and s[-1] == V)

    assert largest_vocab_array(0) >= rows * width * V
    assert largest_vocab_array(16) < rows * width * V  # [chunk, V] logits and the [D, V] head remain


def test_chunks_keep_a_row_sharded_batch_local():
    """Rows sharded over 8 devices, the projection replicated: the chunked reduction and its gradient compile with
    no collective (each chunk takes columns of every row, so no device needs another's tokens)."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]), ("rows",))
    rows_sharded = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("rows"))
    w_dv = jnp.asarray(np.random.default_rng(2).normal(size=(4, 11)), jnp.float32)

    def loss(h_rnd, targets_rn):
        logp_rn, entropy_rn = hidden_logprobs(lambda x: x @ w_dv, h_rnd, targets_rn, chunk_tokens=16,
                                              temperature=TEMPERATURE, entropy_grad=True)
        return jnp.sum(logp_rn + entropy_rn)

    h_rnd = jax.device_put(jnp.ones((8, 10, 4)), rows_sharded)  # 16 // 8 = 2 columns per chunk: 5 chunks
    targets_rn = jax.device_put(jnp.zeros((8, 10), jnp.int32), rows_sharded)
    hlo = jax.jit(jax.grad(loss)).lower(h_rnd, targets_rn).compile().as_text()
    assert "while" in hlo  # the chunks really are a loop
    for collective in ("all-gather", "all-reduce", "reduce-scatter", "all-to-all", "collective-permute"):
        assert collective not in hlo, collective


def test_bad_ratio_logprobs_is_one_config_error():
    with pytest.raises(ConfigError, match=r"grpo\.pg\.ratio_logprobs='tempered'"):
        resolve(None, ["grpo.pg.ratio_logprobs=tempered"])
    with pytest.raises(ConfigError, match=r"grpo\.pg\.ratio_logprobs='tempered'"):
        get_task(Config(model=CFG, run=RunConfig(objective="grpo"), grpo=_grpo(ratio_logprobs="tempered")))
