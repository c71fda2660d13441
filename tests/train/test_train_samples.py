"""Sample-generation tables (`run.samples_every`): RLP thoughts and GRPO responses in samples.jsonl and the trackers.

Each run's table is checked against the same step recomputed independently: the step-1 rollout (RLP) or sample
(GRPO) stage run again from the freshly initialised state on the same batch, then decoded and scored here with NumPy.
"""

import json
import pathlib
import time

import jax
import numpy as np
import pytest

from rlpjax import config_io
from rlpjax.config_io import ConfigError, apply_overrides, load_preset
from rlpjax.reasoning.format import prompt_text
from rlpjax.reasoning.rewards import reward
from rlpjax.reasoning.verify import verify
from rlpjax.sharding import make_mesh
from rlpjax.train.batches import to_device_batch
from rlpjax.train.loop import build_state, train
from rlpjax.train.metrics import read_metrics
from rlpjax.train.task import StepContext, get_task
from rlpjax.train.tasks.grpo import ROLLOUT_KEY_SALT
from rlpjax.train.tasks.rlp import rollout_key
from rlpjax.train.trackers import TrackioTracker, WandbTracker, markdown_table
from test_train_trackers import _events

REPO = pathlib.Path(__file__).resolve().parents[2]
COMMON = ["run.steps=2", "run.samples_every=1", "run.progress=false", "run.peak_tflops=1",
          "checkpoint.async_save=false", "checkpoint.every_steps=0", "run.trackers=tensorboard"]
RLP_TINY = ["model.hidden_size=32", "model.intermediate_size=64", "model.num_layers=2", "model.num_heads=4",
            "model.num_kv_heads=2", "model.head_dim=8", "data.seq_len=32", "data.global_batch_size=8",
            "rlp.group_size=2", "rlp.positions_per_doc=2", "rlp.max_thought_tokens=6", "rlp.horizon=2",
            "rlp.gamma=0.5", "run.samples_rows=5"]
"""K = G = 2: five rows take two documents (four thoughts each); h = 2 with gamma 0.5 makes the discounted sum over
the horizon differ from a plain sum or mean."""
GRPO_TINY = ["data.seq_len=64", "data.global_batch_size=8", "grpo.ops=2", "grpo.modes=forward", "grpo.templates=A",
             "grpo.prompts_per_step=2", "grpo.num_rollouts=4", "grpo.max_prompt_tokens=512",
             "grpo.max_new_tokens=8", "grpo.pg.minibatches=1", "run.init_from=", "run.samples_rows=6"]


def _config(preset: str, run_dir, overrides):
    return apply_overrides(load_preset(REPO / preset), COMMON + overrides + [f"run.run_dir={run_dir}"])


def _fresh(cfg):
    """(task, ctx, state): the run's step-1 starting point, built again."""
    task, mesh = get_task(cfg), make_mesh(cfg.mesh)
    graphdef, state, shardings, tx, schedule, _ = build_state(cfg, task, mesh)
    ctx = StepContext(cfg=cfg, mesh=mesh, graphdef=graphdef, tx=tx, schedule=schedule, state_shardings=shardings,
                      process_index=0, process_count=1)
    return task, ctx, state


def _tables(run_dir, name: str, columns: list[str]) -> list[dict]:
    """samples.jsonl's tables: one per step, named `name`, with `columns`; and TensorBoard got each as text."""
    tables = read_metrics(run_dir, "samples.jsonl")
    assert [(t["step"], t["name"], t["columns"]) for t in tables] == [(1, name, columns), (2, name, columns)]
    assert all(isinstance(t["time"], float) for t in tables)
    texts = [(e.step, v.tensor.string_val[0].decode()) for e in _events(run_dir / "tensorboard")
             for v in e.summary.value if v.tag == f"samples/{name}/text_summary"]
    assert [step for step, _ in texts] == [1, 2]
    assert texts[0][1] == markdown_table(tables[0]["columns"], tables[0]["rows"])
    return tables


def test_rlp_tables_show_the_rollouts_thoughts_and_rewards(tmp_path):
    cfg = _config("experiments/rlp_cpu.py", tmp_path, RLP_TINY)
    train(cfg)
    columns = ["doc", "position", "thought_index", "context", "thought", "next_tokens", "thought_tokens",
               "truncated", "s_pred", "s_ema", "reward"]
    table = _tables(tmp_path, "rlp", columns)[0]
    rows = [dict(zip(columns, row)) for row in table["rows"]]

    task, ctx, state = _fresh(cfg)
    rollout = task.stages(ctx)["rollout"].jit(ctx.mesh)
    rb = jax.device_get(rollout(state.params, state.ema_params, state.ref_params,
                                to_device_batch(next(task.batches()), ctx.mesh), rollout_key(state)))
    tok, end_think, (_, K, G, h), gamma = task.tokenizer, task.thoughts.end_think_id, rb["s_pred_bkgh"].shape, 0.5
    expected = [(b, k, g) for b in range(2) for k in range(K) for g in range(G) if rb["position_valid_bk"][b, k]][:5]
    assert len(rows) == len(expected) == 5
    for row, (b, k, g) in zip(rows, expected):
        t, tokens = int(rb["positions_bk"][b, k]), rb["tokens"][b]
        assert (row["doc"], row["position"], row["thought_index"]) == (b, t, g)
        sampled = rb["thoughts_bkgl"][b, k, g][: rb["thought_mask_bkgl"][b, k, g].sum()]
        stops = np.flatnonzero(sampled == end_think)  # the thought ends before its first </think>
        thought = sampled[: stops[0] if stops.size else len(sampled)]
        assert row["thought"] == tok.decode(thought.tolist()) and "</think>" not in row["thought"]
        assert (row["thought_tokens"], row["truncated"]) == (len(thought), not stops.size)
        assert row["context"] == tok.decode(tokens[max(0, t - 64):t].tolist())
        inside = [j for j in range(h) if t + j < rb["lengths"][b]]
        assert row["next_tokens"] == tok.decode([int(tokens[t + j]) for j in inside])
        # reward = sum_j gamma^j (S_pred_j - S_ema_j) over the horizon inside the document (RLP.md), in float64
        s_pred = sum(gamma**j * float(rb["s_pred_bkgh"][b, k, g, j]) for j in inside)
        s_ema = sum(gamma**j * float(rb["s_ema_bkh"][b, k, j]) for j in inside)
        # float32 scores of magnitude ~log(264) summed over two terms: 1e-5 relative covers the rounding
        np.testing.assert_allclose([row["s_pred"], row["s_ema"], row["reward"]], [s_pred, s_ema, s_pred - s_ema],
                                   rtol=1e-5, atol=1e-5)
    assert any(row["thought"] for row in rows)  # a tiny random model still emits thought tokens


def test_grpo_tables_show_the_sampled_responses_and_rewards(tmp_path):
    cfg = _config("experiments/controlled/cpu/rl_strict.py", tmp_path, GRPO_TINY)
    train(cfg)
    columns = ["prompt_index", "rollout", "prompt", "response", "response_tokens", "truncated", "reward",
               "verified_correct", "answer_correct", "process_acc", "predicted_answer", "reason"]
    table = _tables(tmp_path, "grpo", columns)[0]
    rows = [dict(zip(columns, row)) for row in table["rows"]]

    task, ctx, state = _fresh(cfg)
    records = next(task.batches())
    prompts_bp, lengths_b = task.encode_prompts(records)
    R = cfg.grpo.num_rollouts
    sample = task.stages(ctx)["sample"].jit(ctx.mesh)
    out = jax.device_get(sample(state.params, np.repeat(prompts_bp, R, 0), np.repeat(lengths_b, R),
                                jax.random.fold_in(state.rng, ROLLOUT_KEY_SALT)))
    assert len(rows) == 6
    for n, row in enumerate(rows):
        record, length = records[n // R], int(out.lengths_b[n])
        tokens = out.tokens_bl[n][:length]
        if out.stopped_b[n]:
            assert tokens[-1] == task.tokenizer.eos_id
            tokens = tokens[:-1]
        check = verify(task.tokenizer.decode(tokens.tolist()), record)
        assert (row["prompt_index"], row["rollout"], row["prompt"]) == (n // R, n % R, prompt_text(record))
        assert row["response"] == task.tokenizer.decode(tokens.tolist())
        assert (row["response_tokens"], row["truncated"]) == (length, not out.stopped_b[n])
        assert row["reward"] == pytest.approx(reward(cfg.grpo.reward, check))  # float32 -> float: exact to 1e-6
        assert (row["verified_correct"], row["answer_correct"], row["reason"]) == (
            check.verified_correct, check.answer_correct, check.reason)
    assert any(row["response"] for row in rows)


def test_wandb_and_trackio_log_a_table(tmp_path, monkeypatch):
    """The W&B (offline) and trackio trackers take a table; W&B's offline run file names it."""
    columns, rows = ["thought", "reward"], [["a|b\nc", 0.25], ["<think>", -1.0]]
    if not _installed("wandb") and not _installed("trackio"):
        pytest.skip("neither wandb nor trackio is installed (the trackers extra)")
    if _installed("wandb"):
        monkeypatch.setenv("WANDB_MODE", "offline")
        monkeypatch.setenv("WANDB_SILENT", "true")
        tracker = WandbTracker(tmp_path, config={}, project="rlpjax-test", name="samples")
        tracker.log_table(1, "rlp", columns, rows)
        tracker.close()
        (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
        # W&B's service process writes the file's last records just after finish() returns (seen 0-50 ms later, and
        # missed by an immediate read about 1 run in 6 on a loaded 2-core CPU): wait for them, up to 30 s.
        deadline = time.monotonic() + 30
        while b"samples/rlp" not in run_file.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"samples/rlp" in run_file.read_bytes()
    if _installed("trackio"):
        import importlib
        import sys

        importlib.import_module("trackio")  # trackio reads TRACKIO_DIR once, at import: point every module's copy here
        for name, module in list(sys.modules.items()):  # trackio's store, kept inside tmp_path
            if name.startswith("trackio") and hasattr(module, "TRACKIO_DIR"):
                monkeypatch.setattr(module, "TRACKIO_DIR", tmp_path / "trackio")
        tracker = TrackioTracker(config={}, project="rlpjax-test", name="samples")
        tracker.log_table(1, "rlp", columns, rows)
        tracker.close()
        assert json.dumps("samples/rlp")[1:-1].encode() in b"".join(
            p.read_bytes() for p in (tmp_path / "trackio").rglob("*") if p.is_file())


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_markdown_table_escapes_cells():
    assert markdown_table(["a", "b"], [["x|y\n<think>", 1.234567], ["&", 3]]) == (
        "| a | b |\n| --- | --- |\n| x\\|y<br>&lt;think&gt; | 1.235 |\n| &amp; | 3 |")


@pytest.mark.parametrize("override", ["run.samples_every=-1", "run.samples_rows=0"])
def test_sample_settings_out_of_range_are_one_line_errors(override):
    with pytest.raises(ConfigError, match=override.split("=")[0]) as err:
        config_io.resolve(None, [override])
    assert "\n" not in str(err.value)
    assert config_io.resolve(None, ["run.samples_every=0", "run.samples_rows=1"]).run.samples_rows == 1
