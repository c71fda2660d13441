"""Llama 3.1's RoPE frequency scaling (family llama3) against NumPy and transformers' own rope init, and the
family's config rules. Its logits against transformers (import and export) are in test_hf.py."""

import dataclasses

import numpy as np
import pytest

from rlpjax.config import ModelConfig, RopeScalingConfig
from rlpjax.config_io import ConfigError, resolve
from rlpjax.family_registry import get_family
from rlpjax.model import validate_model_config

LLAMA31 = ModelConfig(family="llama3", head_dim=128, rope_theta=500000.0, rope_scaling=RopeScalingConfig())
"""Llama 3.1 8B's RoPE: theta 500,000, head_dim 128, factor 8, low 1, high 4, original context 8192."""


def numpy_llama3_inv_freq(head_dim: int, theta: float, s: RopeScalingConfig) -> np.ndarray:
    """The formula of Meta's release, written frequency by frequency in float64."""
    out = []
    for i in range(0, head_dim, 2):
        freq = theta ** (-i / head_dim)
        wavelength = 2 * np.pi / freq
        if wavelength < s.original_max_position_embeddings / s.high_freq_factor:
            out.append(freq)
        elif wavelength > s.original_max_position_embeddings / s.low_freq_factor:
            out.append(freq / s.factor)
        else:
            smooth = (s.original_max_position_embeddings / wavelength - s.low_freq_factor) / (
                s.high_freq_factor - s.low_freq_factor)
            out.append((1 - smooth) * freq / s.factor + smooth * freq)
    return np.array(out)


def test_llama31_frequencies_equal_numpy_and_transformers():
    got = np.asarray(get_family("llama3").rope_inv_freq(LLAMA31))
    want = numpy_llama3_inv_freq(128, 500000.0, LLAMA31.rope_scaling)
    bands = want / (500000.0 ** (-np.arange(0, 128, 2) / 128))
    assert (bands == 1).any() and np.isclose(bands, 1 / 8).any() and ((bands > 1 / 8) & (bands < 1)).any()
    np.testing.assert_allclose(got, want, rtol=2e-6)  # float32 powers vs float64: a few ulp
    transformers = pytest.importorskip("transformers", reason="transformers' rope init is the second reference")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    hf_cfg = transformers.LlamaConfig(hidden_size=128 * 4, num_attention_heads=4, head_dim=128,
                                      rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                                       **dataclasses.asdict(LLAMA31.rope_scaling)})
    hf_inv_freq, _ = ROPE_INIT_FUNCTIONS["llama3"](hf_cfg, "cpu")
    np.testing.assert_allclose(got, hf_inv_freq.numpy(), rtol=2e-6)


def test_other_families_keep_plain_rope_and_refuse_a_scaling():
    plain = dataclasses.replace(LLAMA31, family="llama")
    # float32 powers in XLA vs NumPy: a few ulp; test_families.py pins the plain families' values bit for bit.
    np.testing.assert_allclose(np.asarray(get_family("llama").rope_inv_freq(plain)),
                               500000.0 ** (-np.arange(0, 128, 2) / 128), rtol=2e-6)
    with pytest.raises(ConfigError, match="model.rope_scaling is read only by model.family=llama3"):
        validate_model_config(dataclasses.replace(plain, rope_scaling=RopeScalingConfig(factor=2.0)))
    with pytest.raises(ConfigError, match="needs factor >= 1"):
        resolve(None, ["model.family=llama3", "model.rope_scaling.low_freq_factor=5"])

