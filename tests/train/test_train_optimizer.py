"""The optimizer: learning-rate schedules against a NumPy formula, and the weight-decay mask."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import ModelConfig, OptimizerConfig
from rlpjax.config_io import ConfigError
from rlpjax.model.decoder import Decoder
from rlpjax.train.optimizer import learning_rate_schedule, weight_decay_mask


def expected_lr(step: int, kind: str, peak: float, warmup: int, total: int, ratio: float) -> float:
    """Linear warmup 0 -> peak over `warmup` steps, then constant / cosine / linear decay to ratio * peak."""
    if step < warmup:
        return peak * step / warmup
    t = min(step - warmup, total - warmup) / max(1, total - warmup)
    if kind == "constant":
        return peak
    if kind == "cosine":
        return peak * (ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * t)))
    return peak * (1 - t) + peak * ratio * t


@pytest.mark.parametrize("kind", ["constant", "cosine", "linear"])
@pytest.mark.parametrize("warmup", [0, 7])
def test_schedule_matches_numpy_formula(kind, warmup):
    opt = OptimizerConfig(learning_rate=2e-3, schedule=kind, warmup_steps=warmup, min_lr_ratio=0.1)
    schedule = learning_rate_schedule(opt, total_steps=50)
    steps = np.arange(0, 60)
    got = np.array([float(schedule(s)) for s in steps])
    want = np.array([expected_lr(int(s), kind, 2e-3, warmup, 50, 0.1) for s in steps])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
    if kind != "constant":
        assert got[-1] == pytest.approx(2e-4, rel=1e-5)  # ends at the minimum, and stays there past the end


def test_unknown_schedule_is_a_one_sentence_error():
    with pytest.raises(ConfigError, match="optimizer.schedule is 'exp'; choose one of"):
        learning_rate_schedule(OptimizerConfig(schedule="exp"), 10)


@pytest.mark.parametrize("decay_embeddings", [False, True])
def test_weight_decay_mask_covers_matrices_only(decay_embeddings):
    cfg = ModelConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2,
                      num_kv_heads=1, head_dim=16, qk_norm=True, max_seq_len=32)
    params = nnx.state(Decoder(cfg, rngs=nnx.Rngs(0)), nnx.Param)
    mask = dict(nnx.to_flat_state(weight_decay_mask(params, decay_embeddings)))
    values = dict(nnx.to_flat_state(params))
    names = {"/".join(map(str, k)): k for k in values}
    assert len(mask) == len(values)
    for name, key in names.items():
        leaf, decays = values[key], mask[key]
        decays = decays.get_value() if hasattr(decays, "get_value") else decays
        if "embed" in name.lower():
            assert bool(decays) is decay_embeddings, name
        elif jnp.ndim(leaf.get_value()) >= 2:
            assert decays, f"{name} is a matrix and must decay"
        else:
            assert not decays, f"{name} is a vector (norm scale or bias) and must not decay"
    assert any("norm" in n for n in names)  # the model really has vectors the mask must exclude
