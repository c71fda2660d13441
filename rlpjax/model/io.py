"""The rlpjax model directory: `model_config.json` (ModelConfig) + `params/` (orbax checkpoint of the params).

Used by `rlpjax convert` and by the trainer's `init_from`. Parameters are saved as a pure dict of arrays, so the
directory can be restored onto any mesh (each array is read straight into its sharding).
"""

from __future__ import annotations

import json
import pathlib

import jax
import orbax.checkpoint as ocp
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError, from_dict, to_dict
from rlpjax.model.decoder import Decoder, validate_model_config

CONFIG_FILE = "model_config.json"
PARAMS_DIR = "params"


def is_model_dir(path: str | pathlib.Path) -> bool:
    """Whether `path` looks like an rlpjax model directory."""
    return (pathlib.Path(path) / CONFIG_FILE).is_file()


def save_model_dir(path: str | pathlib.Path, cfg: ModelConfig, model: Decoder) -> None:
    """Write `cfg` and the model's parameters to directory `path` (which must not hold a model yet)."""
    directory = pathlib.Path(path).absolute()
    if (directory / PARAMS_DIR).exists():
        raise ConfigError(f"{directory / PARAMS_DIR} already exists; choose a new destination directory")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(directory / PARAMS_DIR, nnx.state(model, nnx.Param).to_pure_dict())
    checkpointer.wait_until_finished()


def load_model_dir(path: str | pathlib.Path, mesh: jax.sharding.Mesh | None = None, **config_overrides):
    """(ModelConfig, Decoder) restored from directory `path`, sharded on `mesh` (default: the first device)."""
    import dataclasses

    from rlpjax.sharding import state_shardings

    directory = pathlib.Path(path).absolute()
    if not is_model_dir(directory):
        raise FileNotFoundError(f"{directory / CONFIG_FILE} does not exist; pass a directory written by rlpjax convert")
    cfg = dataclasses.replace(from_dict(ModelConfig, json.loads((directory / CONFIG_FILE).read_text())), **config_overrides)
    validate_model_config(cfg)
    graphdef, abstract_state = nnx.split(nnx.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0))))
    if mesh is None:
        device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        shardings = jax.tree.map(lambda _: device, abstract_state.to_pure_dict())
    else:
        shardings = state_shardings(abstract_state, mesh).to_pure_dict()
    target = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_state.to_pure_dict(), shardings
    )
    restored = ocp.StandardCheckpointer().restore(directory / PARAMS_DIR, target)
    nnx.replace_by_pure_dict(abstract_state, restored)
    return cfg, nnx.merge(graphdef, abstract_state)
