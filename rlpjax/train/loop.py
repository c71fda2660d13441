"""`train(cfg)`: the loop every objective runs in.

Reads top to bottom: join the multi-host job, make the run directory and mesh, build or load the model, make the
state, resume from the newest good checkpoint (state and data position), then step until `run.steps`, writing
metrics, saving checkpoints, evaluating, and stopping cleanly on SIGTERM/SIGINT or on repeated non-finite steps.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import time

import jax
from flax import nnx

from rlpjax import __version__, config_io
from rlpjax.config import Config
from rlpjax.config_io import ConfigError
from rlpjax.data.tokenizer import load_tokenizer
from rlpjax.paths import Path, as_path
from rlpjax.sharding import batch_ways, create_sharded_model, make_mesh
from rlpjax.train import distributed
from rlpjax.train.checkpoint import Checkpointer, abstract_like
from rlpjax.train.init import load_initial_params, model_config_for_init
from rlpjax.train.metrics import MetricsWriter, Throughput, measure_peak_tflops
from rlpjax.train.optimizer import make_optimizer
from rlpjax.train.preemption import PreemptionGuard
from rlpjax.train.progress import Progress
from rlpjax.train.state import init_sharded_train_state
from rlpjax.train.task import StepContext, get_task

log = logging.getLogger(__name__)


class DivergenceError(RuntimeError):
    """Training produced non-finite losses or gradients for too many steps in a row."""


@dataclasses.dataclass
class RunResult:
    """What a finished (or preempted) run reports back."""

    run_dir: Path
    last_step: int
    preempted: bool
    final_metrics: dict
    message: str = ""
    """The one-line stop message of a preempted run (empty otherwise)."""


def resolve_run_dir(cfg: Config) -> Path:
    """`run.run_dir` (local or a URL such as gs://bucket/runs/x: every file of the run goes through `rlpjax.paths`),
    or runs/<run.name> when it is empty."""
    return as_path(cfg.run.run_dir or f"runs/{cfg.run.name}")


def _write_run_files(run_dir: Path, cfg: Config) -> None:
    """The resolved config (config.json) and the package versions and devices (run_info.json)."""
    config_io.save_json(cfg, run_dir / "config.json")
    info = {"rlpjax_version": __version__, "jax_version": jax.__version__, "python": platform.python_version(),
            "devices": [str(d) for d in jax.devices()], "process_count": jax.process_count(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    (run_dir / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")


def check_batch_fits_mesh(task, mesh) -> None:
    """The step's device batch (`task.batch_rows()`) must split evenly over the mesh's batch axes (data x fsdp)."""
    batch_devices, rows = batch_ways(mesh), task.batch_rows()
    if rows % batch_devices:
        raise ConfigError(f"{task.batch_rows_key()}={rows} does not split over the {batch_devices} data x fsdp "
                          f"devices of the mesh; use a multiple of {batch_devices} or change mesh.data / mesh.fsdp")


def check_vocab_covers_tokenizer(cfg: Config, task) -> None:
    """The model's vocabulary must hold every id data.tokenizer can produce: a larger id reads past the embedding
    table (jnp.take fills NaN) and the run trains to NaN. Checked before anything is built."""
    vocab = task.model_config().vocab_size
    ids = load_tokenizer(cfg.data.tokenizer).vocab_size
    if vocab < ids:
        raise ConfigError(f"model.vocab_size={vocab} is below the {ids} ids of data.tokenizer={cfg.data.tokenizer!r}; "
                          f"set model.vocab_size={ids} or more")


def build_state(cfg: Config, task, mesh):
    """(graphdef, state, shardings, tx, schedule, model_cfg): the freshly initialised, sharded training state."""
    model_cfg = task.model_config()
    model = create_sharded_model(model_cfg, mesh, cfg.run.seed)
    graphdef, params = nnx.split(model, nnx.Param)
    tx, schedule = make_optimizer(cfg.optimizer, cfg.run.steps * task.updates_per_step())  # counts updates
    state, shardings = init_sharded_train_state(params, tx, cfg.run.seed, mesh, with_ema=task.uses_ema,
                                                with_ref=task.uses_reference)
    return graphdef, state, shardings, tx, schedule, model_cfg


def train(cfg: Config) -> RunResult:
    """Run (or resume) the configured training job; returns where it stopped."""
    distributed.initialize()
    cfg = dataclasses.replace(cfg, model=model_config_for_init(cfg))  # an init_from model's architecture
    task = get_task(cfg)
    check_vocab_covers_tokenizer(cfg, task)
    run_dir = resolve_run_dir(cfg)
    is_writer = jax.process_index() == 0
    if is_writer:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_run_files(run_dir, cfg)

    mesh = make_mesh(cfg.mesh)
    check_batch_fits_mesh(task, mesh)
    graphdef, state, shardings, tx, schedule, model_cfg = build_state(cfg, task, mesh)
    batches = task.batches(mesh)
    checkpointer = Checkpointer(run_dir / "checkpoints", cfg.checkpoint, run_config=config_io.to_dict(cfg))
    try:
        restored = checkpointer.restore_latest(abstract_like(state))
    except BaseException:  # a refused resume (one line, exit 2) must not leave orbax's threads running at exit
        checkpointer.close()
        raise
    nonfinite_total, flops_cumulative = 0, 0.0
    if restored is not None:
        step0, state, data_state, meta = restored
        batches.set_state(data_state)
        nonfinite_total = int(meta.get("nonfinite_total", 0))
        flops_cumulative = float(meta.get("flops_cumulative", 0.0))
        print(f"[rlpjax] resuming {run_dir} from step {step0}")
    elif cfg.run.init_from:  # a fresh run only: a resumed run continues from its own checkpoint
        params = load_initial_params(cfg.run.init_from, model_cfg, state.params)
        state, _ = init_sharded_train_state(params, tx, cfg.run.seed, mesh, with_ema=task.uses_ema,
                                            with_ref=task.uses_reference)

    ctx = StepContext(cfg=cfg, mesh=mesh, graphdef=graphdef, tx=tx, schedule=schedule, state_shardings=shardings,
                      process_index=jax.process_index(), process_count=jax.process_count())
    step_fn = task.make_step(ctx)
    eval_fn = task.make_eval(ctx) if cfg.run.eval_every > 0 else None
    flops, tokens = task.flops_and_tokens_per_step()
    throughput = Throughput(flops, tokens, cfg.run.peak_tflops or measure_peak_tflops())
    start_step = int(state.step)
    writer = MetricsWriter(run_dir, enabled=is_writer, resume_step=start_step, cfg=cfg)
    progress = Progress(start_step, cfg.run.steps, enabled=cfg.run.progress and is_writer, desc=cfg.run.name,
                        mode=cfg.run.log_mode, every=cfg.run.log_every)
    nonfinite_streak, metrics, message = 0, {}, ""

    def save(step: int) -> None:
        writer.flush()  # metrics.jsonl holds every step up to `step` before its checkpoint can exist
        checkpointer.save(step, state, batches.get_state(), meta={"nonfinite_total": nonfinite_total,
                                                                       "flops_cumulative": flops_cumulative})

    try:
        with PreemptionGuard() as guard:
            for step in range(start_step + 1, cfg.run.steps + 1):
                started = time.perf_counter()
                samples_due = cfg.run.samples_every > 0 and step % cfg.run.samples_every == 0
                task.samples_requested = cfg.run.samples_rows if samples_due else 0  # on every process (a gather)
                state, step_metrics = step_fn(state, next(batches))
                metrics = {k: float(v) for k, v in jax.device_get(step_metrics).items()}
                step_flops = task.step_flops(metrics)
                flops_cumulative += step_flops
                metrics["flops_cumulative"] = flops_cumulative  # model FLOPs spent by this run up to this step
                throughput.add(time.perf_counter() - started, step_flops)
                nonfinite = int(metrics.get("nonfinite", 0))
                nonfinite_streak = nonfinite_streak + 1 if nonfinite else 0
                nonfinite_total += nonfinite
                metrics["nonfinite_total"] = nonfinite_total
                if step % cfg.run.log_every == 0 or step == cfg.run.steps or nonfinite:
                    metrics.update(throughput.read())
                    metrics.update({f"data/{k}": v for k, v in batches.stats().items()})
                    writer.write(step, metrics)
                table = task.sample_table() if samples_due and is_writer else None
                if table is not None:
                    writer.write_table(step, cfg.run.objective, *table)
                if nonfinite_streak >= cfg.run.max_nonfinite_steps:
                    checkpointer.wait()
                    raise DivergenceError(
                        f"step {step}: non-finite loss or gradient for {nonfinite_streak} steps in a row (each update "
                        f"was skipped; {nonfinite_total} in total), so the run stopped; the last good "
                        f"checkpoint is {_last_checkpoint(checkpointer)}: lower optimizer.learning_rate or check "
                        "the data before resuming")
                if eval_fn is not None and step % cfg.run.eval_every == 0:
                    writer.write(step, {f"eval/{k}": v for k, v in eval_fn(state).items()})
                progress.update(step, metrics)
                if cfg.checkpoint.every_steps and step % cfg.checkpoint.every_steps == 0:
                    save(step)
                if guard.requested():
                    save(step)
                    checkpointer.wait()
                    message = (f"[rlpjax] {guard.signal_name or 'stop signal'} received: saved step {step} to "
                               f"{checkpointer.directory}; rerun the same command to resume")
                    break
            if not message:
                save(int(state.step))  # the final state (a no-op when this step was just saved)
    finally:
        progress.close()
        checkpointer.close()
        writer.close()
    return RunResult(run_dir=run_dir, last_step=int(state.step), preempted=bool(message), final_metrics=metrics,
                     message=message)


def _last_checkpoint(checkpointer: Checkpointer) -> str:
    """The newest finished checkpoint, in words."""
    steps = checkpointer.all_steps()
    return f"step {steps[-1]} in {checkpointer.directory}" if steps else "none (no checkpoint was saved yet)"
