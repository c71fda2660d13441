"""The NTP train step as the trainer runs it: tokens per second, step time and MFU against the measured matmul peak.

The state is built and sharded on the configured mesh by the trainer's own `build_state`, and the step is the
`NTPTask` step (jitted with the state's shardings and donation; host batch in, device placement included). The
batch is random tokens filling every row (one document per row, no padding), of the shape `cfg.data` says. The
first call compiles and is reported apart (`compile_s`); the figures average `repeats` later calls.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from rlpjax import compute
from rlpjax.config import Config
from rlpjax.sharding import make_mesh
from rlpjax.train.metrics import measure_peak_tflops
from rlpjax.train.task import StepContext
from rlpjax.train.tasks.ntp import NTPTask


def random_batch(vocab: int, rows: int, seq_len: int, seed: int) -> dict[str, np.ndarray]:
    """A host batch of uniform random tokens, one full-length document per row."""
    tokens = np.random.default_rng(seed).integers(0, vocab, size=(rows, seq_len), dtype=np.int32)
    return {"tokens": tokens, "segment_ids": np.ones((rows, seq_len), np.int32),
            "positions": np.broadcast_to(np.arange(seq_len, dtype=np.int32), (rows, seq_len)).copy()}


def trainer_step(cfg: Config, mesh):
    """(step, state, model config): the `NTPTask` step as the trainer jits it (state shardings, donation; host batch
    in) and a freshly built state of its own (the step donates it), from the trainer's own `build_state`."""
    from rlpjax.train.loop import build_state

    task = NTPTask(cfg)
    graphdef, state, shardings, tx, schedule, model_cfg = build_state(cfg, task, mesh)
    ctx = StepContext(cfg=cfg, mesh=mesh, graphdef=graphdef, tx=tx, schedule=schedule, state_shardings=shardings,
                      process_index=jax.process_index(), process_count=jax.process_count())
    return task.make_step(ctx), state, model_cfg


def bench_ntp(cfg: Config, *, repeats: int = 5, peak_tflops: float | None = None) -> dict:
    """Time `repeats` NTP steps of `cfg.data.global_batch_size` x `cfg.data.seq_len` tokens after a compiling one.

    `peak_tflops`: the per-device matmul peak to divide by (default: measured here with `measure_peak_tflops`).
    MFU = model FLOPs per step (compute.ntp_step_flops) / step time / (peak x device count), as the trainer logs it.
    """
    rows, seq_len = cfg.data.global_batch_size, cfg.data.seq_len
    mesh = make_mesh(cfg.mesh)
    step, state, model_cfg = trainer_step(cfg, mesh)
    batch = random_batch(model_cfg.vocab_size, rows, seq_len, cfg.run.seed)

    start = time.perf_counter()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
    step_s = (time.perf_counter() - start) / repeats
    loss = float(metrics["loss"])

    peak = measure_peak_tflops() if peak_tflops is None else peak_tflops
    flops = compute.ntp_step_flops(model_cfg, rows, seq_len).total
    tokens = rows * seq_len
    return {"rows": rows, "seq_len": seq_len, "repeats": repeats, "mesh": dict(mesh.shape),
            "compile_s": compile_s, "step_s": step_s, "tokens_per_s": tokens / step_s,
            "flops_per_step": flops, "achieved_tflops": flops / step_s / 1e12, "peak_tflops_per_device": peak,
            "mfu": flops / step_s / (peak * 1e12 * mesh.devices.size), "final_loss": loss}
