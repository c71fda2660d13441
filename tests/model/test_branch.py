"""Branch mode: rows of one document share its prefix K/V; each row equals an independent run of doc[:t] + branch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from model_helpers import FAMILY_CONFIGS, random_model, random_tokens
from rlpjax.model import PrefixKV
from rlpjax.objectives.logprobs import target_logprobs


def _token_logprobs(logits, targets):
    return target_logprobs(logits, targets)[0]

DOC_LEN, BRANCH_LEN, BRANCHES = 7, 4, 3
PREFIX_LENGTHS = np.array([1, 4, 7, 7, 2, 5])
"""Per branch row (rows 0-2 belong to document 0, rows 3-5 to document 1): t = 1, middle and last included."""


def make_inputs(cfg, seed):
    """Documents [2, DOC_LEN] and branch tokens [2 * BRANCHES, BRANCH_LEN] as NumPy arrays (concrete under jit)."""
    docs_dt = np.asarray(random_tokens((2, DOC_LEN), cfg.vocab_size, seed))
    branches_rt = np.asarray(random_tokens((2 * BRANCHES, BRANCH_LEN), cfg.vocab_size, seed + 1))
    return docs_dt, branches_rt


def branch_logits_teacher_forced(model, docs_dt, branches_rt, prefix_lengths_r):
    """Branch logits [rows, branch_len, vocab]: prefix from a teacher-forced document pass, branches in one call."""
    _, kv = model(docs_dt, return_kv=True)
    prefix = PrefixKV.from_kv(kv.k, kv.v, prefix_lengths_r)
    logits_rtv, _ = model.extend(branches_rt, model.init_cache(branches_rt.shape[0], BRANCH_LEN), prefix=prefix)
    return logits_rtv


def independent_logits(model, docs_dt, branches_rt, prefix_lengths_r):
    """Reference: each row run alone (teacher-forced, right-padded) on doc[:t] + branch; returns branch logits.

    docs, branches and lengths must be concrete (the rows are assembled in NumPy).
    """
    rows, width = branches_rt.shape[0], DOC_LEN + BRANCH_LEN
    tokens = np.zeros((rows, width), np.int32)
    for r, t in enumerate(prefix_lengths_r):
        tokens[r, : t + BRANCH_LEN] = np.concatenate([docs_dt[r // BRANCHES, :t], branches_rt[r]])
    valid = (np.arange(width)[None] < (prefix_lengths_r + BRANCH_LEN)[:, None]).astype(np.int32)
    logits = model(jnp.asarray(tokens), None, jnp.asarray(valid))
    index = prefix_lengths_r[:, None] + np.arange(BRANCH_LEN)[None]
    return jnp.take_along_axis(logits, jnp.asarray(index)[..., None], axis=1)


@pytest.mark.parametrize("family", sorted(FAMILY_CONFIGS))
def test_teacher_forced_branches_match_independent_runs(family):
    model = random_model(FAMILY_CONFIGS[family], seed=7)
    docs_dt, branches_rt = make_inputs(model.cfg, seed=8)
    lengths = jnp.asarray(PREFIX_LENGTHS, jnp.int32)
    ours = nnx.jit(branch_logits_teacher_forced)(model, docs_dt, branches_rt, lengths)
    expected = nnx.jit(lambda m: independent_logits(m, docs_dt, branches_rt, PREFIX_LENGTHS))(model)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)


def test_decoded_branches_from_prefill_cache_match_independent_runs():
    model = random_model(FAMILY_CONFIGS["qwen3"], seed=9)
    docs_dt, branches_rt = make_inputs(model.cfg, seed=10)
    expected = independent_logits(model, docs_dt, branches_rt, PREFIX_LENGTHS)
    _, doc_cache = model.extend(docs_dt, model.init_cache(2, DOC_LEN + 3))  # prefix from a prefill cache
    prefix = PrefixKV.from_kv(doc_cache.k, doc_cache.v, jnp.asarray(PREFIX_LENGTHS, jnp.int32))
    step = nnx.jit(lambda m, tok, cache, prefix: m.extend(tok, cache, prefix=prefix))
    cache = model.init_cache(len(PREFIX_LENGTHS), BRANCH_LEN + 2)
    for i in range(BRANCH_LEN):
        logits_r1v, cache = step(model, branches_rt[:, i : i + 1], cache, prefix)
        np.testing.assert_allclose(logits_r1v[:, 0], expected[:, i], atol=1e-5, rtol=1e-5)


def test_gradient_through_prefix_matches_independent_run():
    model = random_model(FAMILY_CONFIGS["qwen2"], seed=11)
    docs_dt, branches_rt = make_inputs(model.cfg, seed=12)
    targets_rt = random_tokens(branches_rt.shape, model.cfg.vocab_size, seed=13)
    lengths = jnp.asarray(PREFIX_LENGTHS, jnp.int32)
    graphdef, state = nnx.split(model)

    def loss(logits_fn, state):
        logits = logits_fn(nnx.merge(graphdef, state), docs_dt, branches_rt, lengths)
        return jnp.sum(_token_logprobs(logits, targets_rt))

    ours = jax.jit(jax.grad(lambda s: loss(branch_logits_teacher_forced, s)))(state)
    expected = jax.jit(jax.grad(lambda s: loss(lambda *a: independent_logits(*a[:3], PREFIX_LENGTHS), s)))(state)
    for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(expected)):
        assert float(jnp.max(jnp.abs(want))) > 0
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4)
