"""Execution variants keep the function: scan over layers, rematerialisation, bf16 compute; log-probs; vocab growth."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from model_helpers import FAMILY_CONFIGS, random_model, random_tokens, with_cfg
from rlpjax.model import grow_vocab
from rlpjax.objectives.logprobs import target_logprobs


def _token_logprobs(logits, targets):
    return target_logprobs(logits, targets)[0]
from rlpjax.model.rope import apply_rope, default_inv_freq, rope_angles


forward = nnx.jit(lambda model, tokens_bt: model(tokens_bt))


@pytest.fixture(scope="module")
def base():
    model = random_model(FAMILY_CONFIGS["qwen3"], seed=21)
    tokens_bt = random_tokens((2, 9), model.cfg.vocab_size, seed=22)
    return model, tokens_bt, loss_and_grad(model, tokens_bt)


def loss_and_grad(model, tokens_bt):
    graphdef, state = nnx.split(model)

    def loss(state):
        logits = nnx.merge(graphdef, state)(tokens_bt[:, :-1])
        return -jnp.mean(_token_logprobs(logits, tokens_bt[:, 1:]))

    return jax.jit(jax.value_and_grad(loss))(state)


@pytest.mark.parametrize("changes", [dict(scan_layers=True), dict(remat_policy="full"), dict(remat_policy="dots"),
                                     dict(scan_layers=True, remat_policy="dots")])
def test_scan_and_remat_keep_logits_and_gradients(changes, base):
    model, tokens_bt, (expected_loss, expected_grad) = base
    got_loss, got_grad = loss_and_grad(with_cfg(model, **changes), tokens_bt)
    np.testing.assert_allclose(got_loss, expected_loss, rtol=1e-6)
    for got, want in zip(jax.tree.leaves(got_grad), jax.tree.leaves(expected_grad)):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-5)


def test_scan_layers_cache_mode_matches_loop(base):
    model, tokens_bt, _ = base
    scanned = with_cfg(model, scan_layers=True)
    logits_loop, cache_loop = model.extend(tokens_bt, model.init_cache(2, 12))
    logits_scan, cache_scan = scanned.extend(tokens_bt, scanned.init_cache(2, 12))
    np.testing.assert_allclose(logits_scan, logits_loop, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(cache_scan.k, cache_loop.k, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("param_dtype", ["float32", "bfloat16"])
def test_bf16_compute_runs_close_to_float32(param_dtype, base):
    model, tokens_bt, _ = base
    expected = model(tokens_bt)
    bf16 = with_cfg(model, compute_dtype="bfloat16", param_dtype=param_dtype)
    if param_dtype == "bfloat16":
        graphdef, state = nnx.split(bf16)
        bf16 = nnx.merge(graphdef, jax.tree.map(lambda a: a.astype(jnp.bfloat16), state))
    logits = bf16(tokens_bt)
    assert logits.dtype == jnp.float32
    assert np.isfinite(logits).all()
    assert float(jnp.max(jnp.abs(logits - expected))) < 0.1 * float(jnp.max(jnp.abs(expected)))


def test_token_logprobs_matches_numpy():
    logits = np.random.default_rng(0).normal(size=(2, 3, 7)).astype(np.float32)
    targets = np.random.default_rng(1).integers(0, 7, size=(2, 3))
    shifted = logits - logits.max(-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    expected = np.take_along_axis(log_softmax, targets[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(_token_logprobs(jnp.asarray(logits), jnp.asarray(targets)), expected, atol=1e-6)


def test_rope_matches_complex_rotation():
    """Rotate-half RoPE equals multiplying (x_i + j x_{i+D/2}) by exp(j * pos * theta^(-2i/D))."""
    x = np.random.default_rng(2).normal(size=(1, 5, 2, 8)).astype(np.float32)
    positions = np.array([[0, 1, 2, 7, 30]])
    cos, sin = rope_angles(jnp.asarray(positions), default_inv_freq(8, 500.0))
    got = np.asarray(apply_rope(jnp.asarray(x), cos, sin))
    freqs = 500.0 ** (-np.arange(0, 8, 2) / 8)
    rotation = np.exp(1j * positions[..., None, None] * freqs)
    z = (x[..., :4] + 1j * x[..., 4:]) * rotation
    np.testing.assert_allclose(got, np.concatenate([z.real, z.imag], axis=-1), atol=1e-5)


@pytest.mark.parametrize("family", ["llama", "qwen2"])  # untied and tied output heads
def test_grow_vocab_keeps_old_logits_and_adds_mean_rows(family):
    model = random_model(FAMILY_CONFIGS[family], seed=23)
    old_vocab = model.cfg.vocab_size
    tokens_bt = random_tokens((1, 6), old_vocab, seed=24)
    grown = grow_vocab(model, old_vocab + 2)
    assert grown.cfg.vocab_size == old_vocab + 2
    np.testing.assert_allclose(grown.embed_vd[...][old_vocab:], np.tile(model.embed_vd[...].mean(0), (2, 1)), atol=1e-6)
    logits_old, logits_new = forward(model, tokens_bt), forward(grown, tokens_bt)
    np.testing.assert_allclose(logits_new[..., :old_vocab], logits_old, atol=1e-5)
    np.testing.assert_allclose(logits_new[..., old_vocab], logits_old.mean(-1), atol=1e-4)
    new_tokens = jnp.asarray([[old_vocab, old_vocab + 1]])
    assert np.isfinite(forward(grown, new_tokens)).all()
