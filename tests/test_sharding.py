"""Mesh construction, the logical-axis rules, and sharded models equal to single-device ones."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import PartitionSpec

from rlpjax.config import MeshConfig, ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.model import Decoder
from rlpjax.sharding import (
    batch_sharding,
    create_sharded_model,
    logical_to_spec,
    make_mesh,
    state_shardings,
)

CFG = ModelConfig(
    family="qwen3", vocab_size=64, hidden_size=32, intermediate_size=48, num_layers=2, num_heads=4, num_kv_heads=2,
    head_dim=8, qk_norm=True, tie_embeddings=False,
)


def test_make_mesh_fills_one_axis_and_rejects_bad_sizes():
    mesh = make_mesh(MeshConfig(data=2, fsdp=-1, tensor=2))
    assert dict(mesh.shape) == {"data": 2, "fsdp": 2, "tensor": 2}
    with pytest.raises(ConfigError, match="divide"):
        make_mesh(MeshConfig(data=3, fsdp=-1, tensor=1))
    with pytest.raises(ConfigError, match="device count"):
        make_mesh(MeshConfig(data=2, fsdp=2, tensor=1))
    with pytest.raises(ConfigError, match="at most one -1"):
        make_mesh(MeshConfig(data=-1, fsdp=-1, tensor=1))


def test_logical_rules_shard_divisible_axes_and_replicate_the_rest():
    mesh = make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))
    assert logical_to_spec(("vocab", "embed"), (64, 32), mesh) == PartitionSpec("tensor", "fsdp")
    assert logical_to_spec(("layers", "embed", "kv_heads", "head_dim"), (2, 32, 1, 8), mesh) == PartitionSpec(
        None, "fsdp", None, None
    )
    assert logical_to_spec(("batch", "length"), (8, 5), mesh) == PartitionSpec(("data", "fsdp"), None)
    assert logical_to_spec(("batch", "embed"), (8, 32), mesh) == PartitionSpec(("data", "fsdp"), None)
    assert batch_sharding(mesh).spec == PartitionSpec(("data", "fsdp"), None)


@pytest.fixture(scope="module")
def reference():
    model = Decoder(CFG, rngs=nnx.Rngs(4))
    tokens_bt = jnp.asarray(np.random.default_rng(0).integers(0, CFG.vocab_size, (8, 12)), jnp.int32)
    return model, tokens_bt, np.asarray(model(tokens_bt))


@pytest.mark.parametrize("shape", [(8, 1, 1), (2, 4, 1), (2, 2, 2)])
def test_sharded_forward_equals_single_device(shape, reference):
    ref_model, tokens_bt, expected = reference
    mesh = make_mesh(MeshConfig(*shape))
    model = create_sharded_model(CFG, mesh, seed=4)
    for got, want in zip(jax.tree.leaves(nnx.state(model)), jax.tree.leaves(nnx.state(ref_model))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)  # same init, jitted (ulp-level fusion)
    graphdef, state = nnx.split(model)
    shardings = state_shardings(state, mesh)
    assert nnx.state(model)["layers"]["q_weight_ldnh"][...].sharding == shardings["layers"]["q_weight_ldnh"].get_value()

    def forward(state, tokens_bt):
        return nnx.merge(graphdef, state)(tokens_bt)

    forward = jax.jit(forward, in_shardings=(shardings, batch_sharding(mesh)))
    logits = forward(state, jax.device_put(tokens_bt, batch_sharding(mesh)))
    np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=1e-5)


def test_grow_vocab_keeps_a_sharded_model_on_its_mesh(reference):
    from rlpjax.model import grow_vocab

    _, tokens_bt, expected = reference
    mesh = make_mesh(MeshConfig(2, 2, 2))
    grown = grow_vocab(create_sharded_model(CFG, mesh, seed=4), CFG.vocab_size + 3)  # 67 rows: vocab not divisible
    embed = grown.embed_vd[...]
    assert embed.sharding.mesh == mesh and embed.sharding.spec == PartitionSpec(None, "fsdp")
    np.testing.assert_allclose(grown(tokens_bt)[..., : CFG.vocab_size], expected, atol=1e-5, rtol=1e-5)
