"""RLP rollouts against independent computations: branches vs plain prefill+decode, S_pred vs a plain forward,
behaviour log-probs vs the update's recomputation, and the shared-prefix layout vs the naive one."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.model.decoder import Decoder
from rlpjax.rlp.branches import thought_logprobs
from rlpjax.rlp.rollout import rollout, row_keys
from rlpjax.rlp.settings import RolloutSettings
from rlpjax.sampling import sample
from rlp_helpers import documents

THINK, END_THINK, PAD = 30, 31, 0
CFG = ModelConfig(family="qwen3", vocab_size=32, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                  num_kv_heads=2, head_dim=8, qk_norm=True)
RS = RolloutSettings(positions_per_doc=3, group_size=2, position_strategy="uniform", max_thought_tokens=5,
                     temperature=0.9, top_p=1.0, top_k=0, horizon=2, think_id=THINK, end_think_id=END_THINK,
                     pad_id=PAD)


@pytest.fixture(scope="module")
def parts():
    graphdef, params = nnx.split(Decoder(CFG, rngs=nnx.Rngs(0)))
    ema = jax.tree.map(lambda x: x * 0.9, params)  # a teacher that differs from the policy
    return graphdef, params, ema


@pytest.fixture(scope="module")
def shared_rollout(parts):
    graphdef, params, ema = parts
    batch = documents([12, 7, 4])
    key = jax.random.PRNGKey(3)
    return batch, key, jax.jit(rollout, static_argnums=(0,), static_argnames="rs")(graphdef, params, ema, None,
                                                                                    batch, key, rs=RS)


def _branch_prompts(batch, positions_bk, rs):
    """Each branch row's own prompt x_<t <think>, right-padded: the independent (non-shared) computation."""
    tokens = np.asarray(batch["tokens"])
    t_r = np.repeat(np.asarray(positions_bk).reshape(-1), rs.group_size)
    doc_r = np.arange(len(t_r)) // rs.branches_per_doc
    prompts = np.zeros((len(t_r), tokens.shape[1] + 1), np.int32)
    for row, (doc, t) in enumerate(zip(doc_r, t_r)):
        prompts[row, :t] = tokens[doc, :t]
        prompts[row, t] = THINK
    return prompts, t_r + 1, doc_r, t_r


def test_branches_equal_independent_prefill_and_decode(parts, shared_rollout):
    graphdef, params, _ = parts
    batch, key, out = shared_rollout
    prompts, prompt_lengths, _, t_r = _branch_prompts(batch, out["positions_bk"], RS)
    rows = len(t_r)
    keys = row_keys(jax.random.split(key)[1], rows)
    independent = sample(graphdef, params, jnp.asarray(prompts), jnp.asarray(prompt_lengths), keys, RS.sampling())
    np.testing.assert_array_equal(np.asarray(out["thoughts_bkgl"]).reshape(rows, -1),
                                  np.asarray(independent.tokens_bl))
    np.testing.assert_allclose(np.asarray(out["logp_old_bkgl"]).reshape(rows, -1),
                               np.asarray(independent.logprobs_model_bl), atol=2e-5)


def test_first_and_last_positions(parts):
    """t = 1 (a 2-token document) and t = length - 1 (strategy "last") against the independent run."""
    graphdef, params, ema = parts
    rs = dataclasses.replace(RS, positions_per_doc=1, position_strategy="last")
    batch = documents([2, 12, 9])
    key = jax.random.PRNGKey(11)
    out = jax.jit(rollout, static_argnums=(0,), static_argnames="rs")(graphdef, params, ema, None, batch, key, rs=rs)
    np.testing.assert_array_equal(np.asarray(out["positions_bk"])[:, 0], [1, 11, 8])
    prompts, prompt_lengths, _, _ = _branch_prompts(batch, out["positions_bk"], rs)
    independent = sample(graphdef, params, jnp.asarray(prompts), jnp.asarray(prompt_lengths),
                         row_keys(jax.random.split(key)[1], 6), rs.sampling())
    np.testing.assert_array_equal(np.asarray(out["thoughts_bkgl"]).reshape(6, -1), np.asarray(independent.tokens_bl))


def _padded_forward(model, sequences):
    """log-softmax of one jitted teacher-forced pass over right-padded sequences: [rows, max_len, vocab]."""
    width = max(len(seq) for seq in sequences)
    tokens = np.zeros((len(sequences), width), np.int32)
    segments = np.zeros((len(sequences), width), np.int32)
    for row, seq in enumerate(sequences):
        tokens[row, :len(seq)], segments[row, :len(seq)] = seq, 1
    forward = jax.jit(lambda t, s: jax.nn.log_softmax(model(t, None, s), axis=-1))
    return np.asarray(forward(jnp.asarray(tokens), jnp.asarray(segments)))


def test_scores_equal_plain_teacher_forced_forward(parts, shared_rollout):
    """S_pred = log p(x_{t+j} | x_<t <think> c </think> x_t..x_{t+j-1}); S_ema = log p_ema(x_{t+j} | x_<t+j)."""
    graphdef, params, ema = parts
    batch, _, out = shared_rollout
    tokens, lengths = np.asarray(batch["tokens"]), np.asarray(batch["lengths"])
    thoughts, mask = np.asarray(out["thoughts_bkgl"]), np.asarray(out["thought_mask_bkgl"])
    B, K, G, _ = thoughts.shape
    teacher_logp = _padded_forward(nnx.merge(graphdef, ema), [tokens[b, :lengths[b]] for b in range(B)])
    branches, where = [], []
    for b in range(B):
        for k in range(K):
            t = int(out["positions_bk"][b, k])
            for j in range(RS.horizon):
                if t + j < lengths[b]:
                    np.testing.assert_allclose(float(out["s_ema_bkh"][b, k, j]),
                                               teacher_logp[b, t + j - 1, tokens[b, t + j]], atol=2e-5)
                assert bool(out["horizon_mask_bkh"][b, k, j]) == (t + j < lengths[b])
            for g in range(G):
                thought = [int(c) for c, m in zip(thoughts[b, k, g], mask[b, k, g]) if m and c != END_THINK]
                branches.append(list(tokens[b, :t]) + [THINK] + thought + [END_THINK]
                                + list(tokens[b, t:min(t + RS.horizon, lengths[b])]))
                where.append((b, k, g, t, t + 1 + len(thought)))  # the index of </think>
    policy_logp = _padded_forward(nnx.merge(graphdef, params), branches)
    for row, (b, k, g, t, end) in enumerate(where):
        for j in range(RS.horizon):
            if t + j < lengths[b]:
                np.testing.assert_allclose(float(out["s_pred_bkgh"][b, k, g, j]),
                                           policy_logp[row, end + j, tokens[b, t + j]], atol=2e-5)


def test_behaviour_logprobs_equal_recomputed_before_update(parts, shared_rollout):
    graphdef, params, _ = parts
    batch, _, out = shared_rollout
    thoughts = out["thoughts_bkgl"]
    B, K, G, L = thoughts.shape
    recompute = jax.jit(lambda p, b, pos, c: thought_logprobs(nnx.merge(graphdef, p), b, pos, c, RS)[0])
    logp_rl = recompute(params, batch, out["positions_bk"], thoughts.reshape(B * K * G, L))
    mask = np.asarray(out["thought_mask_bkgl"]).reshape(B * K * G, L)
    np.testing.assert_allclose(np.asarray(logp_rl)[mask], np.asarray(out["logp_old_bkgl"]).reshape(-1, L)[mask],
                               atol=2e-5)


def test_naive_layout_gives_the_same_rollout(parts, shared_rollout):
    graphdef, params, ema = parts
    batch, key, shared = shared_rollout
    naive = jax.jit(rollout, static_argnums=(0,), static_argnames="rs")(
        graphdef, params, ema, None, batch, key, rs=dataclasses.replace(RS, shared_prefix=False))
    np.testing.assert_array_equal(np.asarray(naive["thoughts_bkgl"]), np.asarray(shared["thoughts_bkgl"]))
    for name in ("logp_old_bkgl", "s_pred_bkgh", "s_ema_bkh"):
        np.testing.assert_allclose(np.asarray(naive[name]), np.asarray(shared[name]), atol=2e-5, err_msg=name)


def test_update_gradient_is_identical_in_both_layouts(parts, shared_rollout):
    """The shared-prefix update differentiates through the prefix exactly like re-encoding it per branch."""
    from rlpjax.config import RLPConfig
    from rlpjax.rlp.loss import make_rlp_loss_fn

    graphdef, params, _ = parts
    _, _, out = shared_rollout

    def grads(rs):
        loss_fn = make_rlp_loss_fn(rs, RLPConfig(group_size=RS.group_size))
        return jax.jit(jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), out, None)[0]))(params)

    shared, naive = grads(RS), grads(dataclasses.replace(RS, shared_prefix=False))
    for a, b in zip(jax.tree.leaves(shared), jax.tree.leaves(naive)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=1e-4)
