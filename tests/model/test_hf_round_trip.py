"""Hugging Face export from a run directory, sharded safetensors, tokenizer files, init_from an HF directory (model
section derived from its config.json), RoPE-scaling refusal and Hub-id resolution."""

from __future__ import annotations

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest
import tokenizers
from flax import nnx
from safetensors.numpy import load_file

from model_helpers import FAMILY_CONFIGS, random_model
from rlpjax import config_io
from rlpjax.cli import main as cli_main
from rlpjax.config import CheckpointConfig, Config
from rlpjax.config_io import ConfigError
from rlpjax.data.tokenizer import load_tokenizer, resolve_local
from rlpjax.model.hf import config_from_hf, config_to_hf, load_hf_model, parse_size, save_hf_model
from rlpjax.sharding import create_sharded_model, make_mesh
from rlpjax.train.checkpoint import Checkpointer
from rlpjax.train.init import RUNTIME_FIELDS, load_initial_params, model_config_for_init

TOKENS = np.random.default_rng(1).integers(0, 40, size=(2, 7))


def _tokenizer_dir(path):
    """A tiny word-level tokenizer.json (ids 0..44) with BOS/EOS named by a tokenizer_config.json."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"w{i}": i for i in range(3, 45)}}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<s>", "</s>"])
    path.mkdir(parents=True)
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True}))
    return path


def _params(model):
    return {"/".join(map(str, k)): np.asarray(v) for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}


def _assert_same_params(got, want):
    got, want = _params(got), _params(want)
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def _modes(directory):
    return {p.relative_to(directory).as_posix(): p.stat().st_mode & 0o777 for p in [directory, *directory.rglob("*")]}


def test_parse_size_counts_like_transformers():
    assert parse_size("5GB") == 5 * 10**9
    assert parse_size("20KB") == 20_000
    assert parse_size("2GiB") == 2 * 2**30
    assert parse_size(123) == 123
    for bad in ("five", "5XB", "0MB"):
        with pytest.raises(ConfigError, match="is not a size"):
            parse_size(bad)


def test_sharded_export_loads_back_equal_and_in_transformers(tmp_path):
    cfg = FAMILY_CONFIGS["qwen3"]
    model = random_model(cfg, seed=3)
    tok_dir = _tokenizer_dir(tmp_path / "tok")
    notes = save_hf_model(tmp_path / "hf", cfg, model, max_shard_size="20KB", tokenizer=str(tok_dir))
    out = tmp_path / "hf"
    assert notes == []

    # Independent shard count: greedy packing of the float32 tensors in checkpoint order into <= 20,000 bytes.
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shard_files = sorted(set(index["weight_map"].values()))
    tensors = {}
    for name in shard_files:
        shard = load_file(out / name)
        nbytes = sum(t.nbytes for t in shard.values())
        assert nbytes <= 20_000 or len(shard) == 1
        tensors.update(shard)
    assert set(tensors) == set(index["weight_map"])
    assert index["metadata"]["total_size"] == sum(t.nbytes for t in tensors.values())
    assert sum(t.size for t in tensors.values()) == sum(v.size for v in _params(model).values())
    assert shard_files[0] == f"model-00001-of-{len(shard_files):05d}.safetensors" and len(shard_files) > 2
    assert not (out / "model.safetensors").exists()

    _, back = load_hf_model(out)
    _assert_same_params(back, model)

    config = json.loads((out / "config.json").read_text())
    generation = json.loads((out / "generation_config.json").read_text())
    assert (config["bos_token_id"], config["eos_token_id"]) == (1, 2)
    assert (generation["bos_token_id"], generation["eos_token_id"]) == (1, 2)
    assert set(_modes(out).values()) == {0o644, 0o755} and _modes(out)["."] == 0o755
    assert all(mode == 0o644 for name, mode in _modes(out).items() if name != ".")

    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        expected = hf(torch.tensor(TOKENS)).logits.numpy()
    # float32 on both sides; 1e-4 covers the different matmul/accumulation orders of torch and XLA CPU kernels.
    np.testing.assert_allclose(model(jnp.asarray(TOKENS)), expected, atol=1e-4, rtol=1e-4)
    hf_tok = transformers.AutoTokenizer.from_pretrained(out)
    ours = load_tokenizer(str(out))
    assert hf_tok("w3 w7 w44", add_special_tokens=False)["input_ids"] == ours.encode("w3 w7 w44") == [3, 7, 44]
    assert (hf_tok.bos_token_id, hf_tok.eos_token_id) == (ours.bos_id, ours.eos_id) == (1, 2)


def _fake_run(run_dir, tokenizer: str, steps: dict[int, nnx.Module], vocab_in_config: int):
    """A training run directory: config.json (model section with `vocab_in_config`) + checkpoints/<step>/state."""
    model_cfg = dataclasses.replace(next(iter(steps.values())).cfg, vocab_size=vocab_in_config)
    cfg = dataclasses.replace(Config(), model=model_cfg, data=dataclasses.replace(Config().data, tokenizer=tokenizer))
    run_dir.mkdir()
    config_io.save_json(cfg, run_dir / "config.json")
    ckpt = Checkpointer(run_dir / "checkpoints", CheckpointConfig())
    for step, model in steps.items():
        ckpt.save(step, {"params": nnx.state(model, nnx.Param), "step": jnp.asarray(step)}, {})
    ckpt.close()


def test_convert_a_run_directory_newest_or_chosen_step_with_grown_vocabulary(tmp_path):
    # The checkpoint's vocabulary (47) is larger than config.json's (44), as after RLP adds its thought tokens.
    early, late = random_model(FAMILY_CONFIGS["qwen3"], seed=5), random_model(FAMILY_CONFIGS["qwen3"], seed=6)
    tok_dir = _tokenizer_dir(tmp_path / "tok")
    _fake_run(tmp_path / "run", str(tok_dir), {3: early, 7: late}, vocab_in_config=44)

    assert cli_main(["convert", "rlpjax-to-hf", str(tmp_path / "run"), str(tmp_path / "newest")]) == 0
    cfg, back = load_hf_model(tmp_path / "newest")
    assert cfg.vocab_size == 47
    _assert_same_params(back, late)
    assert (tmp_path / "newest" / "tokenizer.json").read_bytes() == (tok_dir / "tokenizer.json").read_bytes()

    assert cli_main(["convert", "rlpjax-to-hf", f"{tmp_path / 'run'}@3", str(tmp_path / "early"),
                     "--max-shard-size", "30KB"]) == 0
    _, back = load_hf_model(tmp_path / "early")
    _assert_same_params(back, early)
    assert (tmp_path / "early" / "model.safetensors.index.json").is_file()
    assert cli_main(["convert", "rlpjax-to-hf", f"{tmp_path / 'run'}@5", str(tmp_path / "x")]) == 2


def test_byte_tokenizer_export_is_skipped_with_a_note(tmp_path, capsys):
    _fake_run(tmp_path / "run", "byte", {1: random_model(FAMILY_CONFIGS["llama"], seed=1)}, vocab_in_config=61)
    assert cli_main(["convert", "rlpjax-to-hf", str(tmp_path / "run"), str(tmp_path / "hf")]) == 0
    assert "byte tokenizer has no Hugging Face form" in capsys.readouterr().out
    assert not (tmp_path / "hf" / "tokenizer.json").exists()
    assert (tmp_path / "hf" / "generation_config.json").is_file()


def test_init_from_hf_takes_its_architecture_and_keeps_runtime_fields(tmp_path, capsys):
    source = random_model(FAMILY_CONFIGS["qwen2"], seed=8)
    save_hf_model(tmp_path / "hf", source.cfg, source)
    configured = dataclasses.replace(Config().model, scan_layers=True, remat_policy="full", max_seq_len=32,
                                     num_layers=5)
    cfg = dataclasses.replace(Config(), model=configured,
                              run=dataclasses.replace(Config().run, init_from=str(tmp_path / "hf")))
    chosen = model_config_for_init(cfg)
    expected = dataclasses.replace(source.cfg, **{name: getattr(configured, name) for name in RUNTIME_FIELDS})
    assert chosen == expected
    message = capsys.readouterr().out.strip()
    assert "taken from" in message and "num_layers: 5 -> 2" in message and "\n" not in message

    mesh = make_mesh(Config().mesh)
    template = nnx.state(create_sharded_model(chosen, mesh, seed=0), nnx.Param)
    loaded = load_initial_params(cfg.run.init_from, chosen, template)
    for (key, got), (_, want) in zip(nnx.to_flat_state(loaded), nnx.to_flat_state(nnx.state(source, nnx.Param))):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=str(key))
    assert model_config_for_init(dataclasses.replace(cfg, run=Config().run)) == configured


def test_unsupported_rope_scaling_is_refused_naming_the_field():
    hf = config_to_hf(FAMILY_CONFIGS["llama"])
    del hf["rope_parameters"]
    hf["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8192}
    with pytest.raises(ConfigError, match=r"rope_scaling\.rope_type='yarn'.*implements default, llama3") as err:
        config_from_hf(hf)
    assert "\n" not in str(err.value)
    hf["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0}  # a llama3 dict without its other keys
    with pytest.raises(ConfigError, match="lacks low_freq_factor, high_freq_factor, original_max_position"):
        config_from_hf(hf)


def test_hub_ids_resolve_from_the_cache_or_fail_offline_in_one_line(tmp_path, monkeypatch):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="pass a local directory") as err:
        resolve_local("nobody/no-such-model", "run.init_from")
    assert "run.init_from='nobody/no-such-model'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="pass a local directory"):
        load_tokenizer("nobody/no-such-model")

    # A fake cache entry in huggingface_hub's layout: models--org--name/{refs/main, snapshots/<commit>/...}.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    _tokenizer_dir(snapshot)
    assert resolve_local("org/tiny", "data.tokenizer") == str(snapshot)
    assert load_tokenizer("org/tiny").encode("w5 w6") == [5, 6]
    assert resolve_local(str(tmp_path), "run.init_from") == str(tmp_path)
