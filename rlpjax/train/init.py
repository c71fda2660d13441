"""`run.init_from`: start training from an rlpjax model directory, a training run's checkpoint, or a Hugging Face
model directory (or a Hugging Face Hub id, resolved to its local snapshot). The loaded parameters replace the freshly
initialised ones leaf by leaf, keeping their shardings.

The source may be local or a URL (gs://, through `rlpjax.paths`); a Hugging Face directory on an object store is
downloaded to a temporary directory first (safetensors reads local files).

`model_config_for_init(cfg)` decides the model section before the model is built: from a Hugging Face or rlpjax
model directory the architecture is taken from its config (the configured one need not match by hand), while the
run keeps its runtime fields (`RUNTIME_FIELDS`: dtypes, scan_layers, remat_policy, max_seq_len, init_std).
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings

import jax
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError, from_dict
from rlpjax.paths import Path, as_path, local_dir

RUNTIME_FIELDS = ("param_dtype", "compute_dtype", "scan_layers", "remat_policy", "max_seq_len", "init_std")
"""ModelConfig fields that do not change the weights: the run's values are kept over the init_from model's."""


def model_config_for_init(cfg) -> ModelConfig:
    """The model section to build for `cfg` (a Config): `cfg.model` unless `run.init_from` is a Hugging Face or
    rlpjax model directory, whose architecture then replaces the configured one (runtime fields kept; one printed
    line says what was taken and which configured fields it overrode)."""
    if not cfg.run.init_from:
        return cfg.model
    from rlpjax.data.tokenizer import resolve_local

    root = as_path(resolve_local(cfg.run.init_from, "run.init_from"))
    if (root / "model_config.json").is_file():
        source = root / "model_config.json"
        found = from_dict(ModelConfig, json.loads(source.read_text()))
    elif (root / "config.json").is_file() and any(root.glob("*.safetensors")):
        from rlpjax.model.hf import config_from_hf

        source = root / "config.json"
        found = config_from_hf(json.loads(source.read_text()), str(source))
    else:  # a run directory (or an error load_initial_params reports): its model section must match already
        return cfg.model
    chosen = dataclasses.replace(found, **{name: getattr(cfg.model, name) for name in RUNTIME_FIELDS})
    overridden = [f"{f.name}: {getattr(cfg.model, f.name)!r} -> {getattr(chosen, f.name)!r}"
                  for f in dataclasses.fields(ModelConfig)
                  if getattr(cfg.model, f.name) != getattr(chosen, f.name)
                  and getattr(cfg.model, f.name) != f.default]
    replaced = f"; configured values replaced: {'; '.join(overridden)}" if overridden else ""
    print(f"[rlpjax] run.init_from: model architecture taken from {source} ({chosen.family}, {chosen.num_layers} "
          f"layers, hidden {chosen.hidden_size}, vocab {chosen.vocab_size}); runtime fields kept from the run "
          f"({', '.join(RUNTIME_FIELDS)}){replaced}")
    return chosen


def load_initial_params(path: str, model_cfg: ModelConfig, params_template):
    """Parameters read from `path`, placed like `params_template` (an nnx.State of the configured model)."""
    from rlpjax.data.tokenizer import resolve_local

    root = as_path(resolve_local(path, "run.init_from"))
    if not root.exists():
        raise ConfigError(f"run.init_from {path!r} does not exist; give an rlpjax model directory, a run directory "
                          "or a Hugging Face model directory")
    if (root / "model_config.json").is_file():
        from rlpjax.model.io import load_model_dir

        _, model = load_model_dir(root, mesh=_mesh_of(params_template))
        loaded = _params_with_vocab(model, model_cfg.vocab_size)
    elif (root / "config.json").is_file() and any(root.glob("*.safetensors")):
        from rlpjax.model.hf import load_hf_model

        with local_dir(root) as local:
            _, model = load_hf_model(local, mesh=_mesh_of(params_template))
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


def _params_from_run(checkpoint_dir: Path, params_template):
    """The policy parameters of the run's newest good checkpoint (optimizer state, EMA and data position are not
    read: a run started from another run's weights begins its own schedule)."""
    from rlpjax.train.checkpoint import abstract_like

    return params_from_checkpoints(checkpoint_dir, abstract_like(params_template))[1]


def params_from_checkpoints(checkpoint_dir: str | os.PathLike, target, steps: list[int] | None = None):
    """(step, params) of the newest readable step among `steps` (default: all) of a run's checkpoint directory,
    restored onto `target` (ShapeDtypeStructs with shardings); an unreadable step warns and the one before is used."""
    import orbax.checkpoint as ocp

    checkpoint_dir = as_path(checkpoint_dir, absolute=True)
    steps = steps or sorted(ocp.CheckpointManager(checkpoint_dir).all_steps())
    target = {"params": target}
    for step in reversed(steps):
        try:
            restored = ocp.PyTreeCheckpointer().restore(
                checkpoint_dir / str(step) / "state",
                args=ocp.args.PyTreeRestore(item=target, partial_restore=True,
                                            restore_args=ocp.checkpoint_utils.construct_restore_args(target)))
        except Exception as err:  # an unreadable step: warn and use the one before, as a resume would
            warnings.warn(f"checkpoint step {step} in {checkpoint_dir} is unreadable "
                          f"({type(err).__name__}); trying the previous step", RuntimeWarning, stacklevel=2)
            continue
        return step, restored["params"]
    raise ConfigError(f"{str(checkpoint_dir)!r} holds no readable checkpoint; point at a run "
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
