"""Checkpoints: restore onto another mesh / device count, fallback past a corrupt latest step, retention."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlpjax.config import CheckpointConfig, MeshConfig
from rlpjax.sharding import make_mesh
from rlpjax.train.checkpoint import Checkpointer, abstract_like
from rlpjax.train.loop import build_state
from rlpjax.train.task import get_task
from train_helpers import tiny_config


def _state_on(cfg, mesh_sizes, devices):
    mesh = make_mesh(MeshConfig(*mesh_sizes), devices=devices)
    return build_state(cfg, get_task(cfg), mesh)[1]


def test_checkpoint_from_mesh_2x4_restores_on_4_devices_and_on_1(tmp_path):
    cfg = tiny_config(tmp_path / "run", "mesh.data=2", "mesh.fsdp=4", "run.seed=3")
    state = _state_on(cfg, (2, 4, 1), jax.devices())
    state = jax.tree.map(lambda x: x + 0.5 if jnp.issubdtype(x.dtype, jnp.floating) else x, state)  # non-trivial
    saved = jax.tree.map(np.asarray, state)
    assert len(jax.tree.leaves(state.params)[0].sharding.device_set) == 8
    writer = Checkpointer(tmp_path / "ckpt", CheckpointConfig(keep_last=2))
    writer.save(4, state, {"cursor": 7})
    writer.close()
    other_seed = tiny_config(tmp_path / "run", "run.seed=9")  # targets start from different values
    for sizes, devices in (((4, 1, 1), jax.devices()[:4]), ((1, 1, 1), jax.devices()[:1])):
        target = _state_on(other_seed, sizes, devices)
        reader = Checkpointer(tmp_path / "ckpt", CheckpointConfig())
        step, restored, data_state, _ = reader.restore_latest(abstract_like(target))
        reader.close()
        assert step == 4 and data_state == {"cursor": 7}
        assert {len(x.sharding.device_set) for x in jax.tree.leaves(restored)} == {len(devices)}
        for got, want in zip(jax.tree.leaves(restored), jax.tree.leaves(saved)):
            np.testing.assert_array_equal(np.asarray(got), want)


def _small_state(value: float):
    return {"w": jnp.full((64, 32), value, jnp.float32), "b": jnp.arange(32, dtype=jnp.float32) * value}


def test_truncated_latest_step_falls_back_to_the_previous_one_with_a_warning(tmp_path):
    ckpt = Checkpointer(tmp_path, CheckpointConfig(keep_last=3))
    for step in (1, 2):
        ckpt.save(step, _small_state(float(step)), {"step": step})
    ckpt.close()
    files = [p for p in (tmp_path / "2" / "state").rglob("*") if p.is_file()]
    biggest = max(files, key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    reader = Checkpointer(tmp_path, CheckpointConfig(keep_last=3))
    with pytest.warns(RuntimeWarning, match=r"checkpoint step 2 .* is incomplete or corrupt .*falling back to step 1"):
        step, state, data_state, _ = reader.restore_latest(abstract_like(_small_state(0.0)))
    reader.close()
    assert step == 1 and data_state == {"step": 1}
    np.testing.assert_array_equal(np.asarray(state["w"]), np.full((64, 32), 1.0, np.float32))


def test_unfinished_save_is_not_a_step(tmp_path):
    ckpt = Checkpointer(tmp_path, CheckpointConfig())
    ckpt.save(1, _small_state(1.0), {})
    ckpt.close()
    # What a process killed mid-save leaves: orbax's temporary directory, never renamed to "2".
    (tmp_path / "2.orbax-checkpoint-tmp-1700000000").mkdir()
    (tmp_path / "2.orbax-checkpoint-tmp-1700000000" / "partial").write_text("x")
    reader = Checkpointer(tmp_path, CheckpointConfig())
    assert reader.all_steps() == [1]
    assert reader.restore_latest(abstract_like(_small_state(0.0)))[0] == 1
    reader.close()


def test_retention_keeps_the_last_k_and_every_mth(tmp_path):
    ckpt = Checkpointer(tmp_path, CheckpointConfig(keep_last=2, keep_every=4, async_save=False))
    for step in range(1, 10):
        ckpt.save(step, _small_state(float(step)), {})
    ckpt.close()
    assert sorted(int(p.name) for p in pathlib.Path(tmp_path).iterdir() if p.name.isdigit()) == [4, 8, 9]
