"""`layers.dense`, the model's one weight matmul: its value and hand-written backward pass against float64 NumPy, and
the "dots" remat policy still saving its output (the custom VJP hides the matmul from JAX's dot policies)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax.model.decoder import _remat
from rlpjax.model.layers import dense


def _numpy_dense_and_grads(x, w, ct, in_axes):
    """y = x . w over `in_axes` axes, and d(sum(y * ct))/dx, /dw written as plain float64 matrix products."""
    lead, k = x.shape[:x.ndim - in_axes], int(np.prod(w.shape[:in_axes]))
    x2 = x.reshape(-1, k).astype(np.float64)
    w2 = w.reshape(k, -1).astype(np.float64)
    ct2 = ct.reshape(x2.shape[0], -1).astype(np.float64)
    y = (x2 @ w2).reshape(*lead, *w.shape[in_axes:])
    return y, (ct2 @ w2.T).reshape(x.shape), (x2.T @ ct2).reshape(w.shape)


@pytest.mark.parametrize("x_shape, w_shape, in_axes", [
    ((2, 3, 4), (4, 5), 1),            # MLP / output projection: [b, t, d] x [d, f]
    ((2, 3, 4), (4, 3, 2), 1),         # q / k / v: [b, t, d] x [d, heads, head_dim]
    ((2, 3, 3, 2), (3, 2, 4), 2),      # o: [b, t, heads, head_dim] x [heads, head_dim, d]
])
def test_dense_value_and_gradients_match_numpy(x_shape, w_shape, in_axes):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=x_shape).astype(np.float32), rng.normal(size=w_shape).astype(np.float32)
    ct = rng.normal(size=x_shape[:len(x_shape) - in_axes] + w_shape[in_axes:]).astype(np.float32)
    want_y, want_dx, want_dw = _numpy_dense_and_grads(x, w, ct, in_axes)

    y = dense(jnp.asarray(x), jnp.asarray(w), in_axes=in_axes)
    dx, dw = jax.grad(lambda a, b: jnp.sum(dense(a, b, in_axes=in_axes) * ct), argnums=(0, 1))(x, w)
    # float32 products of <= 6 terms of unit-normal size: relative error ~1e-7; 1e-5 leaves room for any CPU's order
    for got, want in ((y, want_y), (dx, want_dx), (dw, want_dw)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_dense_out_dtype_and_gradient_dtypes_follow_the_operands():
    x, w = jnp.ones((2, 3, 4), jnp.bfloat16), jnp.ones((4, 5), jnp.bfloat16)
    y = dense(x, w, out_dtype=jnp.float32)
    assert y.dtype == jnp.float32 and float(y[0, 0, 0]) == 4.0
    dx, dw = jax.grad(lambda a, b: jnp.sum(dense(a, b, out_dtype=jnp.float32)), argnums=(0, 1))(x, w)
    assert dx.dtype == jnp.bfloat16 and dw.dtype == jnp.bfloat16
    assert float(dx[0, 0, 0]) == 5.0 and float(dw[0, 0]) == 6.0  # sum over 5 outputs / over 2 x 3 tokens


def test_dense_refuses_a_mismatched_weight():
    with pytest.raises(ValueError, match="does not match weight"):
        dense(jnp.ones((2, 3, 4)), jnp.ones((5, 4)))


@pytest.mark.parametrize("policy, saved", [("dots", True), ("full", False)])
def test_the_dots_remat_policy_saves_dense_outputs(policy, saved, capsys):
    def block(x, w):
        return jnp.sum(jnp.sin(dense(x, w)))

    jax.ad_checkpoint.print_saved_residuals(_remat(block, policy), jnp.ones((2, 3, 4)), jnp.ones((4, 5)))
    assert ("f32[2,3,5]" in capsys.readouterr().out) == saved
