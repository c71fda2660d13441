"""Small stateless building blocks: the dense projection, RMSNorm, the SwiGLU MLP and parameter creation."""

from __future__ import annotations

import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name
from flax import nnx

from rlpjax.sharding import constrain

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
"""Config dtype names -> JAX dtypes."""


def dtype_of(name: str) -> jnp.dtype:
    """The JAX dtype named by a config field ("float32" or "bfloat16")."""
    if name not in DTYPES:
        raise ValueError(f"dtype {name!r} is not supported; use one of {sorted(DTYPES)}")
    return DTYPES[name]


def param(value: jnp.ndarray, logical_axes: Sequence[str | None]) -> nnx.Param:
    """An `nnx.Param` carrying its logical sharding axes (read by `rlpjax.sharding.state_shardings`)."""
    if len(logical_axes) != value.ndim:
        raise ValueError(f"logical axes {tuple(logical_axes)} do not match a parameter of shape {value.shape}")
    return nnx.Param(value, logical_axes=tuple(logical_axes), eager_sharding=False)


def normal_param(rngs: nnx.Rngs, shape: Sequence[int], std: float, dtype, logical_axes) -> nnx.Param:
    """A parameter drawn from N(0, std^2)."""
    return param(std * jax.random.normal(rngs.params(), tuple(shape), dtype=jnp.float32).astype(dtype), logical_axes)


DENSE_OUTPUT = "dense_output"
"""The `checkpoint_name` of every `dense` result: the "dots" remat policy saves these (the custom VJP hides the matmul
from `jax.checkpoint_policies.dots_with_no_batch_dims_saveable`)."""


def dense(x_xi: jnp.ndarray, w_io: jnp.ndarray, in_axes: int = 1, out_dtype=None) -> jnp.ndarray:
    """Contract the last `in_axes` axes of x [..., *in] with the first `in_axes` axes of w [*in, *out] -> [..., *out].

    Every weight matmul of the model goes through here (q / k / v / o, the MLP, the output projection). The result
    is `jnp.einsum` of the same operands; what differs is the backward pass, written out in `_matmul_bwd` as the two
    products XLA can run without transposing an activation (see there). `out_dtype`: the result's dtype (e.g.
    float32 logits from bfloat16 operands); default, the operands' dtype.
    """
    in_shape, out_shape = w_io.shape[:in_axes], w_io.shape[in_axes:]
    if x_xi.shape[x_xi.ndim - in_axes:] != in_shape:
        raise ValueError(f"dense: input [..., {x_xi.shape[x_xi.ndim - in_axes:]}] does not match weight {w_io.shape}")
    lead = x_xi.shape[:x_xi.ndim - in_axes]
    y_xo = _matmul(x_xi.reshape(*lead, math.prod(in_shape)), w_io.reshape(math.prod(in_shape), -1), out_dtype)
    return checkpoint_name(y_xo.reshape(*lead, *out_shape), DENSE_OUTPUT)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _matmul(x_xk: jnp.ndarray, w_kn: jnp.ndarray, out_dtype) -> jnp.ndarray:
    """x [..., K] @ w [K, N] -> [..., N]."""
    return jnp.einsum("...k,kn->...n", x_xk, w_kn, preferred_element_type=out_dtype)


def _matmul_fwd(x_xk, w_kn, out_dtype):
    return _matmul(x_xk, w_kn, out_dtype), (x_xk, w_kn)


def _matmul_bwd(out_dtype, residuals, ct_xn):
    """dx = ct @ w^T, dw = x^T @ ct, each as one einsum whose result needs no transpose.

    JAX's own transpose of the forward einsum forms the weight gradient as dot_general(ct, x) -> [N, K] followed by
    a transpose to [K, N]; XLA's CPU backend rewrites that pair by transposing the [tokens, N] activation gradient
    instead (a copy as large as the activation, per weight). On the NTP benchmark model this halves the time of the
    MLP's backward pass (`rlpjax bench ntp`; WORKSPACE "Performance notes"). The products are the same, so results
    match `jax.grad` of the einsum up to float summation order.
    """
    x_xk, w_kn = residuals
    dx_xk = jnp.einsum("...n,kn->...k", ct_xn, w_kn).astype(x_xk.dtype)
    dw_kn = jnp.einsum("...k,...n->kn", x_xk, ct_xn).astype(w_kn.dtype)
    return dx_xk, dw_kn


_matmul.defvjp(_matmul_fwd, _matmul_bwd)


def rms_norm(x: jnp.ndarray, weight: jnp.ndarray, eps: float) -> jnp.ndarray:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis, computed in float32, returned in x's dtype."""
    x32 = x.astype(jnp.float32)
    normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
    return (normed * weight.astype(jnp.float32)).astype(x.dtype)


def swiglu_mlp(h_btd: jnp.ndarray, gate_df: jnp.ndarray, up_df: jnp.ndarray, down_fd: jnp.ndarray) -> jnp.ndarray:
    """down(silu(h @ gate) * (h @ up)): the Llama/Qwen feed-forward block."""
    gate_btf = dense(h_btd, gate_df)
    up_btf = dense(h_btd, up_df)
    hidden_btf = constrain(jax.nn.silu(gate_btf) * up_btf, ("act_batch", "act_length", "act_mlp"))
    return dense(hidden_btf, down_fd)
