"""`rlpjax bench rlp` on a tiny model: the figures it derives are consistent with the ones it measures, and its
options reject bad input in one sentence. (The shared and naive layouts sampling the same thoughts, and the torch
peer beside them, are the slow test in test_bench.py.)"""

import pytest

from rlpjax.bench.rlp import bench_rlp, parse_kg, parse_layouts, step_config
from rlpjax.config_io import ConfigError, resolve

TINY = ["model.vocab_size=40", "model.hidden_size=16", "model.intermediate_size=32", "model.num_layers=1",
        "model.num_heads=2", "model.num_kv_heads=1", "model.head_dim=8", "model.max_seq_len=64", "data.seq_len=16",
        "data.global_batch_size=8", "rlp.max_thought_tokens=4", "rlp.positions_per_doc=2", "rlp.group_size=2"]
PEAK_TFLOPS = 0.1  # a given peak, so MFU is checked against the formula without measuring one


def test_kg_and_layouts_parse_and_refuse_bad_input():
    assert parse_kg("4x4,8X8") == ((4, 4), (8, 8))
    assert parse_layouts("shared, torch") == ("shared", "torch")
    for bad in ("4", "4x", "0x2", "axb", ""):
        with pytest.raises(ConfigError, match="--kg"):
            parse_kg(bad)
    with pytest.raises(ConfigError, match="--layouts 'shared,fast'"):
        parse_layouts("shared,fast")


def test_step_config_is_one_update_per_rollout_with_room_for_thoughts():
    cfg = resolve("experiments/bench/rlp_llama_4x256.py", ["rlp.pg.ppo_epochs=2", "rlp.pg.minibatches=2"])
    run = step_config(cfg, positions_per_doc=8, group_size=8, docs=2, doc_len=600, max_thought_tokens=64)
    assert (run.rlp.pg.ppo_epochs, run.rlp.pg.minibatches) == (1, 1)
    assert (run.rlp.positions_per_doc, run.rlp.group_size) == (8, 8)
    assert run.rlp.think_ids == (cfg.model.vocab_size - 2, cfg.model.vocab_size - 1)
    assert (run.data.global_batch_size, run.data.seq_len, run.data.mode) == (2, 600, "documents")
    assert run.model.max_seq_len >= 600 + 64 + run.rlp.horizon


def test_figures_are_consistent(capsys):
    cfg = resolve("experiments/bench/rlp_llama_4x256.py", TINY)
    f = bench_rlp(cfg, layouts=("shared",), repeats=1, peak_tflops=PEAK_TFLOPS)
    assert "[bench rlp] 2x2 shared update: compiled in" in capsys.readouterr().err  # progress per stage
    key = "2x2/shared"
    rows = 8 * 2 * 2
    assert rows <= f[f"{key}/thought_tokens"] <= rows * 4  # at least one token (min_thought_tokens=1), at most the cap
    assert f[f"{key}/step_s"] == pytest.approx(f[f"{key}/rollout_s"] + f[f"{key}/update_s"])
    assert f[f"{key}/thought_tokens_per_s"] == pytest.approx(f[f"{key}/thought_tokens"] / f[f"{key}/step_s"])
    assert f[f"{key}/step_flops"] == pytest.approx(f[f"{key}/rollout_flops"] + f[f"{key}/update_flops"])
    assert f[f"{key}/rollout_flops"] == pytest.approx(
        f[f"{key}/teacher_flops"] + f[f"{key}/sample_flops"] + f[f"{key}/score_flops"])
    import jax

    for stage in ("teacher", "sample", "score", "rollout", "update", "step"):
        assert f[f"{key}/{stage}_mfu"] == pytest.approx(
            f[f"{key}/{stage}_flops"] / f[f"{key}/{stage}_s"] / (PEAK_TFLOPS * 1e12 * jax.device_count()))
    assert 1 <= f[f"{key}/decode_steps"] <= 4 and f[f"{key}/peak_bytes"] > 0
    assert "2x2/speedup" not in f  # one layout: no ratio
