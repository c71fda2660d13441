"""`run.init_from`: an rlpjax model directory or a run directory gives the starting parameters."""

import jax
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import CheckpointConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.io import save_model_dir
from rlpjax.sharding import create_sharded_model, make_mesh
from rlpjax.train.checkpoint import Checkpointer
from rlpjax.train.init import load_initial_params
from rlpjax.train.loop import build_state, train
from rlpjax.train.task import get_task
from train_helpers import tiny_config



def _params(cfg, seed):
    return nnx.split(create_sharded_model(cfg.model, make_mesh(cfg.mesh), seed), nnx.Param)[1]


def _assert_same(got, want):
    leaves_got, leaves_want = jax.tree.leaves(got), jax.tree.leaves(want)
    assert len(leaves_got) == len(leaves_want)
    for a, b in zip(leaves_got, leaves_want):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_init_from_a_model_directory_then_train_starts_from_it(tmp_path):
    cfg = tiny_config(tmp_path / "run")
    source = create_sharded_model(cfg.model, make_mesh(cfg.mesh), seed=5)
    save_model_dir(tmp_path / "model", cfg.model, source)
    template = _params(cfg, seed=0)
    loaded = load_initial_params(str(tmp_path / "model"), cfg.model, template)
    _assert_same(loaded, nnx.state(source, nnx.Param))
    assert [x.sharding for x in jax.tree.leaves(loaded)] == [x.sharding for x in jax.tree.leaves(template)]

    # One step at a vanishing learning rate: Adam moves each parameter by at most ~lr = 1e-12, far below float32
    # resolution at the init scale (0.02), so the saved params must still be the imported ones (atol 1e-8 below).
    train(tiny_config(tmp_path / "run", "run.steps=1", "optimizer.learning_rate=1e-12", "optimizer.warmup_steps=0",
                      f"run.init_from={tmp_path / 'model'}"))
    state = build_state(cfg, get_task(cfg), make_mesh(cfg.mesh))[1]
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints", CheckpointConfig())
    step, restored, _, _ = ckpt.restore_latest(jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state))
    ckpt.close()
    assert step == 1
    for got, want in zip(jax.tree.leaves(restored.params), jax.tree.leaves(nnx.state(source, nnx.Param))):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0, atol=1e-8)


def test_init_from_a_run_directory_reads_its_newest_params(tmp_path):
    cfg = tiny_config(tmp_path / "run", "run.seed=4")
    state = build_state(cfg, get_task(cfg), make_mesh(cfg.mesh))[1]
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints", CheckpointConfig())
    ckpt.save(7, state, {})
    ckpt.close()
    template = _params(cfg, seed=0)
    loaded = load_initial_params(str(tmp_path / "run"), cfg.model, template)
    _assert_same(loaded, state.params)
    assert [x.sharding for x in jax.tree.leaves(loaded)] == [x.sharding for x in jax.tree.leaves(template)]


def test_init_from_a_missing_or_unknown_directory_is_a_one_sentence_error(tmp_path):
    cfg = tiny_config(tmp_path / "run")
    with pytest.raises(ConfigError, match="does not exist"):
        load_initial_params(str(tmp_path / "nope"), cfg.model, None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="is neither an rlpjax model directory"):
        load_initial_params(str(tmp_path / "empty"), cfg.model, None)
