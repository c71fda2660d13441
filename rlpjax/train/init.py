"""`run.init_from`: start training from an rlpjax model directory, a training run's checkpoint, or a Hugging Face
model directory. The loaded parameters replace the freshly initialised ones leaf by leaf, keeping their shardings.
"""

from __future__ import annotations

import pathlib
import warnings

import jax
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError


def load_initial_params(path: str, model_cfg: ModelConfig, params_template):
    """Parameters read from `path`, placed like `params_template` (an nnx.State of the configured model)."""
    root = pathlib.Path(path)
    if not root.exists():
        raise ConfigError(f"run.init_from {path!r} does not exist; give an rlpjax model directory, a run directory "
                          "or a Hugging Face model directory")
    if (root / "model_config.json").is_file():
        from rlpjax.model.io import load_model_dir

        _, model = load_model_dir(root, mesh=_mesh_of(params_template))
        loaded = _params_with_vocab(model, model_cfg.vocab_size)
    elif (root / "config.json").is_file() and any(root.glob("*.safetensors")):
        from rlpjax.model.hf import load_hf_model

        _, model = load_hf_model(root, mesh=_mesh_of(params_template))
        loaded = _params_with_vocab(model, model_cfg.vocab_size)
    elif (root / "checkpoints").is_dir() or root.name == "checkpoints":
        return _params_from_run(root if root.name == "checkpoints" else root / "checkpoints", params_template)
    else:
        raise ConfigError(f"run.init_from {path!r} is neither an rlpjax model directory (model_config.json), "
                          "a run directory (checkpoints/) nor a Hugging Face directory (config.json + *.safetensors)")
    _check_shapes(loaded, params_template, path)
    return jax.tree.map(lambda new, old: jax.device_put(new.astype(old.dtype), old.sharding), loaded, params_template)


def _params_with_vocab(model, vocab_size: int):
    """The model's parameters, its vocabulary grown to `vocab_size` (new rows = mean rows) when that is larger."""
    from rlpjax.model.vocab import grow_vocab

    if vocab_size > model.cfg.vocab_size:
        model = grow_vocab(model, vocab_size)
    return nnx.state(model, nnx.Param)


def _mesh_of(params_template):
    """The mesh the configured model lives on (loaded weights are read straight onto it)."""
    return jax.tree.leaves(params_template)[0].sharding.mesh


def _params_from_run(checkpoint_dir: pathlib.Path, params_template):
    """The policy parameters of the run's newest good checkpoint (optimizer state, EMA and data position are not
    read: a run started from another run's weights begins its own schedule)."""
    import orbax.checkpoint as ocp

    from rlpjax.train.checkpoint import abstract_like

    steps = sorted(ocp.CheckpointManager(checkpoint_dir.absolute()).all_steps())
    target = {"params": abstract_like(params_template)}
    for step in reversed(steps):
        try:
            restored = ocp.PyTreeCheckpointer().restore(
                checkpoint_dir.absolute() / str(step) / "state",
                args=ocp.args.PyTreeRestore(item=target, partial_restore=True,
                                            restore_args=ocp.checkpoint_utils.construct_restore_args(target)))
        except Exception as err:  # an unreadable step: warn and use the one before, as a resume would
            warnings.warn(f"run.init_from: checkpoint step {step} in {checkpoint_dir} is unreadable "
                          f"({type(err).__name__}); trying the previous step", RuntimeWarning, stacklevel=2)
            continue
        return restored["params"]
    raise ConfigError(f"run.init_from {str(checkpoint_dir)!r} holds no readable checkpoint; point it at a run "
                      "directory that saved at least one step")


def _check_shapes(loaded, template, path: str) -> None:
    loaded_shapes = {k: v.shape for k, v in nnx.to_flat_state(loaded)}
    for key, value in nnx.to_flat_state(template):
        if key not in loaded_shapes:
            raise ConfigError(f"run.init_from {path!r} has no parameter {'/'.join(map(str, key))}; "
                              "its architecture differs from the configured model")
        if loaded_shapes[key] != value.shape:
            raise ConfigError(f"run.init_from {path!r}: parameter {'/'.join(map(str, key))} has shape "
                              f"{loaded_shapes[key]} but the configured model expects {value.shape}; "
                              "set the model section to match the checkpoint")
