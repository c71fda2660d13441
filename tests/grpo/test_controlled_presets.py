"""The presets of experiments/controlled/: every one resolves, the budget arithmetic holds, CPU versions run."""

import pathlib
import runpy

import pytest

from rlpjax import compute
from rlpjax.config_io import apply_overrides, load_preset
from rlpjax.train.loop import train

ROOT = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "controlled"
PAPER = sorted(p for p in ROOT.glob("*.py") if not p.name.startswith("_"))
CPU = sorted((ROOT / "cpu").glob("*.py"))
GRID = runpy.run_path(str(ROOT / "_grid.py"))
TINY = ["run.steps=2", "run.progress=false", "run.peak_tflops=1", "run.log_every=1", "checkpoint.async_save=false",
        "data.seq_len=64", "data.global_batch_size=8", "grpo.ops=2", "grpo.modes=forward", "grpo.templates=A",
        "grpo.prompts_per_step=2", "grpo.num_rollouts=4", "grpo.max_prompt_tokens=512", "grpo.max_new_tokens=8",
        "grpo.minibatches=1"]


def test_every_preset_resolves_at_both_scales():
    assert {p.name for p in PAPER} == {p.name for p in CPU} and len(PAPER) == 17
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
    rewards = {load_preset(ROOT / f"rl_{r}.py").grpo.reward for r in ("process_blend", "strict", "gated_penalty")}
    assert rewards == {"process_blend", "strict", "gated_penalty"}


def _run(path: pathlib.Path, tmp_path: pathlib.Path, init_from: str = "") -> dict:
    cfg = apply_overrides(load_preset(path), TINY + [f"run.run_dir={tmp_path / path.stem}",
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


@pytest.mark.parametrize("path", CPU, ids=lambda p: p.stem)
def test_every_cpu_preset_runs_two_steps(path, pretrained, tmp_path):
    """Each stage runs from the 2-step pre-training checkpoint when it continues from one (mid-training, RL)."""
    cfg = load_preset(path)
    metrics = _run(path, tmp_path, pretrained if cfg.run.init_from else "")
    if cfg.run.objective == "grpo":
        assert 0 <= metrics["reward_mean"] <= 1 and metrics["num_tokens"] > 0
    else:
        assert metrics["loss"] > 0
