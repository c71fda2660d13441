"""Model families: the parameter layout every family writes is the one checkpoints already hold, and the worked
example of WORKSPACE.md "How to add a model family" (a test-only family registered here, built, run, exported to a
Hugging Face directory and imported back)."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from model_helpers import FAMILY_CONFIGS, random_model, random_tokens
from rlpjax.config_io import ConfigError
from rlpjax.family_registry import FAMILIES, check_family, register_family
from rlpjax.model import Decoder
from rlpjax.model.families.base import ModelFamily
from rlpjax.model.hf import load_hf_model, save_hf_model
from rlpjax.model.layers import RMSNorm, param

LAYOUT_FILE = pathlib.Path(__file__).parent / "data" / "param_layout_5f6da65.json"
"""`param_layout` of each `FAMILY_CONFIGS` model, written by the decoder of commit 5f6da65 (before the blocks
became modules): the paths, shapes, dtypes and logical axes orbax checkpoints, model directories and the optimizer
state are keyed by, and checksums of the seed-0 initial values."""


def param_layout(cfg) -> dict[str, list]:
    """Parameter path -> [shape, dtype, logical axes, sum, sum of squares (float64)] of a seed-0 model."""
    out = {}
    for path, variable in nnx.to_flat_state(nnx.state(Decoder(cfg, rngs=nnx.Rngs(0)), nnx.Param)):
        value = np.asarray(variable[...])
        as64 = value.astype(np.float64)
        out["/".join(map(str, path))] = [list(value.shape), str(value.dtype), list(variable.logical_axes),
                                         float(as64.sum()), float((as64 * as64).sum())]
    return out


def test_parameter_layout_and_initial_values_match_the_checkpoints_of_main():
    expected = json.loads(LAYOUT_FILE.read_text())
    assert {name: param_layout(cfg) for name, cfg in FAMILY_CONFIGS.items()} == expected


@dataclasses.dataclass(frozen=True)
class OffsetRMSNorm(RMSNorm):
    """A Gemma-style norm: x / rms(x) * (1 + weight), the weight starting at 0."""

    def weight(self, shape, logical_axes, dtype):
        return param(jnp.zeros(tuple(shape), dtype), logical_axes)

    def __call__(self, x, weight):
        return super().__call__(x, 1.0 + weight.astype(jnp.float32))


@pytest.fixture
def offset_norm_family():
    """A test-only family: the Llama block with `OffsetRMSNorm`, registered for the test's duration."""

    @register_family("test_offset_norm")
    class OffsetNormLlama(ModelFamily):
        hf_architecture = "TestOffsetNormForCausalLM"
        norm = OffsetRMSNorm

    yield "test_offset_norm"
    del FAMILIES["test_offset_norm"]


def test_a_family_file_is_enough_to_build_run_export_and_import(offset_norm_family, tmp_path):
    check_family(offset_norm_family)  # a config may name it now
    cfg = dataclasses.replace(FAMILY_CONFIGS["llama"], family=offset_norm_family)
    model = random_model(cfg, seed=5)
    tokens_bt = random_tokens((2, 9), cfg.vocab_size, seed=6)

    # Its norm is the one used everywhere: a Llama model holding weight + 1 in every norm has the same logits.
    llama_state = nnx.state(model, nnx.Param).to_pure_dict()
    norms = ("final_norm_d", "attn_norm_ld", "mlp_norm_ld")
    llama_state["final_norm_d"] = llama_state["final_norm_d"] + 1
    for name in norms[1:]:
        llama_state["layers"][name] = llama_state["layers"][name] + 1
    llama = Decoder(FAMILY_CONFIGS["llama"], rngs=nnx.Rngs(0))
    state = nnx.state(llama, nnx.Param)
    nnx.replace_by_pure_dict(state, llama_state)
    nnx.update(llama, state)
    np.testing.assert_allclose(model(tokens_bt), llama(tokens_bt), rtol=1e-5, atol=1e-5)

    save_hf_model(tmp_path / "hf", cfg, model)
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["architectures"] == ["TestOffsetNormForCausalLM"]
    loaded_cfg, loaded = load_hf_model(tmp_path / "hf")
    assert loaded_cfg.family == offset_norm_family
    np.testing.assert_array_equal(loaded(tokens_bt), model(tokens_bt))


def test_an_unknown_family_is_one_line_naming_the_choices():
    with pytest.raises(ConfigError, match="model.family='gpt2' is not one of llama, llama3, qwen2, qwen3; choose one"):
        Decoder(dataclasses.replace(FAMILY_CONFIGS["llama"], family="gpt2"), rngs=nnx.Rngs(0))
