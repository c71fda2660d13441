"""The sampler: log-probs equal a teacher-forced recomputation, truncation matches NumPy, stop tokens and caps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.model.decoder import Decoder
from rlpjax.sampling import SamplingSettings, sample, sampling_logits

CFG = ModelConfig(family="qwen3", vocab_size=37, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                  num_kv_heads=2, head_dim=8, qk_norm=True)


@pytest.fixture(scope="module")
def model_parts():
    graphdef, params = nnx.split(Decoder(CFG, rngs=nnx.Rngs(0)))
    return graphdef, params


@nnx.jit
def _forward(model, tokens_bt):
    """[B, T, V] logits of one plain forward, jitted: run op by op, each new length costs seconds on a 2-core CPU."""
    return model(tokens_bt)


def _teacher_forced_logprobs(graphdef, params, prompt, generated):
    """log p(generated[i] | prompt + generated[:i]) by one plain forward over the whole sequence."""
    model = nnx.merge(graphdef, params)
    seq = jnp.asarray(list(prompt) + list(generated), jnp.int32)[None]
    logp = jax.nn.log_softmax(_forward(model, seq)[0], axis=-1)
    start = len(prompt) - 1
    return np.array([logp[start + i, tok] for i, tok in enumerate(generated)])


def test_ragged_prompts_model_logprobs_match_teacher_forcing(model_parts):
    graphdef, params = model_parts
    prompts = [[3, 5, 7, 9, 11], [2, 4], [8, 1, 6]]
    lengths = np.array([len(p) for p in prompts], np.int32)
    padded = np.zeros((3, 5), np.int32)
    for row, p in enumerate(prompts):
        padded[row, :len(p)] = p
    settings = SamplingSettings(max_new_tokens=6, temperature=0.8, top_k=10)
    out = sample(graphdef, params, jnp.asarray(padded), jnp.asarray(lengths), jax.random.PRNGKey(1), settings)
    assert out.tokens_bl.shape == (3, 6)
    for row, prompt in enumerate(prompts):
        n = int(out.lengths_b[row])
        generated = np.asarray(out.tokens_bl[row, :n])
        expected = _teacher_forced_logprobs(graphdef, params, prompt, generated)
        np.testing.assert_allclose(np.asarray(out.logprobs_model_bl[row, :n]), expected, atol=2e-5)


def test_greedy_is_argmax_and_stops_at_stop_token(model_parts):
    graphdef, params = model_parts
    model = nnx.merge(graphdef, params)
    prompt = [4, 9, 2]
    seq = list(prompt)
    for _ in range(5):
        seq.append(int(jnp.argmax(_forward(model, jnp.asarray(seq, jnp.int32)[None])[0, -1])))
    greedy = seq[len(prompt):]
    stop = greedy[2]
    settings = SamplingSettings(max_new_tokens=5, temperature=0.0, stop_tokens=(stop,), pad_id=0)
    out = sample(graphdef, params, jnp.asarray([prompt], jnp.int32), jnp.asarray([3], jnp.int32),
                 jax.random.PRNGKey(0), settings)
    first_stop = greedy.index(stop)
    assert int(out.lengths_b[0]) == first_stop + 1
    assert bool(out.stopped_b[0])
    np.testing.assert_array_equal(np.asarray(out.tokens_bl[0, :first_stop + 1]), greedy[:first_stop + 1])
    assert np.all(np.asarray(out.tokens_bl[0, first_stop + 1:]) == 0)


def test_cap_without_stop_is_reported(model_parts):
    graphdef, params = model_parts
    settings = SamplingSettings(max_new_tokens=4, temperature=1.0, stop_tokens=())
    out = sample(graphdef, params, jnp.asarray([[1, 2]], jnp.int32), jnp.asarray([2], jnp.int32),
                 jax.random.PRNGKey(3), settings)
    assert int(out.lengths_b[0]) == 4 and not bool(out.stopped_b[0])


def test_sampling_logprobs_are_tempered_truncated_distribution(model_parts):
    graphdef, params = model_parts
    settings = SamplingSettings(max_new_tokens=3, temperature=0.7, top_k=8, top_p=0.9)
    out = sample(graphdef, params, jnp.asarray([[5, 6, 7]], jnp.int32), jnp.asarray([3], jnp.int32),
                 jax.random.PRNGKey(5), settings)
    model = nnx.merge(graphdef, params)
    seq = [5, 6, 7] + [int(t) for t in out.tokens_bl[0]]
    logits = np.asarray(_forward(model, jnp.asarray(seq, jnp.int32)[None])[0], np.float64)
    for i in range(3):
        expected = _numpy_truncated_logprobs(logits[2 + i], 0.7, 8, 0.9)[seq[3 + i]]
        np.testing.assert_allclose(float(out.logprobs_sampling_bl[0, i]), expected, atol=1e-4)


def _numpy_truncated_logprobs(logits, temperature, top_k, top_p):
    z = logits / temperature
    keep = np.zeros_like(z, bool)
    keep[np.argsort(-z)[:top_k]] = True
    z = np.where(keep, z, -np.inf)
    order = np.argsort(-z)
    probs = np.exp(z[order] - z[order[0]])
    probs /= probs.sum()
    before = np.cumsum(probs) - probs
    nucleus = order[before < top_p]
    kept = np.full_like(z, -np.inf)
    kept[nucleus] = z[nucleus]
    return kept - (np.log(np.sum(np.exp(kept[nucleus] - kept[nucleus].max()))) + kept[nucleus].max())


def test_sampling_logits_match_numpy_truncation():
    logits = np.random.default_rng(0).normal(size=(4, 50)).astype(np.float32)
    settings = SamplingSettings(max_new_tokens=1, temperature=1.3, top_k=12, top_p=0.8)
    ours = np.asarray(jax.nn.log_softmax(sampling_logits(jnp.asarray(logits), settings), axis=-1))
    for row in range(4):
        expected = _numpy_truncated_logprobs(logits[row].astype(np.float64), 1.3, 12, 0.8)
        finite = np.isfinite(expected)
        np.testing.assert_array_equal(np.isfinite(ours[row]), finite)
        np.testing.assert_allclose(ours[row][finite], expected[finite], atol=1e-5)


def test_per_row_keys_sample_the_same_in_any_split(model_parts):
    """With one key per row, sampling rows 0-1 and 2-3 separately gives what sampling all four at once gives."""
    graphdef, params = model_parts
    prompts = jnp.asarray([[3, 5, 7], [2, 4, 0], [8, 1, 6], [9, 0, 0]], jnp.int32)
    lengths = jnp.asarray([3, 2, 3, 1], jnp.int32)
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.PRNGKey(4), jnp.arange(4))
    settings = SamplingSettings(max_new_tokens=6, temperature=1.0)
    whole = sample(graphdef, params, prompts, lengths, keys, settings)
    parts = [sample(graphdef, params, prompts[i:i + 2], lengths[i:i + 2], keys[i:i + 2], settings) for i in (0, 2)]
    np.testing.assert_array_equal(np.asarray(whole.tokens_bl), np.concatenate([p.tokens_bl for p in parts]))
    other = sample(graphdef, params, prompts, lengths, keys[::-1], settings)
    assert not np.array_equal(np.asarray(other.tokens_bl), np.asarray(whole.tokens_bl))  # the keys matter


def test_min_new_tokens_masks_the_stop_token(model_parts):
    """Greedy decoding with the stop token set to the greedy first token: it stops at once without the mask, and
    with min_new_tokens=3 the first 3 tokens are not the stop token and equal the greedy choice among the rest."""
    graphdef, params = model_parts
    model = nnx.merge(graphdef, params)
    prompt = jnp.asarray([[3, 5, 7]], jnp.int32)
    first = int(jnp.argmax(_forward(model, prompt)[0, -1]))
    settings = SamplingSettings(max_new_tokens=6, temperature=0.0, stop_tokens=(first,))
    free = sample(graphdef, params, prompt, jnp.asarray([3]), jax.random.PRNGKey(0), settings)
    assert int(free.lengths_b[0]) == 1 and bool(free.stopped_b[0])
    masked = sample(graphdef, params, prompt, jnp.asarray([3]), jax.random.PRNGKey(0),
                    SamplingSettings(max_new_tokens=6, temperature=0.0, stop_tokens=(first,), min_new_tokens=3))
    tokens = [int(t) for t in masked.tokens_bl[0]]
    assert first not in tokens[:3]
    seq = [3, 5, 7]
    for token in tokens[:3]:  # independent greedy decode with the stop token's logit removed
        logits = np.array(_forward(model, jnp.asarray([seq], jnp.int32))[0, -1])
        logits[first] = -np.inf
        assert token == int(np.argmax(logits))
        seq.append(token)
