"""Held-out NLL by op (`eval/nll.py`) against each document scored alone, unpadded, with a float64 log-softmax."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.data import load_tokenizer
from rlpjax.eval.loading import LoadedModel
from rlpjax.eval.nll import NLL_BATCH, nll_by_op
from rlpjax.model.decoder import Decoder
from rlpjax.reasoning.corpora import build_eval_set
from rlpjax.reasoning.format import document_text

TINY = ModelConfig(family="llama", vocab_size=261, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                   num_kv_heads=2, head_dim=8)


@pytest.fixture(scope="module")
def loaded():
    graphdef, params = nnx.split(Decoder(TINY, rngs=nnx.Rngs(3)), nnx.Param)
    return LoadedModel(graphdef, params, TINY, load_tokenizer("byte"), add_bos=True, source="tiny")


def _reference(loaded, problems, seq_len):
    """(summed nats, tokens) per op: one forward per document of exactly its own tokens, log-softmax in float64.

    The forward is jitted (one compile per document length) because run op by op it costs about two minutes here.
    """
    model, tok = nnx.merge(loaded.graphdef, loaded.params), loaded.tokenizer
    forward = nnx.jit(lambda m, ids: m(ids[None], jnp.arange(ids.shape[0])[None],
                                       jnp.ones((1, ids.shape[0]), jnp.int32))[0])
    sums = {}
    for problem in problems:
        ids = np.asarray([tok.bos_id] + tok.encode(document_text(problem)) + [tok.eos_id], np.int32)[:seq_len]
        logits = np.asarray(forward(model, ids), np.float64)
        logp = logits - logits.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        nats = -logp[np.arange(len(ids) - 1), ids[1:]].sum()
        total, count = sums.get(problem["op"], (0.0, 0))
        sums[problem["op"]] = (total + nats, count + len(ids) - 1)
    return sums


@pytest.mark.parametrize("seq_len", [None, 96])
def test_nll_by_op_equals_documents_scored_alone(loaded, seq_len):
    problems = build_eval_set([2, 3], ["A"], ["forward"], NLL_BATCH + 3, seed=1)  # 11 per op: a partial batch
    overall, by_op = nll_by_op(loaded, problems, seq_len)
    longest = max(len(loaded.tokenizer.encode(document_text(p))) + 2 for p in problems)
    assert seq_len is None or longest > seq_len, "the cut case must cut some documents"
    reference = _reference(loaded, problems, seq_len or longest)
    # float32 forward passes of different padded shapes: sums of a few thousand terms agree to ~1e-6 relative on
    # any CPU; 1e-4 leaves room for XLA's per-CPU accumulation orders.
    assert sorted(by_op) == [2, 3]
    for op, (nats, tokens) in reference.items():
        np.testing.assert_allclose(by_op[op], nats / tokens, rtol=1e-4)
    total = sum(n for n, _ in reference.values()) / sum(t for _, t in reference.values())
    np.testing.assert_allclose(overall, total, rtol=1e-4)  # token-weighted, not the mean of the per-op figures
