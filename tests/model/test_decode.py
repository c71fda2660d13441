"""Cached prefill + decode equal teacher-forced logits; packed rows equal separate documents."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from model_helpers import FAMILY_CONFIGS, random_model, random_tokens


@nnx.jit
def teacher_forced(model, tokens_bt, positions_bt, segment_ids_bt):
    return model(tokens_bt, positions_bt, segment_ids_bt)


@nnx.jit
def extend(model, tokens_bt, cache, num_new_b):
    return model.extend(tokens_bt, cache, num_new_b=num_new_b)


@pytest.mark.parametrize("family", sorted(FAMILY_CONFIGS))
def test_ragged_prefill_then_decode_matches_teacher_forced(family):
    cfg = FAMILY_CONFIGS[family]
    model = random_model(cfg, seed=3)
    total, prompt_lengths = 9, np.array([5, 2, 4])
    tokens_bt = random_tokens((3, total), cfg.vocab_size, seed=4)
    expected_btv = np.asarray(model(tokens_bt))

    prompt_width = int(prompt_lengths.max())
    prompts_bt = jnp.where(jnp.arange(prompt_width)[None, :] < prompt_lengths[:, None], tokens_bt[:, :prompt_width], 0)
    cache = model.init_cache(batch=3, max_len=12)
    logits_btv, cache = extend(model, prompts_bt, cache, jnp.asarray(prompt_lengths))
    for b, length in enumerate(prompt_lengths):
        np.testing.assert_allclose(logits_btv[b, :length], expected_btv[b, :length], atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(cache.lengths, prompt_lengths)

    for step in range(total - prompt_width):
        index_b = prompt_lengths + step
        next_bt = tokens_bt[np.arange(3), index_b][:, None]
        logits_btv, cache = extend(model, next_bt, cache, jnp.ones(3, jnp.int32))
        np.testing.assert_allclose(logits_btv[:, 0], expected_btv[np.arange(3), index_b], atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(cache.lengths, prompt_lengths + total - prompt_width)


@pytest.mark.parametrize("family", sorted(FAMILY_CONFIGS))
def test_packed_row_equals_separate_documents(family):
    cfg = FAMILY_CONFIGS[family]
    model = random_model(cfg, seed=5)
    lengths = [4, 6, 3]
    docs = [random_tokens((n,), cfg.vocab_size, seed=10 + i) for i, n in enumerate(lengths)]
    width = sum(lengths) + 2
    packed = jnp.concatenate(docs + [jnp.zeros(2, jnp.int32)])[None]
    segments = jnp.asarray(np.concatenate([np.full(n, i + 1) for i, n in enumerate(lengths)] + [np.zeros(2)]))[None]
    positions = jnp.asarray(np.concatenate([np.arange(n) for n in lengths] + [np.zeros(2)]))[None]
    packed_logits = np.asarray(teacher_forced(model, packed, positions.astype(jnp.int32), segments.astype(jnp.int32)))
    assert np.isfinite(packed_logits).all()  # padding rows attend to nothing but stay finite

    separate = jnp.stack([jnp.pad(d, (0, width - d.shape[0])) for d in docs])
    seg = jnp.asarray((np.arange(width)[None] < np.array(lengths)[:, None]).astype(np.int32))
    pos = jnp.broadcast_to(jnp.arange(width, dtype=jnp.int32), (3, width))
    separate_logits = np.asarray(teacher_forced(model, separate, pos, seg))
    start = 0
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(packed_logits[0, start:start + n], separate_logits[i, :n], atol=1e-5, rtol=1e-5)
        start += n
