"""Next-token loss and log-prob helpers against a NumPy log-softmax reference with packed segments and padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax.objectives.logprobs import target_logprobs, token_entropy
from rlpjax.objectives.ntp import ntp_loss

B, T, V = 3, 9, 11


def numpy_log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (B, T, V)).astype(np.float32)
    tokens = rng.integers(0, V, (B, T)).astype(np.int32)
    segments = np.array([[1, 1, 1, 2, 2, 2, 2, 0, 0],
                         [1, 1, 1, 1, 1, 1, 1, 1, 1],
                         [1, 2, 2, 3, 3, 3, 0, 0, 0]], dtype=np.int32)
    loss_mask = (rng.random((B, T)) < 0.7).astype(np.float32)
    return logits, tokens, segments, loss_mask


def numpy_ntp(logits, tokens, segments, loss_mask, z_weight):
    logp = numpy_log_softmax(logits.astype(np.float64))
    logz = np.log(np.exp(logits.astype(np.float64)).sum(-1))
    nll_sum = z_sum = count = 0.0
    for b in range(B):
        for t in range(T - 1):
            if segments[b, t] == segments[b, t + 1] != 0:
                w = loss_mask[b, t + 1]
                nll_sum += -logp[b, t, tokens[b, t + 1]] * w
                z_sum += logz[b, t] ** 2 * w
                count += w
    return nll_sum / count, z_sum / count, count


@pytest.mark.parametrize("use_mask", [False, True])
def test_ntp_loss_matches_numpy(use_mask):
    logits, tokens, segments, loss_mask = make_batch()
    mask = loss_mask if use_mask else np.ones_like(loss_mask)
    nll, z, count = numpy_ntp(logits, tokens, segments, mask, 1e-3)
    loss, metrics = ntp_loss(logits, tokens, segments, z_loss_weight=1e-3, loss_mask_bt=mask if use_mask else None)
    np.testing.assert_allclose(loss, nll + 1e-3 * z, rtol=1e-5)
    np.testing.assert_allclose(metrics["nll"], nll, rtol=1e-5)
    np.testing.assert_allclose(metrics["z_loss"], z, rtol=1e-5)
    np.testing.assert_allclose(metrics["perplexity"], np.exp(nll), rtol=1e-5)
    np.testing.assert_allclose(metrics["num_tokens"], count)


def test_no_prediction_crosses_a_boundary_or_touches_padding():
    logits, tokens, segments, _ = make_batch(1)
    grad = jax.grad(lambda lg: ntp_loss(lg, tokens, segments)[0])(logits)
    counted = (segments[:, 1:] == segments[:, :-1]) & (segments[:, 1:] != 0)
    row_has_grad = np.abs(np.asarray(grad)[:, :-1]).sum(-1) > 0
    np.testing.assert_array_equal(row_has_grad, counted)
    np.testing.assert_array_equal(np.asarray(grad)[:, -1], 0.0)


def test_bfloat16_logits_are_reduced_in_float32():
    logits, tokens, segments, _ = make_batch(2)
    low = jnp.asarray(logits, jnp.bfloat16)
    loss, _ = ntp_loss(low, tokens, segments)
    want, _, _ = numpy_ntp(np.asarray(low.astype(jnp.float32)), tokens, segments, np.ones((B, T)), 0.0)
    assert loss.dtype == jnp.float32
    np.testing.assert_allclose(loss, want, rtol=1e-5)


def test_target_logprobs_and_entropy_with_temperature():
    logits, tokens, _, _ = make_batch(3)
    logp, logz = target_logprobs(logits, tokens, temperature=0.7)
    ref = numpy_log_softmax(logits.astype(np.float64) / 0.7)
    np.testing.assert_allclose(logp, np.take_along_axis(ref, tokens[..., None], -1)[..., 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logz, np.log(np.exp(logits.astype(np.float64) / 0.7).sum(-1)), rtol=1e-5)
    np.testing.assert_allclose(token_entropy(logits, temperature=0.7), -(np.exp(ref) * ref).sum(-1),
                               rtol=1e-4, atol=1e-5)
