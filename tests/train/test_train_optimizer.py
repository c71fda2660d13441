"""The optimizer: learning-rate schedules against a NumPy formula, and the weight-decay mask."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlpjax.config import ModelConfig, OptimizerConfig
from rlpjax.model.decoder import Decoder
from rlpjax.train.optimizer import learning_rate_schedule, weight_decay_mask


def expected_lr(step: int, kind: str, peak: float, warmup: int, total: int, ratio: float,
                decay_fraction: float = 0.2) -> float:
    """Linear warmup 0 -> peak over `warmup` steps, then constant / cosine / linear decay to ratio * peak; "wsd"
    holds the peak until the last round(decay_fraction * total) steps and decays linearly over them."""
    if step < warmup:
        return peak * step / warmup
    if kind == "wsd":
        decay = round(decay_fraction * total)
        t = min(max(step - (total - decay), 0), decay) / decay
        return peak * (1 - t) + peak * ratio * t
    t = min(step - warmup, total - warmup) / max(1, total - warmup)
    if kind == "constant":
        return peak
    if kind == "cosine":
        return peak * (ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * t)))
    return peak * (1 - t) + peak * ratio * t


@pytest.mark.parametrize("kind", ["constant", "cosine", "linear", "wsd"])
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


def test_wsd_holds_the_peak_then_decays_over_its_last_fifth():
    schedule = learning_rate_schedule(OptimizerConfig(learning_rate=1e-3, schedule="wsd", warmup_steps=5,
                                                      min_lr_ratio=0.0, decay_fraction=0.2), total_steps=100)
    assert float(schedule(5)) == pytest.approx(1e-3) and float(schedule(80)) == pytest.approx(1e-3)
    assert float(schedule(90)) == pytest.approx(5e-4) and float(schedule(100)) == pytest.approx(0.0, abs=1e-12)
    # A misspelt schedule and a decay_fraction outside (0, 1] are refused by the config pass (test_config_checks).


LAYER_WEIGHTS = {"layers/q_weight_ldnh", "layers/k_weight_ldkh", "layers/v_weight_ldkh", "layers/o_weight_lnhd",
                 "layers/gate_weight_ldf", "layers/up_weight_ldf", "layers/down_weight_lfd"}
NORMS = {"final_norm_d", "layers/attn_norm_ld", "layers/mlp_norm_ld"}


@pytest.mark.parametrize("decay_embeddings", [False, True])
@pytest.mark.parametrize("family", ["qwen2", "qwen3"])
def test_weight_decay_mask_decays_weights_by_role(family, decay_embeddings):
    """The decaying names written out: qwen2 (q/k/v biases, untied lm_head) and qwen3 (q/k norms). The stacked
    [layers, ...] norms and biases have ndim >= 2 and must still not decay; lm_head is a weight matrix and does."""
    extra = {"qkv_bias": True, "tie_embeddings": False} if family == "qwen2" else {"qk_norm": True}
    cfg = ModelConfig(family=family, vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2,
                      num_kv_heads=1, head_dim=16, max_seq_len=32, **extra)
    params = nnx.state(Decoder(cfg, rngs=nnx.Rngs(0)), nnx.Param)
    flat = nnx.to_flat_state(weight_decay_mask(params, decay_embeddings))
    mask = {"/".join(map(str, key)): bool(v.get_value() if hasattr(v, "get_value") else v) for key, v in flat}
    if family == "qwen2":
        expected_decay, no_decay = LAYER_WEIGHTS | {"lm_head_dv"}, NORMS | {
            "layers/q_bias_lnh", "layers/k_bias_lkh", "layers/v_bias_lkh"}
    else:
        expected_decay, no_decay = LAYER_WEIGHTS, NORMS | {"layers/q_norm_lh", "layers/k_norm_lh"}
    (expected_decay if decay_embeddings else no_decay).add("embed_vd")
    assert set(mask) == expected_decay | no_decay
    assert {name for name, d in mask.items() if d} == expected_decay
    stacked = dict(nnx.to_flat_state(params))
    assert all(jnp.ndim(v.get_value()) >= 2 for k, v in stacked.items() if "/".join(map(str, k)) in no_decay - {
        "final_norm_d"} - {"embed_vd"})  # the case an ndim rule gets wrong is really present
