"""What `rlpjax eval --checkpoint DIR` can evaluate, loaded onto a mesh with its tokenizer.

DIR is one of (checked in this order):
- an rlpjax model directory (`model_config.json` + `params/`, from `rlpjax convert` or `save_model_dir`);
- a training run directory (`config.json` + `checkpoints/<step>/`): the newest readable step's policy parameters,
  for the model the run's objective trained (RLP may have grown the vocabulary); its `data.tokenizer` and
  `data.add_bos` are used unless a tokenizer is given;
- a Hugging Face model directory (`config.json` + `*.safetensors`).

DIR may be local or a URL (gs://, through `rlpjax.paths`); a Hugging Face directory on an object store is downloaded
to a temporary directory first (safetensors reads local files).

The tokenizer is the one given, else the run's, else a `tokenizer.json` inside DIR. A model whose vocabulary is
smaller than the tokenizer's ids is refused (the tokenizer is not the one the model was trained with).
"""

from __future__ import annotations

import dataclasses
import os

import jax
from flax import nnx

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.data import load_tokenizer
from rlpjax.paths import Path, as_path, local_dir


@dataclasses.dataclass
class LoadedModel:
    """A model ready for `rlpjax.sampling.sample`, with the tokenizer and prompt settings to use."""

    graphdef: nnx.GraphDef
    params: nnx.State
    model_cfg: ModelConfig
    tokenizer: object
    add_bos: bool
    """Whether prompts start with BOS (as the training documents did)."""
    source: str
    """What was loaded, in words (e.g. "run directory runs/x, step 200")."""


def load_for_eval(path: str | os.PathLike, tokenizer_spec: str | None = None,
                  mesh: jax.sharding.Mesh | None = None) -> LoadedModel:
    """Load `path` (model, run or Hugging Face directory) and its tokenizer; user errors are one sentence."""
    root = as_path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"checkpoint directory {str(root)!r} does not exist; pass a run directory, an "
                                "rlpjax model directory or a Hugging Face model directory")
    add_bos = None
    if (root / "model_config.json").is_file():
        from rlpjax.model.io import load_model_dir

        model_cfg, model = load_model_dir(root, mesh=mesh)
        source = f"rlpjax model directory {root}"
    elif (root / "checkpoints").is_dir() and (root / "config.json").is_file():
        model_cfg, model, source, run_tokenizer, add_bos = _load_run(root, mesh)
        tokenizer_spec = tokenizer_spec or run_tokenizer
    elif (root / "config.json").is_file() and any(root.glob("*.safetensors")):
        from rlpjax.model.hf import load_hf_model

        with local_dir(root) as local:
            model_cfg, model = load_hf_model(local, mesh=mesh)
        source = f"Hugging Face directory {root}"
    else:
        raise ConfigError(f"checkpoint directory {str(root)!r} holds nothing loadable; pass a run directory "
                          "(config.json + checkpoints/), an rlpjax model directory (model_config.json) or a "
                          "Hugging Face directory (config.json + *.safetensors)")
    tokenizer = _tokenizer(root, tokenizer_spec)
    if model_cfg.vocab_size < tokenizer.vocab_size:
        raise ConfigError(f"the model's vocabulary ({model_cfg.vocab_size}) is smaller than the tokenizer's "
                          f"({tokenizer.vocab_size} ids); pass the tokenizer the model was trained with (--tokenizer)")
    graphdef, params = nnx.split(model, nnx.Param)
    add_bos = tokenizer.add_bos if add_bos is None else add_bos
    return LoadedModel(graphdef, params, model_cfg, tokenizer, add_bos and tokenizer.bos_id is not None, source)


def _tokenizer(root: Path, spec: str | None):
    """The given tokenizer, else DIR/tokenizer.json; none at all is a user error."""
    if spec:
        return load_tokenizer(spec)
    if (root / "tokenizer.json").is_file():
        return load_tokenizer(str(root))
    raise ConfigError(f"{str(root)!r} holds no tokenizer.json; pass --tokenizer (a tokenizer.json path or 'byte')")


def _load_run(root: Path, mesh):
    """(model_cfg, Decoder, source, tokenizer spec, add_bos or None) of a run directory's newest readable step."""
    import orbax.checkpoint as ocp

    from rlpjax.config_io import load_json
    from rlpjax.model.decoder import Decoder
    from rlpjax.sharding import state_shardings
    from rlpjax.train.init import load_initial_params
    from rlpjax.train.task import get_task

    # finished steps only: on gs:// a step cut short by a kill is a numbered directory without commit_success.txt
    steps = sorted(ocp.CheckpointManager(as_path(root / "checkpoints", absolute=True)).all_steps())
    if not steps:
        raise ConfigError(f"run directory {str(root)!r} has no saved checkpoint step yet; train until one is "
                          "saved or pass another directory")
    cfg = load_json(root / "config.json")
    model_cfg = get_task(cfg).model_config()
    graphdef, abstract_params = nnx.split(nnx.eval_shape(lambda: Decoder(model_cfg, rngs=nnx.Rngs(0))), nnx.Param)
    if mesh is None:
        device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        shardings = jax.tree.map(lambda _: device, abstract_params)
    else:
        shardings = state_shardings(abstract_params, mesh)
    template = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_params,
                            shardings)
    params = load_initial_params(str(root), model_cfg, template)
    add_bos = cfg.data.add_bos  # None: the tokenizer decides
    source = f"run directory {root}, step {steps[-1]} (newest)"
    return model_cfg, nnx.merge(graphdef, params), source, cfg.data.tokenizer, add_bos
