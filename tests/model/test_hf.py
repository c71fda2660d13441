"""Hugging Face import/export against transformers' own implementations, and the convert command."""

from __future__ import annotations

import dataclasses
import json
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from model_helpers import FAMILY_CONFIGS, LLAMA3_CONFIG, TINY_LLAMA3_SCALING, random_model
from rlpjax.cli import main as cli_main
from rlpjax.config import MeshConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.hf import load_hf_model, save_hf_model
from rlpjax.model.io import load_model_dir
from rlpjax.sharding import make_mesh

torch = pytest.importorskip("torch", reason="torch is needed to run the transformers reference models")
transformers = pytest.importorskip("transformers", reason="transformers is the reference implementation")

TOKENS = np.random.default_rng(0).integers(0, 40, size=(2, 9))


def hf_model(family: str):
    """A tiny randomly initialised transformers model (norms and biases perturbed so every mapping matters)."""
    common = dict(vocab_size=45, hidden_size=32, intermediate_size=44, num_hidden_layers=2, num_attention_heads=4)
    configs = {
        "llama": transformers.LlamaConfig(**common, num_key_value_heads=1, head_dim=10, tie_word_embeddings=False),
        "qwen2": transformers.Qwen2Config(**common, num_key_value_heads=2, tie_word_embeddings=True, rope_theta=500.0),
        "qwen3": transformers.Qwen3Config(**common, num_key_value_heads=2, head_dim=12, tie_word_embeddings=False),
        "llama3": transformers.LlamaConfig(**common, num_key_value_heads=1, head_dim=10, tie_word_embeddings=False,
                                           rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0,
                                                            **dataclasses.asdict(TINY_LLAMA3_SCALING)}),
    }
    torch.manual_seed(0)
    architecture = {"llama3": "Llama"}.get(family, family.capitalize())
    model = getattr(transformers, f"{architecture}ForCausalLM")(configs[family]).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return model


def hf_logits(model_or_path) -> np.ndarray:
    model = model_or_path
    if not hasattr(model, "forward"):
        model = transformers.AutoModelForCausalLM.from_pretrained(model_or_path, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor(TOKENS)).logits.numpy()


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory):
    """family -> (directory of a saved tiny HF model, its logits on TOKENS); qwen3 is saved in several shards."""
    out = {}
    for family in ("llama", "qwen2", "qwen3", "llama3"):
        path = tmp_path_factory.mktemp(f"hf_{family}")
        model = hf_model(family)
        model.save_pretrained(path, max_shard_size="20KB" if family == "qwen3" else "1GB")
        out[family] = (path, hf_logits(model))
    assert (out["qwen3"][0] / "model.safetensors.index.json").is_file()
    return out


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3", "llama3"])
def test_import_matches_transformers(family, hf_dirs):
    """llama3: a LlamaForCausalLM with rope_type "llama3" becomes family llama3 with its scaling."""
    path, expected = hf_dirs[family]
    cfg, model = load_hf_model(path)
    assert cfg.family == family
    if family == "llama3":
        assert cfg.rope_scaling == TINY_LLAMA3_SCALING
    np.testing.assert_allclose(model(jnp.asarray(TOKENS)), expected, atol=1e-4, rtol=1e-4)


def test_import_onto_a_mesh_matches_transformers(hf_dirs):
    path, expected = hf_dirs["qwen3"]
    _, model = load_hf_model(path, mesh=make_mesh(MeshConfig(data=2, fsdp=2, tensor=2)))
    assert len(model.layers.q_weight_ldnh[...].sharding.device_set) == 8
    np.testing.assert_allclose(model(jnp.asarray(TOKENS)), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3", "llama3"])
def test_export_loads_in_transformers_with_equal_logits(family, tmp_path):
    model = random_model({**FAMILY_CONFIGS, "llama3": LLAMA3_CONFIG}[family], seed=31)
    save_hf_model(tmp_path, model.cfg, model)
    tokens = TOKENS % model.cfg.vocab_size
    assert np.array_equal(tokens, TOKENS)
    np.testing.assert_allclose(hf_logits(tmp_path), model(jnp.asarray(tokens)), atol=1e-4, rtol=1e-4)


def test_convert_cli_round_trip(hf_dirs, tmp_path):
    path, expected = hf_dirs["qwen2"]
    assert cli_main(["convert", "hf-to-rlpjax", str(path), str(tmp_path / "ours")]) == 0
    cfg, model = load_model_dir(tmp_path / "ours")
    np.testing.assert_allclose(model(jnp.asarray(TOKENS)), expected, atol=1e-4, rtol=1e-4)
    assert cli_main(["convert", "rlpjax-to-hf", str(tmp_path / "ours"), str(tmp_path / "back")]) == 0
    np.testing.assert_allclose(hf_logits(tmp_path / "back"), expected, atol=1e-4, rtol=1e-4)
    assert cli_main(["convert", "sideways", str(path), str(tmp_path / "x")]) == 2


def test_missing_tensor_and_unsupported_architecture_are_one_sentence_errors(hf_dirs, tmp_path):
    source, _ = hf_dirs["llama"]
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    from safetensors.numpy import load_file, save_file

    tensors = load_file(broken / "model.safetensors")
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, broken / "model.safetensors")
    with pytest.raises(ConfigError, match=r"missing tensor 'model\.layers\.1\.mlp\.up_proj\.weight'") as err:
        load_hf_model(broken)
    assert str(err.value).count(". ") == 0 and "\n" not in str(err.value)

    config = json.loads((broken / "config.json").read_text())
    config["architectures"] = ["MistralForCausalLM"]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="architecture 'MistralForCausalLM' is not supported") as err:
        load_hf_model(broken)
    assert "\n" not in str(err.value)


def test_stories260k_greedy_decoding_reproduces_llama2c(shared_data):
    folder = shared_data / "models" / "stories260K"
    expected = json.loads((folder / "expected_greedy_200.ids.json").read_text())
    cfg, model = load_hf_model(folder)
    assert (cfg.family, cfg.num_layers, cfg.rms_norm_eps, cfg.tie_embeddings) == ("llama", 5, 1e-5, True)
    step = nnx.jit(lambda m, tok, cache: m.extend(tok, cache))
    cache = model.init_cache(batch=1, max_len=len(expected) + 1)
    token, generated = jnp.asarray([[1]], jnp.int32), []
    for _ in range(len(expected)):
        logits, cache = step(model, token, cache)
        token = jnp.argmax(logits[:, -1:], axis=-1).astype(jnp.int32)
        generated.append(int(token[0, 0]))
    assert generated == expected
