"""The NTP benchmark step with `layers.dense`'s written-out backward pass vs JAX's own transpose of the einsum.

    .venv/bin/python -m rlpjax.bench.matmul_backward [--repeats 6] [overrides ...]

Both steps are built from the same preset (`experiments/bench/ntp_15m.py`) and state, then timed in turn (A B A B
...) in one process, so a change in the machine's load moves both alike; prints each one's median step time and MFU
and the ratio. The baseline replaces `layers._matmul` (the custom-VJP matmul) by the plain einsum before its step is
traced, which is the model as it was before the custom VJP.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from rlpjax import compute
from rlpjax.bench.ntp import random_batch, trainer_step
from rlpjax.config_io import resolve
from rlpjax.model import layers
from rlpjax.sharding import make_mesh
from rlpjax.train.metrics import measure_peak_tflops


def compiled_step(cfg, mesh, batch):
    """`bench.ntp.trainer_step` with its state, compiled now by one call (with whichever `_matmul` is in place)."""
    step, state, _ = trainer_step(cfg, mesh)
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    return step, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    cfg = resolve("experiments/bench/ntp_15m.py", args.overrides)
    mesh = make_mesh(cfg.mesh)
    batch = random_batch(cfg.model.vocab_size, cfg.data.global_batch_size, cfg.data.seq_len, cfg.run.seed)
    programs = {"dense (written-out backward)": compiled_step(cfg, mesh, batch)}
    custom = layers._matmul
    layers._matmul = lambda x, w, out_dtype: jnp.einsum("...k,kn->...n", x, w, preferred_element_type=out_dtype)
    try:
        programs["einsum (JAX's transpose)"] = compiled_step(cfg, mesh, batch)
    finally:
        layers._matmul = custom
    states = {name: state for name, (_, state) in programs.items()}
    times = {name: [] for name in programs}
    for _ in range(args.repeats):
        for name, (step, _) in programs.items():
            start = time.perf_counter()
            states[name], metrics = step(states[name], batch)
            jax.block_until_ready(metrics)
            times[name].append(time.perf_counter() - start)
    flops = compute.ntp_step_flops(cfg.model, cfg.data.global_batch_size, cfg.data.seq_len).total
    peak = measure_peak_tflops() * 1e12 * mesh.devices.size
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, seconds in medians.items():
        print(f"{name}: {seconds:.3f} s per step, MFU {flops / seconds / peak:.1%}")
    first, second = medians
    print(f"speedup: {medians[second] / medians[first]:.2f}x (peak {peak / 1e12:.3f} TFLOP/s)")


if __name__ == "__main__":
    main()
