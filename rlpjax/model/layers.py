"""The decoder's building blocks: the dense projection, parameter creation, and the blocks a family picks from.

Blocks: `RMSNorm` (a norm: stateless, its weight lives in the module that uses it), `Attention` (grouped-query
projections, optional q/k/v bias and q/k norm, RoPE, the shared attention kernel), `SwiGLUMLP`, and
`DecoderBlock` (pre-norm residual block composing the family's attention, MLP and norm). The modules are built
with every parameter stacked over a leading `layers` axis (`layers=` the count) and called on one layer's slice;
`rlpjax.model.decoder.DecoderLayers` stores the stacked parameters and scans the block over them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.model.attention import attend
from rlpjax.model.rope import apply_rope
from rlpjax.sharding import constrain

RESIDUAL_AXES = ("act_batch", "act_length", "act_embed")
"""Logical axes of the residual stream [batch, time, hidden] at block boundaries."""
HEADS_AXES = ("act_batch", "act_length", "act_heads", "act_head_dim")
"""Logical axes of queries and attention outputs [batch, time, heads, head_dim]."""
KV_AXES = ("act_batch", "act_length", "act_kv_heads", "act_head_dim")
"""Logical axes of one layer's keys / values [batch (or prefix docs), time or slots, kv_heads, head_dim]."""

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


@dataclasses.dataclass(frozen=True)
class RMSNorm:
    """The Llama / Qwen norm: `rms_norm` with a weight that starts at 1. A norm is stateless (hashable, part of the
    module's static structure); `weight` makes the parameter the using module stores under its own name."""

    eps: float

    def weight(self, shape: Sequence[int], logical_axes: Sequence[str | None], dtype) -> nnx.Param:
        """A fresh norm weight of `shape`."""
        return param(jnp.ones(tuple(shape), dtype), logical_axes)

    def __call__(self, x: jnp.ndarray, weight: jnp.ndarray) -> jnp.ndarray:
        return rms_norm(x, weight, self.eps)


def _stacked(layers: int, shape: Sequence[int], logical_axes: Sequence[str | None]):
    """(shape, axes) of a per-layer parameter stacked over a leading `layers` axis."""
    return (layers, *shape), ("layers", *logical_axes)


class Attention(nnx.Module):
    """Grouped-query self-attention: q / k / v projections (with bias if `cfg.qkv_bias`, per-head norm before RoPE
    if `cfg.qk_norm`), RoPE, the shared kernel (`attention.attend`) and the output projection.

    Split in two calls because the KV-cache path writes the new keys / values between them: `project` gives q and
    the new k, v; `output` attends and projects back to the residual width.
    """

    def __init__(self, cfg: ModelConfig, norm: RMSNorm, *, layers: int, rngs: nnx.Rngs):
        d, n, k, h, std = cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, cfg.init_std
        dtype = dtype_of(cfg.param_dtype)

        def weight(shape, axes):
            stacked_shape, stacked_axes = _stacked(layers, shape, axes)
            return normal_param(rngs, stacked_shape, std, dtype, stacked_axes)

        self.norm = norm
        self.q_weight_ldnh = weight((d, n, h), ("embed", "heads", "head_dim"))
        self.k_weight_ldkh = weight((d, k, h), ("embed", "kv_heads", "head_dim"))
        self.v_weight_ldkh = weight((d, k, h), ("embed", "kv_heads", "head_dim"))
        self.o_weight_lnhd = weight((n, h, d), ("heads", "head_dim", "embed"))
        self.bias = cfg.qkv_bias
        if cfg.qkv_bias:
            self.q_bias_lnh = param(jnp.zeros((layers, n, h), dtype), ("layers", "heads", "head_dim"))
            self.k_bias_lkh = param(jnp.zeros((layers, k, h), dtype), ("layers", "kv_heads", "head_dim"))
            self.v_bias_lkh = param(jnp.zeros((layers, k, h), dtype), ("layers", "kv_heads", "head_dim"))
        self.qk_norm = cfg.qk_norm
        if cfg.qk_norm:
            self.q_norm_lh = norm.weight(*_stacked(layers, (h,), ("norm",)), dtype)
            self.k_norm_lh = norm.weight(*_stacked(layers, (h,), ("norm",)), dtype)

    def project(self, h_btd, cos_bth, sin_bth):
        """q [batch, time, heads, head_dim] and the new k, v [batch, time, kv_heads, head_dim] of the normed
        residual stream h, RoPE applied to q and k."""
        q_btnh = dense(h_btd, self.q_weight_ldnh[...])
        k_btkh = dense(h_btd, self.k_weight_ldkh[...])
        v_btkh = dense(h_btd, self.v_weight_ldkh[...])
        if self.bias:
            q_btnh = q_btnh + self.q_bias_lnh[...]
            k_btkh = k_btkh + self.k_bias_lkh[...]
            v_btkh = v_btkh + self.v_bias_lkh[...]
        if self.qk_norm:
            q_btnh = self.norm(q_btnh, self.q_norm_lh[...])
            k_btkh = self.norm(k_btkh, self.k_norm_lh[...])
        q_btnh = constrain(apply_rope(q_btnh, cos_bth, sin_bth), HEADS_AXES)
        k_btkh = constrain(apply_rope(k_btkh, cos_bth, sin_bth), KV_AXES)
        return q_btnh, k_btkh, constrain(v_btkh, KV_AXES)

    def output(self, q_btnh, k_bskh, v_bskh, mask_bqs, prefix=None):
        """[batch, time, hidden]: attention of q over the keys / values (and a prefix layer, see `attend`),
        projected back to the residual width."""
        attn_btnh = constrain(attend(q_btnh, k_bskh, v_bskh, mask_bqs, prefix), HEADS_AXES)
        return dense(attn_btnh, self.o_weight_lnhd[...], in_axes=2)


class SwiGLUMLP(nnx.Module):
    """down(silu(h @ gate) * (h @ up)): the Llama / Qwen feed-forward block."""

    def __init__(self, cfg: ModelConfig, *, layers: int, rngs: nnx.Rngs):
        d, f, std, dtype = cfg.hidden_size, cfg.intermediate_size, cfg.init_std, dtype_of(cfg.param_dtype)
        self.gate_weight_ldf = normal_param(rngs, (layers, d, f), std, dtype, ("layers", "embed", "mlp"))
        self.up_weight_ldf = normal_param(rngs, (layers, d, f), std, dtype, ("layers", "embed", "mlp"))
        self.down_weight_lfd = normal_param(rngs, (layers, f, d), std, dtype, ("layers", "mlp", "embed"))

    def __call__(self, h_btd: jnp.ndarray) -> jnp.ndarray:
        gate_btf = dense(h_btd, self.gate_weight_ldf[...])
        up_btf = dense(h_btd, self.up_weight_ldf[...])
        hidden_btf = constrain(jax.nn.silu(gate_btf) * up_btf, ("act_batch", "act_length", "act_mlp"))
        return dense(hidden_btf, self.down_weight_lfd[...])


class DecoderBlock(nnx.Module):
    """Pre-norm residual block: x + attention(norm(x)), then x + mlp(norm(x)); the family picks the attention and
    MLP classes and the norm (`rlpjax.model.families.base.ModelFamily`)."""

    def __init__(self, cfg: ModelConfig, *, attention: type, mlp: type, norm: RMSNorm, layers: int,
                 rngs: nnx.Rngs):
        dtype = dtype_of(cfg.param_dtype)
        self.norm = norm
        self.attn_norm_ld = norm.weight(*_stacked(layers, (cfg.hidden_size,), ("norm",)), dtype)
        self.attn = attention(cfg, norm, layers=layers, rngs=rngs)
        self.mlp_norm_ld = norm.weight(*_stacked(layers, (cfg.hidden_size,), ("norm",)), dtype)
        self.mlp = mlp(cfg, layers=layers, rngs=rngs)

    def project(self, x_btd, cos_bth, sin_bth):
        """The block's q and new k, v (see `Attention.project`) from its input residual stream."""
        return self.attn.project(self.norm(x_btd, self.attn_norm_ld[...]), cos_bth, sin_bth)

    def finish(self, x_btd, q_btnh, k_bskh, v_bskh, mask_bqs, prefix=None):
        """The block's output residual stream from its input, queries and the keys / values it attends to."""
        x_btd = constrain(x_btd + self.attn.output(q_btnh, k_bskh, v_bskh, mask_bqs, prefix), RESIDUAL_AXES)
        x_btd = x_btd + self.mlp(self.norm(x_btd, self.mlp_norm_ld[...]))
        return constrain(x_btd, RESIDUAL_AXES)
