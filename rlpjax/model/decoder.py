"""The decoder as a Flax NNX module: embedding, the family's blocks (`rlpjax/model/families/`, built from
`rlpjax.model.layers`), final norm and output projection.

Layer parameters are stored stacked over layers ([layers, ...]) whether or not `scan_layers` is set, so checkpoints
do not depend on that flag: `scan_layers=True` runs the blocks under `jax.lax.scan` (one compiled block body),
False runs a Python loop over slices. Parameters are stored in `param_dtype` and cast to `compute_dtype` where used; norms, RoPE and softmax run in
float32 and logits are returned in float32.

Two entry points share one block and one attention kernel (`attention.attend`):
- `model(tokens_bt, positions_bt, segment_ids_bt, return_kv=False)`: teacher-forced (packed or padded rows);
- `model.extend(tokens_bt, cache, num_new_b=None, prefix=None)`: append tokens to a `KVCache` (prefill, decode,
  and with a `PrefixKV` the branch mode of RLP).

Activations are constrained with `rlpjax.sharding.constrain` at the block boundaries (residual stream), on q / k / v,
the attention output, the MLP hidden, the logits and the caches; the constraints act only under an activation mesh
(`rlpjax.sharding.activation_sharded`), so single-device and eager calls are unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_checks import check_choices
from rlpjax.config_io import ConfigError
from rlpjax.family_registry import check_family, get_family
from rlpjax.model.attention import cache_mask, prefix_mask, segment_causal_mask
from rlpjax.model.kv_cache import KVCache, PrefixKV, write_rows
from rlpjax.model.layers import DENSE_OUTPUT, KV_AXES, RESIDUAL_AXES, DecoderBlock, dense, dtype_of, normal_param
from rlpjax.model.rope import rope_angles
from rlpjax.sharding import constrain

CACHE_AXES = ("layers",) + KV_AXES
"""Logical axes of stacked caches [layers, batch, slots, kv_heads, head_dim]."""
PREFIX_K_AXES = ("layers", "act_batch", "act_kv_heads", "act_head_dim", "act_length")
"""Logical axes of a `PrefixKV`'s keys [layers, docs, kv_heads, head_dim, slots]."""
PREFIX_V_AXES = ("layers", "act_batch", "act_kv_heads", "act_length", "act_head_dim")
"""Logical axes of a `PrefixKV`'s values [layers, docs, kv_heads, slots, head_dim]."""


def validate_model_config(cfg: ModelConfig) -> None:
    """Raise ConfigError (one sentence) for a model config the decoder cannot build (also one made without a
    `Config`, e.g. from a Hugging Face config.json)."""
    check_choices(cfg, "model.")
    check_family(cfg.family)
    if cfg.num_kv_heads <= 0 or cfg.num_heads % cfg.num_kv_heads != 0:
        raise ConfigError(
            f"model.num_kv_heads={cfg.num_kv_heads} must divide model.num_heads={cfg.num_heads}; pick a divisor"
        )
    if cfg.head_dim % 2 != 0:
        raise ConfigError(f"model.head_dim={cfg.head_dim} must be even for rotary embeddings")
    get_family(cfg.family).check_config(cfg)


class DecoderLayers(nnx.Module):
    """The family's decoder block with every parameter stacked over a leading `layers` axis.

    The parameters are stored flat under their own names (`layers/q_weight_ldnh`, not `layers/attn/...`): that is
    the layout of orbax checkpoints and model directories, so a family's block structure never changes the files.
    Names are therefore unique within a block. `block(p)` rebuilds the block's modules around one layer's arrays.
    """

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.block_def, state = nnx.split(get_family(cfg.family).block(cfg, rngs=rngs))
        paths = []
        for path, variable in state.flat_state():
            name = path[-1]
            if any(name == seen for seen, _ in paths):
                raise ValueError(f"the {cfg.family} block has two parameters named {name!r}; names must be unique")
            setattr(self, name, variable)
            paths.append((name, path))
        self.param_paths = tuple(paths)

    def stacked(self) -> dict[str, jnp.ndarray]:
        """The stacked parameter arrays by name (each [layers, ...])."""
        return {name: getattr(self, name)[...] for name, _ in self.param_paths}

    def block(self, p: dict[str, jnp.ndarray]) -> DecoderBlock:
        """The family's block holding one layer's parameter arrays `p` (by name, e.g. a slice of `stacked()`)."""
        return nnx.merge(self.block_def, nnx.State.from_flat_path({path: p[name] for name, path in self.param_paths}))


class Decoder(nnx.Module):
    """A decoder-only language model of `cfg.family` (see the module docstring for the call modes)."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        validate_model_config(cfg)
        self.cfg = cfg
        dtype = dtype_of(cfg.param_dtype)
        self.norm = get_family(cfg.family).norm(cfg.rms_norm_eps)
        self.embed_vd = normal_param(rngs, (cfg.vocab_size, cfg.hidden_size), cfg.init_std, dtype, ("vocab", "embed"))
        self.layers = DecoderLayers(cfg, rngs=rngs)
        self.final_norm_d = self.norm.weight((cfg.hidden_size,), ("norm",), dtype)
        if not cfg.tie_embeddings:
            self.lm_head_dv = normal_param(
                rngs, (cfg.hidden_size, cfg.vocab_size), cfg.init_std, dtype, ("embed", "vocab")
            )

    # ---------------------------------------------------------------- public call modes

    def __call__(
        self,
        tokens_bt: jnp.ndarray,
        positions_bt: jnp.ndarray | None = None,
        segment_ids_bt: jnp.ndarray | None = None,
        *,
        return_kv: bool = False,
        return_hidden: bool = False,
    ):
        """Teacher-forced logits [batch, time, vocab] (float32).

        positions_bt default to 0..time-1; segment_ids_bt (0 = padding) default to all ones. Tokens attend causally
        within their own segment only. With `return_kv=True` also returns a `KVCache` of this pass's keys/values
        ([layers, batch, time, kv_heads, head_dim], after RoPE, differentiable) whose lengths count non-padding
        tokens: usable as a branch-mode `PrefixKV` source. With `return_hidden=True` the final-normed hidden states
        [batch, time, hidden] are returned in place of the logits, for callers that project them to the vocabulary
        in chunks (`logits_from_hidden`) so that no [batch, time, vocab] array is ever materialised.
        """
        batch, time = tokens_bt.shape
        if positions_bt is None:
            positions_bt = jnp.broadcast_to(jnp.arange(time, dtype=jnp.int32), (batch, time))
        if segment_ids_bt is None:
            segment_ids_bt = jnp.ones((batch, time), jnp.int32)
        x_btd, kv = self._run_layers(
            tokens_bt, positions_bt, segment_causal_mask(segment_ids_bt), keep_kv=return_kv
        )
        logits_btv = self._final_norm(x_btd) if return_hidden else self._logits(x_btd)
        if not return_kv:
            return logits_btv
        lengths_b = jnp.sum(segment_ids_bt != 0, axis=1).astype(jnp.int32)
        return logits_btv, KVCache(kv[0], kv[1], lengths_b)

    def extend(
        self,
        tokens_bt: jnp.ndarray,
        cache: KVCache,
        *,
        num_new_b: jnp.ndarray | None = None,
        prefix: PrefixKV | None = None,
        return_hidden: bool = False,
    ) -> tuple[jnp.ndarray, KVCache]:
        """Append tokens [batch, time] to `cache`; returns (logits [batch, time, vocab] float32, updated cache).

        Row b's token i goes to slot cache.lengths[b] + i at position prefix_len[b] + cache.lengths[b] + i and
        attends to the prefix slots < prefix_len[b] (branch mode) and its own slots <= its own. Prefill: an empty
        cache and right-padded prompts with `num_new_b` = prompt lengths (the padding is written but never seen and
        is overwritten by the next tokens). Decode: time = 1. Teacher-forced branches: an empty cache of
        max_len = time. The caller keeps lengths + time <= max_len. `return_hidden=True` returns the final-normed
        hidden states [batch, time, hidden] instead of the logits (see `__call__`). A donated or loop-carried cache
        (the sampler's while loop) is updated in place: a decode step writes one slot per layer and row, it does
        not copy the cache (tests/model/test_kv_cache_inplace.py).
        """
        _, time = tokens_bt.shape
        positions_bt = cache.lengths[:, None] + jnp.arange(time, dtype=jnp.int32)[None, :]
        if prefix is not None:
            positions_bt = positions_bt + prefix.lengths[:, None]
        x_btd, kv = self._run_layers(
            tokens_bt,
            positions_bt,
            cache_mask(cache.lengths, time, cache.max_len),
            cache_kv=(cache.k, cache.v),
            write_start_b=cache.lengths,
            prefix=prefix,
        )
        added_b = jnp.full_like(cache.lengths, time) if num_new_b is None else num_new_b.astype(jnp.int32)
        out_btx = self._final_norm(x_btd) if return_hidden else self._logits(x_btd)
        k, v = (constrain(a, CACHE_AXES) for a in kv)
        return out_btx, KVCache(k, v, cache.lengths + added_b)

    def init_cache(self, batch: int, max_len: int) -> KVCache:
        """An empty `KVCache` for `batch` rows of `max_len` slots, in the compute dtype."""
        cfg = self.cfg
        return KVCache.empty(
            cfg.num_layers, batch, max_len, cfg.num_kv_heads, cfg.head_dim, dtype_of(cfg.compute_dtype)
        )

    # ---------------------------------------------------------------- internals

    def logits_from_hidden(self, h_xd: jnp.ndarray) -> jnp.ndarray:
        """Output projection of final-normed hidden states [..., hidden] -> float32 logits [..., vocab]."""
        compute = dtype_of(self.cfg.compute_dtype)
        h_xd = h_xd.astype(compute)
        if self.cfg.tie_embeddings:
            return dense(h_xd, self.embed_vd[...].astype(compute).T, out_dtype=jnp.float32)
        return dense(h_xd, self.lm_head_dv[...].astype(compute), out_dtype=jnp.float32)

    def _final_norm(self, x_btd: jnp.ndarray) -> jnp.ndarray:
        """The final norm of the residual stream [batch, time, hidden] (compute dtype)."""
        return self.norm(x_btd, self.final_norm_d[...])

    def _logits(self, x_btd: jnp.ndarray) -> jnp.ndarray:
        """Final norm and output projection, float32 logits [batch, time, vocab] (batch x vocab split)."""
        return constrain(self.logits_from_hidden(self._final_norm(x_btd)), ("act_batch", "act_length", "act_vocab"))

    def _run_layers(
        self,
        tokens_bt: jnp.ndarray,
        positions_bt: jnp.ndarray,
        own_mask_bqs: jnp.ndarray,
        *,
        cache_kv: tuple[jnp.ndarray, jnp.ndarray] | None = None,
        write_start_b: jnp.ndarray | None = None,
        prefix: PrefixKV | None = None,
        keep_kv: bool = False,
    ):
        """Embed and run all blocks; returns (residual stream [batch, time, hidden], (k, v) stacks or None).

        Three cases, chosen statically:
        - no `cache_kv`: each block attends to its own new keys / values, which are returned stacked
          [layers, batch, time, kv_heads, head_dim] if `keep_kv`;
        - a cache of exactly `time` slots (teacher-forced branches, `return_kv`-like passes): the write covers
          every slot, so the new keys / values ARE the new cache: the same blocks as without a cache, their keys /
          values returned stacked (in the cache's dtype);
        - a longer cache (prefill, decode): block i writes its new keys / values into the stacked cache at
          (layer i, row b, slots write_start_b[b] + 0..time-1) and attends over layer i of the updated stacks. The
          stacks are the loop's state (the Python loop's variables, or the `lax.scan` carry), never sliced into
          per-layer outputs and re-stacked, so XLA writes a donated or loop-carried cache in place: a decode step
          writes `time` slots per layer instead of copying the cache. The block is then two remat-wrapped parts,
          the projections (q, k, v) before the write and attention + MLP after it.
        """
        cfg = self.cfg
        compute = dtype_of(cfg.compute_dtype)
        x_btd = constrain(jnp.take(self.embed_vd[...], tokens_bt, axis=0).astype(compute), RESIDUAL_AXES)
        cos_bth, sin_bth = rope_angles(positions_bt, get_family(cfg.family).rope_inv_freq(cfg))
        prefix_mask_bp = None if prefix is None else prefix_mask(prefix.lengths, prefix.prefix_len)
        in_place = cache_kv is not None and cache_kv[0].shape[2] > tokens_bt.shape[1]
        kv_dtype = compute if cache_kv is None else cache_kv[0].dtype

        def block(p):
            """The family's block around one layer's parameters, cast to the compute dtype."""
            return self.layers.block({name: value.astype(compute) for name, value in p.items()})

        def project(x_btd, p):
            """The block's q [batch, time, heads, head_dim] and new k, v [batch, time, kv_heads, head_dim]."""
            return block(p).project(x_btd, cos_bth, sin_bth)

        def attend_and_mlp(x_btd, p, q_btnh, k_bskh, v_bskh, prefix_l):
            """The block's output residual stream from its input, queries and the keys / values it attends to."""
            prefix_args = None if prefix_l is None else (prefix_l[0], prefix_l[1], prefix_mask_bp)
            return block(p).finish(x_btd, q_btnh, k_bskh, v_bskh, own_mask_bqs, prefix_args)

        def own_block(x_btd, p, prefix_l):
            """A whole block attending to its own new keys / values; returns (residual stream, (k, v))."""
            q_btnh, k_btkh, v_btkh = project(x_btd, p)
            k_btkh, v_btkh = k_btkh.astype(kv_dtype), v_btkh.astype(kv_dtype)
            return attend_and_mlp(x_btd, p, q_btnh, k_btkh, v_btkh, prefix_l), (k_btkh, v_btkh)

        own_block = _remat(own_block, cfg.remat_policy)
        project, attend_and_mlp = _remat(project, cfg.remat_policy), _remat(attend_and_mlp, cfg.remat_policy)
        keep_kv = keep_kv or cache_kv is not None

        def layer(carry, layer_inputs):
            """One block: carry = (residual stream, (k, v) stacks when in place, else None), output = its (k, v)
            when they are kept and not written in place; `index` is the block's layer."""
            x_btd, stacks = carry
            p, prefix_l, index = layer_inputs
            if stacks is None:
                x_btd, kv = own_block(x_btd, p, prefix_l)
                return (x_btd, None), (kv if keep_kv else None)
            q_btnh, k_btkh, v_btkh = project(x_btd, p)
            stacks = tuple(
                constrain(write_rows(stack, index, new_btkh, write_start_b), CACHE_AXES)
                for stack, new_btkh in zip(stacks, (k_btkh, v_btkh))
            )
            k_bskh, v_bskh = (constrain(stack[index], KV_AXES) for stack in stacks)
            return (attend_and_mlp(x_btd, p, q_btnh, k_bskh, v_bskh, prefix_l), stacks), None

        carry = (x_btd, tuple(constrain(a, CACHE_AXES) for a in cache_kv) if in_place else None)
        per_layer = (
            self.layers.stacked(),
            None if prefix is None else (constrain(prefix.k_ldkhp, PREFIX_K_AXES),
                                         constrain(prefix.v_ldkph, PREFIX_V_AXES)),
        )
        if cfg.scan_layers:
            (x_btd, stacks), kv = jax.lax.scan(
                layer, carry, per_layer + (jnp.arange(cfg.num_layers, dtype=jnp.int32),)
            )
        else:
            kv_per_layer = []
            for index in range(cfg.num_layers):
                carry, kv = layer(carry, jax.tree.map(lambda a: a[index], per_layer) + (index,))
                kv_per_layer.append(kv)
            (x_btd, stacks), kv = carry, jax.tree.map(lambda *a: jnp.stack(a), *kv_per_layer)
        return x_btd, (stacks if in_place else kv)


def _remat(block_fn, policy: str):
    """Wrap a block with activation rematerialisation: "none", "full" (save nothing) or "dots" (save matmuls)."""
    if policy == "none":
        return block_fn
    if policy == "full":
        return jax.checkpoint(block_fn)
    policies = jax.checkpoint_policies
    return jax.checkpoint(block_fn, policy=policies.save_from_both_policies(
        policies.dots_with_no_batch_dims_saveable, policies.save_only_these_names(DENSE_OUTPUT)))
