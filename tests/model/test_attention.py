"""`model.attention.attend` against a float64 NumPy loop over rows and heads: plain and shared-prefix attention, for
grouped (3 query heads per kv head), multi-head and single kv-head layouts, ragged masks and rows that see no
key at all (uniform weights, never NaN)."""

import numpy as np
import pytest

from rlpjax.model.attention import attend, prefix_mask


def reference(q, k, v, mask, prefix=None):
    """softmax(q k^T / sqrt(D)) v per row and query head, over the concatenation [prefix ; own] of the row's keys."""
    q, k, v, mask = (np.asarray(a, np.float64) if a.dtype != bool else np.asarray(a) for a in (q, k, v, mask))
    rows, queries, heads, head_dim = q.shape
    group = heads // k.shape[2]
    out = np.zeros(q.shape)
    for r in range(rows):
        keys, values, visible = k[r], v[r], mask[r]
        if prefix is not None:
            pk, pv, pm = (np.asarray(a) for a in prefix)
            doc = r // (rows // pk.shape[0])
            keys, values = np.concatenate([pk[doc], keys]), np.concatenate([pv[doc], values])
            visible = np.concatenate([np.broadcast_to(pm[r], (queries, pk.shape[1])), visible], axis=1)
        for h in range(heads):
            logits = np.where(visible, q[r, :, h] @ keys[:, h // group].T / np.sqrt(head_dim), -1e30)
            weights = np.exp(logits - logits.max(-1, keepdims=True))
            out[r, :, h] = (weights / weights.sum(-1, keepdims=True)) @ values[:, h // group]
    return out


@pytest.mark.parametrize("rows,queries,heads,kv_heads,head_dim,keys,docs,prefix_len",
                         [(6, 5, 6, 2, 8, 7, 3, 9), (4, 1, 4, 4, 16, 10, 2, 12), (2, 3, 2, 1, 4, 3, 1, 5)])
@pytest.mark.parametrize("with_prefix", [False, True])
def test_attend_equals_the_reference(rows, queries, heads, kv_heads, head_dim, keys, docs, prefix_len, with_prefix):
    rng = np.random.default_rng(rows * 100 + queries)
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    q, k, v = normal(rows, queries, heads, head_dim), normal(rows, keys, kv_heads, head_dim), normal(rows, keys,
                                                                                                     kv_heads, head_dim)
    mask = rng.random((rows, queries, keys)) < 0.7
    mask[0] = False  # row 0 sees no own key (and, with the prefix, possibly none at all)
    prefix = None
    if with_prefix:
        lengths = rng.integers(0, prefix_len + 1, size=rows)
        lengths[0] = 0
        prefix = (normal(docs, prefix_len, kv_heads, head_dim), normal(docs, prefix_len, kv_heads, head_dim),
                  np.asarray(prefix_mask(lengths, prefix_len)))
    kernel_prefix = None if prefix is None else (  # the kernel reads a PrefixKV's layout (k [d,k,h,p], v [d,k,p,h])
        np.transpose(prefix[0], (0, 2, 3, 1)), np.transpose(prefix[1], (0, 2, 1, 3)), prefix[2])
    out = np.asarray(attend(q, k, v, mask, kernel_prefix))
    assert np.isfinite(out).all()
    # float32 logits of unit-normal q.k / sqrt(D) and softmax-weighted sums of unit-normal values: errors of a few
    # float32 ulps (measured <= 4e-7); 1e-5 leaves a wide margin on any CPU's summation order.
    np.testing.assert_allclose(out, reference(q, k, v, mask, prefix), atol=1e-5)
