"""The memory-bounded RLP step against independent computations: micro-batched rollouts equal one batch, chunked
log-probs equal unchunked ones, thought log-probs equal a NumPy softmax of a plain forward in both ratio modes
(with the `min_thought_tokens` mask), and accumulated RLP gradients equal one big batch's gradient."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rlpjax.config import ModelConfig, RLPConfig
from rlpjax.model.decoder import Decoder
from rlpjax.rlp.loss import make_rlp_loss_fn
from rlpjax.rlp.branches import thought_logprobs
from rlpjax.rlp.rollout import rollout
from rlpjax.rlp.settings import RolloutSettings
from rlpjax.train.state import init_train_state
from rlpjax.train.update import make_update_step
from rlp_helpers import documents

THINK, END_THINK, PAD = 30, 31, 0
CFG = ModelConfig(family="qwen3", vocab_size=32, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                  num_kv_heads=2, head_dim=8, qk_norm=True)
RS = RolloutSettings(positions_per_doc=3, group_size=2, position_strategy="uniform", max_thought_tokens=6,
                     temperature=0.8, top_p=1.0, top_k=0, horizon=2, think_id=THINK, end_think_id=END_THINK,
                     pad_id=PAD, with_reference=True, min_thought_tokens=2)
LENGTHS = [12, 3, 7, 4]  # the 3-token document has 2 valid positions of K=3: unequal thought counts per document
run_rollout = jax.jit(rollout, static_argnums=(0,), static_argnames="rs")


@pytest.fixture(scope="module")
def parts():
    graphdef, params = nnx.split(Decoder(CFG, rngs=nnx.Rngs(0)), nnx.Param)
    ema = jax.tree.map(lambda x: x * 0.9, params)  # a teacher (and reference) that differs from the policy
    batch = documents(LENGTHS)
    out = run_rollout(graphdef, params, ema, ema, batch, jax.random.PRNGKey(5), rs=RS)
    return graphdef, params, ema, batch, out


def _assert_same_rollout(a, b):
    np.testing.assert_array_equal(np.asarray(a["thoughts_bkgl"]), np.asarray(b["thoughts_bkgl"]))
    np.testing.assert_array_equal(np.asarray(a["positions_bk"]), np.asarray(b["positions_bk"]))
    # Same arithmetic on differently shaped arrays: XLA may reorder float32 sums (a few ulps of O(1) log-probs).
    for name in ("logp_old_bkgl", "logp_ref_bkgl", "s_pred_bkgh", "s_ema_bkh"):
        np.testing.assert_allclose(np.asarray(a[name]), np.asarray(b[name]), atol=2e-5, err_msg=name)


@pytest.mark.parametrize("microbatch_rows", [6, pytest.param(12, marks=pytest.mark.slow)])  # 6: one document a
# micro-batch, 12: two; the same code path, so the default run keeps one
def test_microbatched_rollout_equals_one_batch(parts, microbatch_rows):
    graphdef, params, ema, batch, whole = parts
    micro = run_rollout(graphdef, params, ema, ema, batch, jax.random.PRNGKey(5),
                        rs=dataclasses.replace(RS, microbatch_rows=microbatch_rows))
    _assert_same_rollout(micro, whole)


def test_chunked_logprobs_equal_one_projection(parts):
    """Chunks of 5 tokens (not dividing any axis: padded) against projecting every token at once."""
    graphdef, params, ema, batch, whole = parts
    unchunked = dataclasses.replace(RS, logits_chunk_tokens=0)
    chunked = dataclasses.replace(RS, logits_chunk_tokens=5)
    _assert_same_rollout(run_rollout(graphdef, params, ema, ema, batch, jax.random.PRNGKey(5), rs=chunked),
                         run_rollout(graphdef, params, ema, ema, batch, jax.random.PRNGKey(5), rs=unchunked))

    def grads(rs):
        loss_fn = make_rlp_loss_fn(rs, RLPConfig(group_size=RS.group_size))
        return jax.jit(jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), whole, None)[0]))(params)

    for a, b in zip(jax.tree.leaves(grads(chunked)), jax.tree.leaves(grads(unchunked))):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=1e-4)  # float32 sum order


@pytest.mark.parametrize("ratio_logprobs", ["sampling", "model"])
def test_thought_logprobs_equal_numpy_softmax_of_a_plain_forward(parts, ratio_logprobs):
    """Behaviour (sampler) and recomputed log-probs both equal log softmax(logits / T) of a plain forward over
    x_<t <think> c, with </think> banned before `min_thought_tokens` (T = 0.8 for "sampling", 1 for "model")."""
    graphdef, params, ema, batch, _ = parts
    rs = dataclasses.replace(RS, ratio_logprobs=ratio_logprobs)
    out = run_rollout(graphdef, params, ema, ema, batch, jax.random.PRNGKey(5), rs=rs)
    temperature = 0.8 if ratio_logprobs == "sampling" else 1.0
    tokens = np.asarray(batch["tokens"])
    thoughts, mask = np.asarray(out["thoughts_bkgl"]), np.asarray(out["thought_mask_bkgl"])
    B, K, G, L = thoughts.shape
    forward = jax.jit(lambda p, seq: nnx.merge(graphdef, p)(seq))
    recomputed = np.asarray(jax.jit(lambda p, b, pos, c: thought_logprobs(nnx.merge(graphdef, p), b, pos, c, rs)[0])(
        params, batch, out["positions_bk"], out["thoughts_bkgl"].reshape(-1, L))).reshape(B, K, G, L)
    for b in range(B):
        for k in range(K):
            t = int(out["positions_bk"][b, k])
            for g in range(G):
                n = int(mask[b, k, g].sum())
                assert n - int(not out["truncated_bkg"][b, k, g]) >= rs.min_thought_tokens  # |c| >= min
                seq = np.zeros((1, 12 + 1 + L), np.int32)  # right-padded to one width: one compiled forward
                seq[0, :t + 1 + n] = np.concatenate([tokens[b, :t], [THINK], thoughts[b, k, g, :n]])
                logits = np.asarray(forward(params, jnp.asarray(seq)), np.float64)[0, t:t + n] / temperature
                logits[:rs.min_thought_tokens, END_THINK] = -np.inf
                logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
                    - logits.max(-1, keepdims=True)
                expected = logp[np.arange(n), thoughts[b, k, g, :n]]
                # float32 forward vs float64 softmax of the same logits: a few ulps of O(1) values.
                np.testing.assert_allclose(out["logp_old_bkgl"][b, k, g, :n], expected, atol=3e-5)
                np.testing.assert_allclose(recomputed[b, k, g, :n], expected, atol=3e-5)


@pytest.mark.parametrize("accum", [4])  # one document per micro-batch; 2 is the same code path
def test_accumulated_rlp_gradient_equals_one_batch(parts, accum):
    """SGD with learning rate 1 makes the parameter change minus the gradient the step used; the documents hold
    unequal numbers of valid thoughts, so a mean of per-micro-batch means would differ."""
    graphdef, params, _, _, out = parts
    loss_fn = make_rlp_loss_fn(RS, RLPConfig(group_size=RS.group_size))
    expected = jax.jit(jax.grad(lambda p: loss_fn(nnx.merge(graphdef, p), out, None)[0]))(params)
    tx = optax.sgd(1.0)
    step = jax.jit(make_update_step(graphdef, loss_fn, tx, optax.constant_schedule(1.0), grad_accum_steps=accum))
    state = init_train_state(params, tx, seed=0, with_ema=False)
    new_state, metrics = step(state, out)
    assert float(metrics["loss_weight"]) == 22  # G = 2 thoughts at 4 x 3 positions, one of them padded
    for new, old, grad in zip(jax.tree.leaves(new_state.params), jax.tree.leaves(params), jax.tree.leaves(expected)):
        # Sums of per-thought terms in another order (float32): relative 1e-4 on O(1e-2) gradients.
        np.testing.assert_allclose(np.asarray(old - new), np.asarray(grad), atol=1e-6, rtol=1e-4)
