"""The rlpjax model directory: `model_config.json` (ModelConfig) + `params/` (orbax checkpoint of the params), and
`load_run_model`, the policy of a training run directory (`config.json` + `checkpoints/<step>/state`).

Used by `rlpjax convert` and by the trainer's `init_from`. Parameters are saved as a pure dict of arrays, so the
directory can be restored onto any mesh (each array is read straight into its sharding). Directories may be local
or URLs (gs://, through `rlpjax.paths`).
"""

from __future__ import annotations

import json
import os

import jax
import orbax.checkpoint as ocp
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError, from_dict, to_dict
from rlpjax.model.decoder import Decoder, validate_model_config
from rlpjax.paths import Path, as_path, is_url

CONFIG_FILE = "model_config.json"
PARAMS_DIR = "params"


def is_model_dir(path: str | os.PathLike) -> bool:
    """Whether `path` looks like an rlpjax model directory."""
    return (as_path(path) / CONFIG_FILE).is_file()


def save_model_dir(path: str | os.PathLike, cfg: ModelConfig, model: Decoder) -> None:
    """Write `cfg` and the model's parameters to directory `path` (which must not hold a model yet)."""
    directory = as_path(path, absolute=True)
    if (directory / PARAMS_DIR).exists():
        raise ConfigError(f"{directory / PARAMS_DIR} already exists; choose a new destination directory")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(directory / PARAMS_DIR, nnx.state(model, nnx.Param).to_pure_dict())
    checkpointer.wait_until_finished()
    if not is_url(directory):  # an object store has no file modes
        from rlpjax.model.hf import make_readable

        make_readable(directory)


def load_model_dir(path: str | os.PathLike, mesh: jax.sharding.Mesh | None = None, **config_overrides):
    """(ModelConfig, Decoder) restored from directory `path`, sharded on `mesh` (default: the first device)."""
    import dataclasses

    from rlpjax.sharding import state_shardings

    directory = as_path(path, absolute=True)
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


def load_run_model(run_dir: str | os.PathLike, step: int | None = None):
    """(ModelConfig, Decoder, step, data.tokenizer) of a training run: its `config.json` model section with the
    vocabulary the run trained with (RLP grows it by the thought tokens; read from the checkpoint's embedding
    shape), the params of step `step` (default: the newest readable one) and the run's tokenizer spec."""
    import dataclasses

    import numpy as np

    from rlpjax.train.init import params_from_checkpoints

    directory = as_path(run_dir, absolute=True)
    config_file = directory / "config.json"
    if not config_file.is_file() or not (directory / "checkpoints").is_dir():
        raise ConfigError(f"{directory} is not a training run directory (config.json + checkpoints/); "
                          "pass RUN_DIR[@STEP] of an rlpjax train run")
    run_config = json.loads(config_file.read_text())
    cfg = from_dict(ModelConfig, run_config["model"])
    steps = [step] if step is not None else None
    vocab_size = _checkpoint_vocab(directory / "checkpoints", steps)
    cfg = dataclasses.replace(cfg, vocab_size=vocab_size)
    validate_model_config(cfg)
    graphdef, abstract_state = nnx.split(nnx.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0))))
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    template = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=device),
                            nnx.state(abstract_state, nnx.Param))
    found_step, params = params_from_checkpoints(directory / "checkpoints", template, steps)
    nnx.replace_by_pure_dict(abstract_state, jax.tree.map(np.asarray, params.to_pure_dict()))
    tokenizer = run_config.get("data", {}).get("tokenizer")
    return cfg, nnx.merge(graphdef, abstract_state), found_step, tokenizer


def _checkpoint_vocab(checkpoint_dir: Path, steps: list[int] | None) -> int:
    """The vocabulary size of the embedding saved in the newest (or the given) step."""
    available = sorted(ocp.CheckpointManager(checkpoint_dir).all_steps())
    for step in reversed(steps or available):
        if step not in available:
            raise ConfigError(f"{checkpoint_dir} has no checkpoint step {step}; it has {available}")
        try:
            tree = ocp.PyTreeCheckpointer().metadata(checkpoint_dir / str(step) / "state").item_metadata.tree
            return int(tree["params"]["embed_vd"]["value"].shape[0])
        except Exception:  # an unreadable step: params_from_checkpoints warns about it and moves on
            continue
    raise ConfigError(f"{checkpoint_dir} holds no readable checkpoint; the run saved no step yet")
