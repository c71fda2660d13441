"""The presets of experiments/controlled/: every one resolves, the budget arithmetic holds, CPU versions run."""

import importlib.util
import pathlib
import runpy
import sys

import pytest

from rlpjax import compute
from rlpjax.config_io import apply_overrides, load_preset, resolve
from rlpjax.reasoning.mixtures import cell_weights
from rlpjax.train.loop import train

ROOT = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "controlled"
PAPER = sorted(p for p in ROOT.glob("*.py") if not p.name.startswith("_"))
CPU = sorted((ROOT / "cpu").glob("*.py"))
GRID = runpy.run_path(str(ROOT / "_grid.py"))
TINY = ["run.steps=2", "run.progress=false", "run.peak_tflops=1", "run.log_every=1", "checkpoint.async_save=false",
        "data.seq_len=64", "data.global_batch_size=8", "grpo.ops=2", "grpo.modes=forward", "grpo.templates=A",
        "grpo.prompts_per_step=2", "grpo.num_rollouts=4", "grpo.max_prompt_tokens=512", "grpo.max_new_tokens=8",
        "grpo.pg.minibatches=1"]


def test_every_preset_resolves_at_both_scales():
    assert {p.name for p in PAPER} == {p.name for p in CPU} and len(PAPER) == 24
    for path in PAPER + CPU:
        cfg = load_preset(path)
        assert cfg.run.name == path.stem and cfg.run.steps >= 1, path
        assert cfg.run.objective in ("ntp", "grpo")
        assert path.parent.name != "cpu" or cfg.data.tokenizer == "byte"


def test_paper_recipe_and_budget_arithmetic():
    pre, rl = load_preset(ROOT / "pretrain.py"), load_preset(ROOT / "rl_edge.py")
    assert (pre.model.num_layers, pre.model.hidden_size, pre.model.intermediate_size, pre.model.num_heads,
            pre.model.num_kv_heads, pre.model.head_dim, pre.model.vocab_size) == (12, 768, 3072, 12, 2, 64, 2200)
    assert 90e6 < compute.count_params(pre.model).total < 110e6  # "about 100M parameters"
    assert pre.run.steps * pre.data.global_batch_size * pre.data.seq_len == pytest.approx(10e9, rel=1e-4)
    assert rl.grpo.ops == (11, 12, 13, 14) and (rl.grpo.prompts_per_step, rl.grpo.num_rollouts) == (1024, 6)
    rl_step_tokens = (10 / 6) * 1024 * 6 * 2048  # CONTROLLED.md: one RL step = (5/3) N r L = 21M tokens
    total = 200 * rl_step_tokens
    assert rl.run.steps == 200 and load_preset(ROOT / "midtrain.py").run.steps == int(total // (512 * 1024))
    for mid, post, share in (("budget_mid80", "budget_rl20", 0.8), ("budget_mid50", "budget_rl50", 0.5),
                             ("budget_mid20", "budget_rl80", 0.2)):
        mid_cfg, rl_cfg = load_preset(ROOT / f"{mid}.py"), load_preset(ROOT / f"{post}.py")
        assert mid_cfg.run.steps == int(share * total // (512 * 1024))
        assert rl_cfg.run.steps == round((1 - share) * 200) and rl_cfg.run.init_from == mid_cfg.run.run_dir
    assert load_preset(ROOT / "transfer_b0p1.py").data.sources[0].path == "transfer-b0.1"
    assert load_preset(ROOT / "headroom_h0p1.py").data.sources[0].path == "headroom-h0.1"


def test_the_paper_runs_use_the_authors_rewards_and_transfer_setup():
    rewards = {name: (load_preset(ROOT / f"{name}.py").grpo.reward, load_preset(ROOT / f"{name}.py").grpo.reward_alpha)
               for name in ("rl_edge", "rl_process_blend", "rl_process_blend_a05", "rl_strict")}
    assert rewards == {"rl_edge": ("outcome", 0.2), "rl_process_blend": ("authors_gated", 0.2),
                       "rl_process_blend_a05": ("authors_gated", 0.5), "rl_strict": ("authors_strict", 0.2)}
    transfer = load_preset(ROOT / "rl_transfer.py")
    assert transfer.grpo.ops == tuple(range(2, 21)) and transfer.grpo.templates == ("A", "B")
    assert transfer.run.init_from.endswith("transfer_b1")
    for stem, share in (("transfer_b0", 0.0), ("transfer_b0p1", 0.001), ("transfer_b1", 0.01), ("transfer_b10", 0.1)):
        weights = cell_weights(load_preset(ROOT / f"{stem}.py").data.sources[0].path)
        assert sum(w for (op, t, _m), w in weights.items() if t == "B") == pytest.approx(share)
        assert {op for (op, t, _m) in weights if t == "B"} <= {2} and {t for (_o, t, _m) in weights} <= {"A", "B"}
        assert {op for (op, t, _m) in weights if t == "A"} == set(range(2, 21))


def _load_sweep_launcher():
    spec = importlib.util.spec_from_file_location("rlpjax_sweep_for_presets", ROOT.parents[1] / "launch" / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def test_controlled_sweeps_resolve():
    sweep = _load_sweep_launcher()
    sweeps = ROOT.parents[1] / "experiments" / "sweeps"
    edge = sweep.load_sweep(sweeps / "controlled_edge.py")
    ops = {p.name: resolve(str(ROOT.parents[1] / edge.base), p.overrides).grpo.ops for p in edge.points}
    assert ops == {"ops7-10": (7, 8, 9, 10), "ops9-12": (9, 10, 11, 12), "ops11-14": (11, 12, 13, 14),
                   "ops17-20": (17, 18, 19, 20)}
    for name, stems in (("controlled_transfer", ("transfer_b0", "transfer_b0p1", "transfer_b1", "transfer_b10")),
                        ("controlled_headroom", ("headroom_h0p1", "headroom_h1", "headroom_h10", "pretrain"))):
        loaded = sweep.load_sweep(sweeps / f"{name}.py")
        starts = [resolve(str(ROOT.parents[1] / loaded.base), p.overrides).run.init_from for p in loaded.points]
        assert starts == [load_preset(ROOT / f"{stem}.py").run.run_dir for stem in stems]


def _run(path: pathlib.Path, tmp_path: pathlib.Path, init_from: str = "") -> dict:
    shaping = ["grpo.overlong_buffer=2"] if load_preset(path).grpo.overlong_buffer else []  # within TINY's 8 tokens
    cfg = apply_overrides(load_preset(path), TINY + shaping + [f"run.run_dir={tmp_path / path.stem}",
                                                               f"run.init_from={init_from}"])
    result = train(cfg)
    assert result.last_step == 2
    return result.final_metrics


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> str:
    """A 2-step CPU pre-training run: the checkpoint the later stages start from."""
    tmp = tmp_path_factory.mktemp("controlled")
    _run(ROOT / "cpu" / "pretrain.py", tmp)
    return str(tmp / "pretrain")


SAME_PATH_AS = {"budget_mid80": "midtrain", "budget_mid50": "midtrain", "budget_mid20": "midtrain",
                "budget_rl20": "rl_edge", "budget_rl50": "rl_edge", "budget_rl80": "rl_edge",
                "transfer_b0": "transfer_b0p1", "transfer_b1": "transfer_b0p1", "transfer_b10": "transfer_b0p1",
                "headroom_h1": "headroom_h0p1", "headroom_h10": "headroom_h0p1"}
"""Presets whose two-step run takes the code path of another one's (the same stage with other step counts, another
mixture share or another starting run): slow, so the default run keeps one of each (all of them resolve above)."""


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.stem in SAME_PATH_AS else p
                                  for p in CPU], ids=lambda p: p.stem)
def test_every_cpu_preset_runs_two_steps(path, pretrained, tmp_path):
    """Each stage runs from the 2-step pre-training checkpoint when it continues from one (mid-training, RL)."""
    cfg = load_preset(path)
    metrics = _run(path, tmp_path, pretrained if cfg.run.init_from else "")
    if cfg.run.objective == "grpo":
        assert -1 <= metrics["reward_mean"] <= 1  # overlong shaping goes below 0
        if cfg.grpo.dynamic_sampling:  # a 2-step model rarely solves one: every group may be a masked filler
            assert 1 <= metrics["dynamic_rounds"] <= cfg.grpo.dynamic_sampling_rounds
            assert (metrics["num_tokens"] > 0) == (metrics["dynamic_kept_frac"] > 0)
        else:
            assert metrics["num_tokens"] > 0
    else:
        assert metrics["loss"] > 0
