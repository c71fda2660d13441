"""The device mesh and the ONE table of logical-axis rules (parameters and activations).

Every parameter carries `logical_axes` metadata (e.g. `("embed", "mlp")`); the model constrains its activations with
`act_*` logical names (e.g. `("act_batch", "act_length", "act_vocab")` on the logits). `LOGICAL_AXIS_RULES` maps
each logical name to mesh axes. All sharding intent of the project lives in that table: change it here, nowhere else.
Parameters are stored split over fsdp ("embed"); activations keep the batch split over data x fsdp and the embedding
replicated, so under fsdp XLA gathers the weights, not the batch.

A logical axis is only sharded when its size divides by the product of its mesh axes (otherwise it is replicated,
e.g. a single KV head on a 2-way tensor axis), and a mesh axis is used at most once per array.

- `make_mesh(mesh_cfg, devices=None)`: a `Mesh` with axes ("data", "fsdp", "tensor").
- `logical_to_spec(logical_axes, shape, mesh)` / `named_sharding(...)`: logical names -> `PartitionSpec` /
  `NamedSharding`.
- `batch_sharding(mesh)`: sharding of [batch, time] inputs (batch over data x fsdp).
- `state_shardings(state, mesh)`: the `NamedSharding` of every variable of an nnx state (params or optimizer state,
  whose variables inherit the params' metadata), for `jax.jit(in_shardings=..., out_shardings=...)`.
- `create_sharded_model(cfg, mesh, seed)`: a `Decoder` whose parameters are born sharded (no host copy).

Activation sharding: `constrain(x, logical_axes)` applies `jax.lax.with_sharding_constraint` by the rules table when
an activation mesh is active and is the identity otherwise (single-device tests, eager calls). A caller turns it on
by wrapping the function it jits:

    jitted = jax.jit(activation_sharded(step, mesh), in_shardings=..., out_shardings=...)

`activation_sharded` enters `activation_mesh(mesh)` inside the function, i.e. while jit traces it, so every trace
(the first call, a retrace, `.lower()`) sees the mesh; the compiled program carries the constraints and runs
without any context. `with activation_mesh(mesh): ...` is the same switch for code that is traced in its body.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from typing import Any, Callable, Iterator, Sequence

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rlpjax.config import MeshConfig, ModelConfig
from rlpjax.config_io import ConfigError

MESH_AXES = ("data", "fsdp", "tensor")
"""Names of the mesh axes, outermost first."""

LOGICAL_AXIS_RULES: dict[str, tuple[str, ...]] = {
    "batch": ("data", "fsdp"),
    "length": (),
    "embed": ("fsdp",),
    "vocab": ("tensor",),
    "heads": ("tensor",),
    "kv_heads": ("tensor",),
    "head_dim": (),
    "mlp": ("tensor",),
    "layers": (),
    "norm": (),
    "act_batch": ("data", "fsdp"),
    "act_length": (),
    "act_embed": (),
    "act_heads": ("tensor",),
    "act_kv_heads": ("tensor",),
    "act_head_dim": (),
    "act_mlp": ("tensor",),
    "act_vocab": ("tensor",),
}
"""Logical axis name -> mesh axes it is split over (empty: replicated). `act_*` names are activation axes (batch
rows, or the documents of a shared prefix, on `act_batch`; cache slots on `act_length`)."""

_ACTIVATION_MESH: contextvars.ContextVar[Mesh | None] = contextvars.ContextVar("activation_mesh", default=None)
"""The mesh `constrain` shards activations on (None: constraints are off)."""


def make_mesh(mesh_cfg: MeshConfig, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A mesh with axes ("data", "fsdp", "tensor") over `devices` (default: all); one size may be -1 (fill)."""
    devices = list(jax.devices() if devices is None else devices)
    sizes = [mesh_cfg.data, mesh_cfg.fsdp, mesh_cfg.tensor]
    if sum(size == -1 for size in sizes) > 1 or any(size == 0 or size < -1 for size in sizes):
        raise ConfigError(f"mesh sizes (data, fsdp, tensor) = {tuple(sizes)} are invalid; use positive sizes and at most one -1")
    known = math.prod(size for size in sizes if size != -1)
    if len(devices) % known != 0:
        raise ConfigError(
            f"mesh sizes (data, fsdp, tensor) = {tuple(sizes)} do not divide the {len(devices)} devices; "
            "choose sizes whose product divides the device count"
        )
    sizes = [len(devices) // known if size == -1 else size for size in sizes]
    if math.prod(sizes) != len(devices):
        raise ConfigError(
            f"mesh sizes (data, fsdp, tensor) = {tuple(sizes)} use {math.prod(sizes)} devices but {len(devices)} "
            "are present; make the product equal the device count (or use -1 for one axis)"
        )
    return Mesh(np.asarray(devices, dtype=object).reshape(sizes), MESH_AXES)


def logical_to_spec(logical_axes: Sequence[str | None], shape: Sequence[int], mesh: Mesh) -> PartitionSpec:
    """The `PartitionSpec` of an array of `shape` with `logical_axes`, by `LOGICAL_AXIS_RULES`.

    A dimension whose size does not divide by its mesh axes' product is replicated; a mesh axis already used by an
    earlier dimension is skipped.
    """
    if len(logical_axes) != len(shape):
        raise ValueError(f"logical axes {tuple(logical_axes)} do not match an array of shape {tuple(shape)}")
    used: set[str] = set()
    spec: list[Any] = []
    for name, size in zip(logical_axes, shape):
        if name is not None and name not in LOGICAL_AXIS_RULES:
            raise ValueError(f"logical axis {name!r} has no rule; add it to LOGICAL_AXIS_RULES")
        axes = tuple(a for a in LOGICAL_AXIS_RULES.get(name, ()) if a not in used and mesh.shape[a] > 1)
        if not axes or size % math.prod(mesh.shape[a] for a in axes) != 0:
            spec.append(None)
            continue
        used.update(axes)
        spec.append(axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(*spec)


@contextlib.contextmanager
def activation_mesh(mesh: Mesh | None) -> Iterator[None]:
    """Within the block, `constrain` shards activations on `mesh` (None turns the constraints off)."""
    token = _ACTIVATION_MESH.set(mesh)
    try:
        yield
    finally:
        _ACTIVATION_MESH.reset(token)


def activation_sharded(fn: Callable, mesh: Mesh) -> Callable:
    """`fn` running under `activation_mesh(mesh)`: wrap a step with it before `jax.jit` to shard its activations."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with activation_mesh(mesh):
            return fn(*args, **kwargs)

    return wrapped


def constrain(x: jax.Array, logical_axes: Sequence[str | None]) -> jax.Array:
    """`x` constrained to the sharding of its logical axes on the active activation mesh; `x` itself when none."""
    mesh = _ACTIVATION_MESH.get()
    if mesh is None:
        return x
    return jax.lax.with_sharding_constraint(x, named_sharding(logical_axes, x.shape, mesh))


def named_sharding(logical_axes: Sequence[str | None], shape: Sequence[int], mesh: Mesh) -> NamedSharding:
    """The `NamedSharding` of an array of `shape` with `logical_axes`."""
    return NamedSharding(mesh, logical_to_spec(logical_axes, shape, mesh))


def batch_ways(mesh: Mesh) -> int:
    """How many ways the batch axis is split: the mesh's data x fsdp devices."""
    return mesh.shape["data"] * mesh.shape["fsdp"]


def batch_sharding(mesh: Mesh, ndim: int = 2) -> NamedSharding:
    """Sharding of [batch, time, ...] inputs: batch over ("data", "fsdp"), the rest replicated."""
    return NamedSharding(mesh, PartitionSpec(("data", "fsdp"), *([None] * (ndim - 1))))


def replicated(mesh: Mesh) -> NamedSharding:
    """A fully replicated sharding on `mesh`."""
    return NamedSharding(mesh, PartitionSpec())


def state_shardings(state: Any, mesh: Mesh) -> Any:
    """The tree of `NamedSharding`s matching an nnx state (Variables keep their structure, values are shardings).

    Variables with `logical_axes` metadata follow the rules table; every other array is replicated. Usable as
    `in_shardings` / `out_shardings` of a `jax.jit` over (graphdef, state) pairs.
    """

    def sharding_of(leaf: Any) -> Any:
        if isinstance(leaf, nnx.Variable):
            value = leaf.get_value()
            axes = leaf.get_metadata().get("logical_axes")
            if axes is None or not hasattr(value, "shape"):
                return leaf.replace(replicated(mesh))
            return leaf.replace(named_sharding(axes, value.shape, mesh))
        return replicated(mesh)

    return jax.tree.map(sharding_of, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def create_sharded_model(cfg: ModelConfig, mesh: Mesh, seed: int = 0):
    """A `Decoder(cfg)` initialised from `seed` inside one jit whose outputs are already sharded on `mesh`."""
    from rlpjax.model.decoder import Decoder

    abstract = nnx.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(seed)))
    graphdef, abstract_state = nnx.split(abstract)
    shardings = state_shardings(abstract_state, mesh)

    def init_state():
        return nnx.split(Decoder(cfg, rngs=nnx.Rngs(seed)))[1]

    return nnx.merge(graphdef, jax.jit(init_state, out_shardings=shardings)())


def shard_model(model: nnx.Module, mesh: Mesh) -> nnx.Module:
    """`model` with every variable placed by the rules table on `mesh` (for models built on the host, e.g. imports)."""
    graphdef, state = nnx.split(model)
    state = jax.device_put(state, state_shardings(state, mesh))
    return nnx.merge(graphdef, state)
