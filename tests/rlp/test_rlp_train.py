"""RLP inside the trainer: the EMA teacher's closed form and persistence, mesh invariance, a real checkpoint."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rlpjax import config_io
from rlpjax.config import MeshConfig, ModelConfig
from rlpjax.model.decoder import Decoder
from rlpjax.objectives.ntp import ntp_loss
from rlpjax.sharding import make_mesh
from rlpjax.train.checkpoint import Checkpointer, abstract_like
from rlpjax.train.loop import build_state, train
from rlpjax.train.metrics import read_metrics
from rlpjax.train.state import init_train_state
from rlpjax.train.task import StepContext, get_task
from rlpjax.train.update import make_update_step

TINY = ["model.hidden_size=32", "model.intermediate_size=64", "model.num_layers=2", "model.num_heads=4",
        "model.num_kv_heads=2", "model.head_dim=8", "data.seq_len=32", "data.global_batch_size=8",
        "rlp.group_size=2", "rlp.positions_per_doc=2", "rlp.max_thought_tokens=4", "run.progress=false",
        "optimizer.learning_rate=1e-3"]


def _tiny_rlp_config(*overrides):
    return config_io.resolve("experiments/rlp_cpu.py", TINY + list(overrides))


def test_ema_equals_closed_form_mix():
    """phi_n = tau^n theta_0 + sum_k (1 - tau) tau^(n-k) theta_k, theta_k the parameters after update k."""
    cfg = ModelConfig(vocab_size=16, hidden_size=16, intermediate_size=32, num_layers=1, num_heads=2,
                      num_kv_heads=1, head_dim=8)
    graphdef, params = nnx.split(Decoder(cfg, rngs=nnx.Rngs(0)), nnx.Param)
    tau, tx = 0.7, optax.sgd(0.5)

    def loss_fn(model, batch, _):
        return ntp_loss(model(batch["tokens"]), batch["tokens"], jnp.ones_like(batch["tokens"]))

    step = jax.jit(make_update_step(graphdef, loss_fn, tx, optax.constant_schedule(0.5), ema_decay=tau))
    state = init_train_state(params, tx, seed=0, with_ema=True)
    thetas = [state.params]
    for i in range(4):
        tokens = jax.random.randint(jax.random.PRNGKey(i), (2, 6), 0, 16)
        state, _ = step(state, {"tokens": tokens})
        thetas.append(state.params)
    n = len(thetas) - 1
    expected = jax.tree.map(lambda *ts: tau**n * ts[0] + sum((1 - tau) * tau**(n - k) * ts[k] for k in range(1, n + 1)),
                            *thetas)
    for got, want in zip(jax.tree.leaves(state.ema_params), jax.tree.leaves(expected)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(jax.tree.leaves(state.ema_params)[0]), np.asarray(jax.tree.leaves(thetas[-1])[0]))


def test_teacher_is_initialised_once_and_survives_checkpoints(tmp_path):
    """Lazy init copies the policy at the start only: after training and a restart, the restored teacher is the saved
    EMA (it lags the policy), not a fresh copy of the policy."""
    run_dir = tmp_path / "rlp"
    cfg = _tiny_rlp_config(f"run.run_dir={run_dir}", "run.steps=2", "checkpoint.every_steps=1",
                           "checkpoint.async_save=false", "rlp.ema_tau=0.5")
    train(cfg)
    task = get_task(cfg)
    mesh = make_mesh(cfg.mesh)
    _, fresh, _, _, _, _ = build_state(cfg, task, mesh)
    checkpointer = Checkpointer(run_dir / "checkpoints", cfg.checkpoint)
    step, state, _data, _meta = checkpointer.restore_latest(abstract_like(fresh))
    checkpointer.close()
    assert step == 2
    ema, policy, init = (jax.tree.leaves(t) for t in (state.ema_params, state.params, fresh.params))
    assert any(not np.allclose(np.asarray(e), np.asarray(p)) for e, p in zip(ema, policy))
    # EMA with tau = 0.5 after two updates: 0.25 theta_0 + 0.25 theta_1 + 0.5 theta_2, strictly between init and now.
    assert any(not np.allclose(np.asarray(e), np.asarray(i)) for e, i in zip(ema, init))
    resumed = train(dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, steps=3)))
    assert resumed.last_step == 3
    assert [r["step"] for r in read_metrics(run_dir) if "reward_mean" in r] == [1, 2, 3]


def _one_step_loss(cfg, mesh):
    task = get_task(cfg)
    graphdef, state, shardings, tx, schedule, _ = build_state(cfg, task, mesh)
    ctx = StepContext(cfg=cfg, mesh=mesh, graphdef=graphdef, tx=tx, schedule=schedule, state_shardings=shardings,
                      process_index=0, process_count=1)
    step = task.make_step(ctx)
    _, metrics = step(state, next(task.batches()))
    return {k: float(metrics[k]) for k in ("loss", "reward_mean", "s_pred_mean", "grad_norm")}


@pytest.fixture(scope="module")
def single_device_step():
    """(config, the step's metrics on one device): the reference both mesh shapes are compared with."""
    cfg = _tiny_rlp_config()
    return cfg, _one_step_loss(cfg, make_mesh(MeshConfig(1, 1, 1), devices=jax.devices()[:1]))


@pytest.mark.parametrize("shape", [(8, 1, 1), pytest.param((2, 2, 2), marks=pytest.mark.slow)])  # the default
# run keeps the 8-way mesh; the tensor axis of the branch forward is test_activation_sharding's branch-mode test
def test_rlp_step_is_mesh_invariant(single_device_step, shape):
    cfg, single = single_device_step
    sharded = _one_step_loss(cfg, make_mesh(MeshConfig(*shape)))
    for key, value in single.items():
        np.testing.assert_allclose(sharded[key], value, rtol=2e-4, atol=1e-6, err_msg=key)


def test_stories260k_runs_rlp_on_c4(shared_data, tmp_path):
    """The real Llama checkpoint (no <think> in its tokenizer: the vocabulary grows by two rows) thinks on C4 text."""
    model_dir = shared_data / "models" / "stories260K"
    cfg = config_io.resolve("experiments/rlp_cpu.py", [
        "model.family=llama", "model.vocab_size=512", "model.hidden_size=64", "model.intermediate_size=172",
        "model.num_layers=5", "model.num_heads=8", "model.num_kv_heads=4", "model.head_dim=8",
        "model.rms_norm_eps=1e-5", "model.qk_norm=false", "model.max_seq_len=512",
        f"run.init_from={model_dir}", f"data.tokenizer={model_dir}", "data.sources.0.format=jsonl",
        f"data.sources.0.path={shared_data / 'web' / 'c4_en_sample_1000.jsonl'}", "data.seq_len=64",
        "data.global_batch_size=8",
        "rlp.group_size=2", "rlp.max_thought_tokens=8", "run.steps=2", f"run.run_dir={tmp_path / 'run'}",
        "run.progress=false", "checkpoint.async_save=false"])
    result = train(cfg)
    records = [r for r in read_metrics(result.run_dir) if "reward_mean" in r]
    assert [r["step"] for r in records] == [1, 2]
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["reward_mean"]) for r in records)
    assert records[0]["s_ema_mean"] > -8.0  # the loaded model predicts C4 text far better than chance (log 1/514)


def test_steps_updates_schedule_and_flops_count_ppo_updates(tmp_path):
    """ppo_epochs=2 x minibatches=2: 4 optimizer updates per training step. The cosine schedule spans
    run.steps * 4 updates (hand-computed below), `step` and `updates` are counted apart and checkpointed, and the
    logged FLOPs follow the step's measured thought length, not the cap."""
    steps, per_step, peak, alpha = 3, 4, 1e-3, 0.1
    run_dir = tmp_path / "ppo"
    cfg = _tiny_rlp_config(f"run.run_dir={run_dir}", f"run.steps={steps}", "rlp.pg.ppo_epochs=2",
                           "rlp.pg.minibatches=2",
                           "optimizer.schedule=cosine", "optimizer.warmup_steps=0",
                           f"optimizer.min_lr_ratio={alpha}", "checkpoint.async_save=false", "run.peak_tflops=1")
    train(cfg)
    task = get_task(cfg)
    _, fresh, _, _, _, _ = build_state(cfg, task, make_mesh(cfg.mesh))
    checkpointer = Checkpointer(run_dir / "checkpoints", cfg.checkpoint)
    saved_step, state, _data, _meta = checkpointer.restore_latest(abstract_like(fresh))
    checkpointer.close()
    assert (saved_step, int(state.step), int(state.updates)) == (steps, steps, steps * per_step)

    total = steps * per_step
    cosine = lambda u: peak * (alpha + (1 - alpha) * 0.5 * (1 + np.cos(np.pi * u / total)))  # noqa: E731
    records = [r for r in read_metrics(run_dir) if "reward_mean" in r]
    for r in records:
        first = (r["step"] - 1) * per_step
        want = np.mean([cosine(u) for u in range(first, first + per_step)])  # the step logs its updates' mean
        np.testing.assert_allclose(r["learning_rate"], want, rtol=1e-5)  # float32 schedule vs float64

    cap = cfg.rlp.max_thought_tokens
    flops = [task._flops(r["length_mean"]) for r in records]
    assert any(r["length_mean"] < cap for r in records)  # else the test could not tell measured from cap
    np.testing.assert_allclose([r["flops_cumulative"] for r in records], np.cumsum(flops), rtol=1e-12)


def test_position_settings_are_one_line_errors_before_any_step():
    from rlpjax.config_io import ConfigError

    with pytest.raises(ConfigError, match="rlp.position_strategy='surprise' is not one of uniform"):
        get_task(_tiny_rlp_config("rlp.position_strategy=surprise")).rollout_settings()
    with pytest.raises(ConfigError, match="needs exactly one"):  # the byte tokenizer spells <answer> in 8 tokens
        get_task(_tiny_rlp_config("rlp.position_strategy=after_token", "rlp.position_token=<answer>")).rollout_settings()
    with pytest.raises(ConfigError, match="after_token needs rlp.position_token"):
        get_task(_tiny_rlp_config("rlp.position_strategy=after_token")).rollout_settings()
    settings = get_task(_tiny_rlp_config("rlp.position_strategy=after_token", "rlp.position_token=a")).rollout_settings()
    from rlpjax.data import load_tokenizer

    assert [settings.position_token_id] == load_tokenizer("byte").encode("a")
