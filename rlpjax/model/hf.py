"""Hugging Face checkpoints (safetensors only) to and from rlpjax models, for every registered model family.

The family (`rlpjax/model/families/`) names the architecture, its per-layer tensors and its own config.json fields;
this module holds what every family shares: the config fields, the embedding / final norm / output head names, the
layout conversions and the safetensors reading and writing.

- `config_from_hf(hf_config: dict) -> ModelConfig` accepts both config dialects (top-level `rope_theta` and
  `torch_dtype`, or the newer `rope_parameters: {rope_theta}` and `dtype`).
- `load_hf_model(path, mesh=None, **config_overrides) -> (ModelConfig, Decoder)` reads config.json and one
  `model.safetensors` or the shards named by `model.safetensors.index.json`, straight into a (sharded) model.
- `save_hf_model(path, cfg, model, ...)` writes config.json, generation_config.json, the tokenizer files and
  `model.safetensors` (or `model-0000i-of-0000n.safetensors` shards + `model.safetensors.index.json` above
  `max_shard_size`, as transformers does) that transformers loads; files 0644, directories 0755.

Weight layout: HF linear weights are [out, in]; ours are [in, out] with heads split out (`q_weight_dnh` etc.) and
stacked over layers. RoPE uses the same rotate-half layout, so q/k need no permutation.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

import jax
import numpy as np
from flax import nnx
from safetensors import safe_open
from safetensors.numpy import save_file

from rlpjax.config import ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.family_registry import all_families, get_family
from rlpjax.model.families.base import hf_rope, hf_rope_type
from rlpjax.model.decoder import Decoder, validate_model_config
from rlpjax.paths import staged_dir


def config_from_hf(hf: dict, source: str = "config.json") -> ModelConfig:
    """The ModelConfig of a Hugging Face config dict; unsupported features raise a one-sentence ConfigError."""
    architectures = hf.get("architectures") or []
    arch = architectures[0] if architectures else None
    families = all_families().values()
    architectures_known = sorted({family.hf_architecture for family in families})
    if arch not in architectures_known:
        raise ConfigError(
            f"{source}: architecture {arch!r} is not supported; rlpjax converts {', '.join(architectures_known)}"
        )
    claiming = [family for family in families if family.claims_hf(hf)]
    if not claiming:  # e.g. a rope_type "yarn"
        rope_types = sorted(family.hf_rope_type for family in families if family.hf_architecture == arch)
        raise ConfigError(f"{source}: {hf_rope(hf)[0]}.rope_type={hf_rope_type(hf)!r} (RoPE scaling) is not "
                          f"supported for {arch}; rlpjax implements {', '.join(rope_types)}")
    family = claiming[0]
    rope = hf_rope(hf)[1]
    if hf.get("hidden_act", "silu") != "silu" or hf.get("mlp_bias", False):
        raise ConfigError(f"{source}: only a bias-free SiLU (SwiGLU) MLP is supported")
    if hf.get("use_sliding_window", False):
        raise ConfigError(f"{source}: sliding-window attention is not supported; set use_sliding_window=false")
    num_heads = hf["num_attention_heads"]
    dtype = str(hf.get("dtype") or hf.get("torch_dtype") or "float32").replace("torch.", "")
    cfg = ModelConfig(
        family=family.name,
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        intermediate_size=hf["intermediate_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=num_heads,
        num_kv_heads=hf.get("num_key_value_heads") or num_heads,
        head_dim=hf.get("head_dim") or hf["hidden_size"] // num_heads,
        rope_theta=float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))),
        rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        max_seq_len=int(hf.get("max_position_embeddings", 2048)),
        param_dtype="bfloat16" if dtype == "bfloat16" else "float32",
        **family.config_from_hf(hf, source),
    )
    validate_model_config(cfg)
    return cfg


def config_to_hf(cfg: ModelConfig) -> dict:
    """A Hugging Face config.json dict for `cfg` (both RoPE dialects written, for old and new transformers)."""
    family = get_family(cfg.family)
    rope = family.hf_rope_parameters(cfg)
    return {
        "architectures": [family.hf_architecture],
        "model_type": family.hf_model_type or family.name,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_parameters": rope,
        "rope_scaling": None if rope["rope_type"] == "default" else rope,
        "max_position_embeddings": cfg.max_seq_len,
        "tie_word_embeddings": cfg.tie_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "dtype": cfg.param_dtype,
        "torch_dtype": cfg.param_dtype,
    }


def _layer_mapping(cfg: ModelConfig, names) -> dict[str, tuple[str, str]]:
    """Our stacked block parameters `names` -> (HF name template with {i}, layout conversion kind), from the
    family's table and in its order (the checkpoint's tensor order)."""
    family = get_family(cfg.family)
    missing = [name for name in names if name not in family.hf_layer_names]
    if missing:
        raise ConfigError(f"model family {cfg.family!r} has no Hugging Face name for {', '.join(missing)}; "
                          "add it to the family's hf_layer_names or turn the feature off")
    return {name: entry for name, entry in family.hf_layer_names.items() if name in names}


def _from_hf(tensor: np.ndarray, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    """One HF tensor in our layout of `shape` (one layer's slice)."""
    if kind in ("copy", "heads"):
        return tensor.reshape(shape)
    # transpose: [out, in] -> [in, out]; in_heads: [heads * head_dim, in] -> [in, heads, head_dim];
    # heads_out: [out, heads * head_dim] -> [heads, head_dim, out]
    return tensor.T.reshape(shape)


def _to_hf(array: np.ndarray, kind: str) -> np.ndarray:
    """One layer's array in our layout -> the HF tensor."""
    if kind == "copy":
        return array
    if kind == "heads":
        return array.reshape(-1)
    if kind == "transpose":
        return array.T
    if kind == "in_heads":
        return array.reshape(array.shape[0], -1).T
    return array.reshape(-1, array.shape[-1]).T  # heads_out


class _SafetensorsReader:
    """Reads named tensors from one safetensors file or an index of shards, as NumPy arrays."""

    def __init__(self, directory: pathlib.Path):
        index = directory / "model.safetensors.index.json"
        single = directory / "model.safetensors"
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
            self.file_of = {name: directory / shard for name, shard in weight_map.items()}
        elif single.is_file():
            with safe_open(single, framework="np") as handle:
                self.file_of = {name: single for name in handle.keys()}
        else:
            raise FileNotFoundError(
                f"{directory} has no model.safetensors or model.safetensors.index.json; rlpjax reads safetensors only"
            )
        self.directory = directory

    def __contains__(self, name: str) -> bool:
        return name in self.file_of

    def get(self, name: str) -> np.ndarray:
        if name not in self.file_of:
            raise ConfigError(f"checkpoint {self.directory} is missing tensor {name!r}; the file is incomplete")
        with safe_open(self.file_of[name], framework="np") as handle:
            return handle.get_tensor(name)


def _host_state(cfg: ModelConfig, reader: _SafetensorsReader, abstract_state: nnx.State) -> dict:
    """Pure-dict parameters in our layout (NumPy, param dtype) read from the checkpoint."""

    def checked(array: np.ndarray, shape, name: str) -> np.ndarray:
        if tuple(array.shape) != tuple(shape):
            raise ConfigError(f"tensor {name!r} has shape {array.shape} but the config implies {tuple(shape)}")
        return array

    pure = abstract_state.to_pure_dict()
    dtype = pure["embed_vd"].dtype
    out = {"embed_vd": checked(reader.get("model.embed_tokens.weight"), pure["embed_vd"].shape, "embed_tokens")}
    out["final_norm_d"] = checked(reader.get("model.norm.weight"), pure["final_norm_d"].shape, "model.norm.weight")
    if not cfg.tie_embeddings:
        lm_head = reader.get("lm_head.weight")
        out["lm_head_dv"] = checked(lm_head.T, pure["lm_head_dv"].shape, "lm_head.weight")
    layers = {}
    for ours, (template, kind) in _layer_mapping(cfg, pure["layers"]).items():
        shape = pure["layers"][ours].shape[1:]
        layers[ours] = np.stack([
            checked(_from_hf(reader.get(template.format(i=i)), kind, shape), shape, template.format(i=i))
            for i in range(cfg.num_layers)
        ])
    out["layers"] = layers
    return jax.tree.map(lambda a: np.asarray(a).astype(dtype), out)


def load_hf_model(path: str | pathlib.Path, mesh: jax.sharding.Mesh | None = None, **config_overrides):
    """(ModelConfig, Decoder) from a local Hugging Face directory; placed on `mesh` by the rules table if given.

    `config_overrides` replace ModelConfig fields that do not change the weights (scan_layers, remat_policy,
    compute_dtype, param_dtype, max_seq_len).
    """
    from rlpjax.sharding import state_shardings

    directory = pathlib.Path(path)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} does not exist; pass a Hugging Face model directory")
    cfg = config_from_hf(json.loads(config_file.read_text()), str(config_file))
    cfg = dataclasses.replace(cfg, **config_overrides)
    reader = _SafetensorsReader(directory)
    graphdef, abstract_state = nnx.split(nnx.eval_shape(lambda: Decoder(cfg, rngs=nnx.Rngs(0))))
    host = _host_state(cfg, reader, abstract_state)
    if mesh is not None:
        shardings = state_shardings(abstract_state, mesh).to_pure_dict()
        host = jax.tree.map(jax.device_put, host, shardings)
    else:
        host = jax.tree.map(jax.numpy.asarray, host)
    nnx.replace_by_pure_dict(abstract_state, host)
    return cfg, nnx.merge(graphdef, abstract_state)


def parse_size(size: int | str) -> int:
    """Bytes of `size`: an int, or a string like "5GB" (10^9, as transformers counts) or "500MiB" (2^20)."""
    if isinstance(size, int):
        return size
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(size))
    if not match or match.group(2).upper() not in units or float(match.group(1)) <= 0:
        raise ConfigError(f"shard size {size!r} is not a size; write e.g. 5GB, 500MB or 2GiB")
    return int(float(match.group(1)) * units[match.group(2).upper()])


def hf_tensors(cfg: ModelConfig, model: Decoder) -> dict[str, np.ndarray]:
    """The model's parameters under their HF names, in HF layout (checkpoint order: embeddings, layers, head)."""
    pure = jax.tree.map(lambda a: np.asarray(jax.device_get(a)), nnx.state(model, nnx.Param).to_pure_dict())
    tensors = {"model.embed_tokens.weight": pure["embed_vd"]}
    mapping = _layer_mapping(cfg, pure["layers"])
    for i in range(cfg.num_layers):
        for ours, (template, kind) in mapping.items():
            tensors[template.format(i=i)] = _to_hf(pure["layers"][ours][i], kind)
    tensors["model.norm.weight"] = pure["final_norm_d"]
    if not cfg.tie_embeddings:
        tensors["lm_head.weight"] = pure["lm_head_dv"].T
    return {name: np.ascontiguousarray(t) for name, t in tensors.items()}


def _shards(tensors: dict[str, np.ndarray], max_bytes: int) -> list[dict[str, np.ndarray]]:
    """Tensors split in order into shards of at most `max_bytes` (a larger tensor gets a shard of its own)."""
    shards, current, current_bytes = [], {}, 0
    for name, tensor in tensors.items():
        if current and current_bytes + tensor.nbytes > max_bytes:
            shards.append(current)
            current, current_bytes = {}, 0
        current[name] = tensor
        current_bytes += tensor.nbytes
    return shards + [current] if current else shards


def make_readable(directory: pathlib.Path) -> None:
    """Files 0644 and directories 0755 under (and including) `directory` (orbax and safetensors may write 0600)."""
    directory.chmod(0o755)
    for entry in directory.rglob("*"):
        entry.chmod(0o755 if entry.is_dir() else 0o644)


def save_hf_model(path: str | pathlib.Path, cfg: ModelConfig, model: Decoder, *, max_shard_size: int | str = "5GB",
                  tokenizer: str | None = None) -> list[str]:
    """Write a Hugging Face model directory `path`; returns notes for the user (e.g. a tokenizer that was skipped).

    `tokenizer` is the run's `data.tokenizer` (a tokenizer.json, a directory holding one, or "byte"): its
    tokenizer.json and tokenizer_config.json are copied beside the weights and its BOS/EOS ids written into
    config.json and generation_config.json. The byte tokenizer has no Hugging Face form and is skipped with a note.
    """
    with staged_dir(path) as directory:  # `path` may be gs://: written locally, then uploaded
        shards = _shards(hf_tensors(cfg, model), parse_size(max_shard_size))
        if len(shards) == 1:
            save_file(shards[0], str(directory / "model.safetensors"), metadata={"format": "pt"})
        else:
            weight_map, total = {}, 0
            for i, shard in enumerate(shards, start=1):
                name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
                save_file(shard, str(directory / name), metadata={"format": "pt"})
                weight_map.update(dict.fromkeys(shard, name))
                total += sum(t.nbytes for t in shard.values())
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
        special_ids, notes = _copy_tokenizer(tokenizer, directory)
        hf_config = {**config_to_hf(cfg), **special_ids}
        (directory / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
        generation = {"_from_model_config": True, **special_ids}
        (directory / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
        make_readable(directory)
    return notes


def _copy_tokenizer(spec: str | None, directory: pathlib.Path) -> tuple[dict, list[str]]:
    """Copy the tokenizer files of `spec` into `directory`; ({bos_token_id, eos_token_id, pad_token_id}, notes)."""
    from rlpjax.data.tokenizer import load_tokenizer, tokenizer_json_path

    if not spec:
        return {}, ["no tokenizer given: the export has no tokenizer files"]
    if spec == "byte":
        return {}, ["the byte tokenizer has no Hugging Face form: the export has no tokenizer files"]
    source = tokenizer_json_path(spec)
    tok = load_tokenizer(spec)
    (directory / "tokenizer.json").write_bytes(source.read_bytes())  # the source may be gs://
    config_file = source.parent / "tokenizer_config.json"
    if config_file.is_file():
        (directory / "tokenizer_config.json").write_bytes(config_file.read_bytes())
    else:  # a bare tokenizer.json: name its special tokens so transformers' AutoTokenizer finds them
        names = {key: tok.decode([i]) for key, i in (("bos_token", tok.bos_id), ("eos_token", tok.eos_id),
                                                     ("pad_token", tok.pad_id)) if i is not None}
        config = {"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": tok.add_bos,
                  "add_eos_token": tok.add_eos, **names}
        (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    ids = {"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "pad_token_id": tok.pad_id}
    return {key: i for key, i in ids.items() if i is not None}, []
