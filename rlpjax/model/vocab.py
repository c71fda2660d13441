"""Growing the vocabulary (e.g. adding <think> and </think> to a pretrained model)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from rlpjax.config_io import ConfigError
from rlpjax.sharding import named_sharding


def _grow_rows(variable: nnx.Variable, new_size: int, axis: int) -> nnx.Variable:
    """The variable with entries along `axis` appended, equal to the mean of the existing ones, up to `new_size`.

    A table sharded on a mesh stays on that mesh, re-sharded by the rules table for its new shape.
    """
    table = variable[...]
    mean = jnp.mean(table.astype(jnp.float32), axis=axis, keepdims=True).astype(table.dtype)
    reps = [1] * table.ndim
    reps[axis] = new_size - table.shape[axis]
    grown = jnp.concatenate([table, jnp.tile(mean, reps)], axis=axis)
    sharding = getattr(table, "sharding", None)
    if isinstance(sharding, jax.sharding.NamedSharding):
        grown = jax.device_put(grown, named_sharding(variable.get_metadata()["logical_axes"], grown.shape, sharding.mesh))
    return variable.replace(grown)


def grow_vocab(model, new_size: int):
    """A copy of `model` with `new_size` token ids; the old ids keep their embeddings and output rows.

    New embedding rows and output-projection columns are the mean of the existing ones: a new token then starts with
    a typical input embedding, and its logit equals the average logit of the vocabulary, so adding it changes the
    model's existing next-token distribution only slightly (a random or zero row would give it an arbitrary or
    uninformative logit). Sharding of the grown tables follows the old ones when their size still divides.
    """
    from rlpjax.model.decoder import Decoder

    cfg = model.cfg
    if new_size < cfg.vocab_size:
        raise ConfigError(f"cannot shrink the vocabulary from {cfg.vocab_size} to {new_size}; pass a larger size")
    new_cfg = dataclasses.replace(cfg, vocab_size=new_size)
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: Decoder(new_cfg, rngs=nnx.Rngs(0))))
    _, state = nnx.split(model)
    state["embed_vd"] = _grow_rows(state["embed_vd"], new_size, axis=0)
    if not cfg.tie_embeddings:
        state["lm_head_dv"] = _grow_rows(state["lm_head_dv"], new_size, axis=1)
    return nnx.merge(graphdef, state)
