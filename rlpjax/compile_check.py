"""`rlpjax compile-check --config FILE [overrides] --topology v5p-128`: will the train step fit on that pod?

Compiles the training update ahead of time for a target topology on this machine and prints the per-device memory
XLA plans (arguments, outputs, temporaries) against the chip's HBM, so an out-of-memory config is caught on a laptop
instead of after a pod has been queued for an hour.

Nothing of the real model's size is allocated: the model, optimizer state and batch are `jax.eval_shape` shapes
placed on a mesh of the topology's devices, and only `jax.jit(step).lower(...).compile()` runs.

- `--topology v5p-128` (also v4-N, v5e-N / v5litepod-N, v6e-N; `--num-slices S` for multi-slice) builds
  compile-only TPU devices with `jax.experimental.topologies`, which needs libtpu (`pip install libtpu`).
- `--topology cpu-N` compiles for N virtual CPU devices and always works; HBM is then host RAM / N unless
  `--hbm-gib` says otherwise.

Every stage of the objective's step is compiled, the same programs the trainer runs (`Task.stages` lowered from
`Task.abstract_inputs`): NTP's update; RLP's rollout (sample + score) and update (one minibatch); GRPO's sample,
log-prob recompute (when used) and update. A stage's need is its arguments + outputs - donated + temporaries +
code, plus the training state it does not take but which stays resident beside it (the optimizer state during
RLP's rollout); the verdict compares the largest stage with the HBM per device. `--json FILE` writes
{"objective", "stages": {name: {"arguments_bytes", "outputs_bytes", "temporaries_bytes", "total_bytes", ...}},
"hbm_bytes_per_device", "verdict"}. Exit status: 0 fits, 1 does not fit, 2 a user error.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re

from rlpjax import config_io
from rlpjax.config_io import ConfigError

GIB = 1024**3

HBM_GIB_PER_CHIP = {"v4": 32.0, "v5e": 16.0, "v5p": 95.0, "v6e": 32.0}
"""HBM of one chip by TPU generation (one JAX device per chip: v4 and v5p run their two cores as a megacore)."""

CORES_IN_NAME = {"v4": 2, "v5p": 2, "v5e": 1, "v6e": 1}
"""Accelerator names count TensorCores: v4-8 / v5p-8 are 4 chips; v5e-8 / v6e-8 are 8 chips."""

TOPOLOGY_NAME = {"v4": "v4", "v5p": "v5p", "v5e": "v5e", "v6e": "v6e"}
"""Generation -> the prefix libtpu expects in a topology name such as "v5p:4x4x4"."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A parsed `--topology`: a TPU generation with its chip grid, or N CPU devices."""

    name: str
    platform: str
    """"tpu" or "cpu"."""
    chips: int
    """Devices per slice."""
    grid: tuple[int, ...] = ()
    """Chip grid of one slice (2-D for v5e/v6e, 3-D for v4/v5p); empty for CPU."""
    generation: str = ""
    num_slices: int = 1

    @property
    def devices(self) -> int:
        return self.chips * self.num_slices


def parse_topology(name: str, num_slices: int = 1) -> Target:
    """`v5p-128` -> 64 chips in a 4x4x4 grid; `v5e-8` -> 8 chips in 2x4; `cpu-8` -> 8 CPU devices."""
    name = name.strip().lower()
    if num_slices < 1:
        raise ConfigError(f"--num-slices is {num_slices}; give a positive number of slices")
    if m := re.fullmatch(r"cpu-(\d+)", name):
        if num_slices != 1:
            raise ConfigError("--num-slices applies to TPU topologies only; use --topology cpu-N with N devices")
        return Target(name, "cpu", int(m.group(1)))
    m = re.fullmatch(r"(v4|v5p|v5e|v5litepod|v6e)-(\d+)", name)
    if not m:
        raise ConfigError(f"unknown topology {name!r}; use cpu-N or a TPU type such as v4-8, v5p-128, v5e-16, v6e-64")
    generation = "v5e" if m.group(1) == "v5litepod" else m.group(1)
    count, cores = int(m.group(2)), CORES_IN_NAME[generation]
    if count % cores or not _is_power_of_two(count // cores):
        raise ConfigError(f"{name!r} is not a TPU slice size; use a power of two such as {generation}-{8 * cores}")
    chips = count // cores
    grid = _grid_3d(chips) if cores == 2 else _grid_2d(chips)
    return Target(name, "tpu", chips, grid, generation, num_slices)


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _grid_2d(chips: int) -> tuple[int, int]:
    """v5e / v6e slice shapes: 1x1, 2x2, 2x4, 4x4, 4x8, 8x8, 8x16, 16x16."""
    if chips in (1, 2):
        return (1, chips)
    x = 2 ** (int(math.log2(chips)) // 2)
    return (x, chips // x)


def _grid_3d(chips: int) -> tuple[int, int, int]:
    """v4 / v5p slice shapes: 2x2x1, 2x2x2, 2x2x4, 2x4x4, 4x4x4, 4x4x8, 4x8x8, ... (double the smallest side)."""
    if chips < 4:
        return (1, 1, chips) if chips < 2 else (1, 2, 1)
    grid = [2, 2, 1]
    while math.prod(grid) < chips:
        smallest = min(grid)
        i = max(j for j, g in enumerate(grid) if g == smallest)
        grid[i] *= 2
    return tuple(sorted(grid))


def target_devices(target: Target) -> list:
    """The (compile-only, for TPU) devices of `target`."""
    import jax

    if target.platform == "cpu":
        from jax._src import xla_bridge

        if not xla_bridge.backends_are_initialized():
            jax.config.update("jax_num_cpu_devices", max(target.chips, jax.config.jax_num_cpu_devices))
        devices = jax.devices("cpu")
        if len(devices) < target.chips:
            raise ConfigError(f"--topology {target.name} needs {target.chips} CPU devices but this process has "
                              f"{len(devices)}; run compile-check in a fresh process")
        return devices[:target.chips]
    from jax._src import xla_bridge
    from jax.experimental import topologies

    if xla_bridge.get_tpu_library_path() is None:
        raise ConfigError(f"--topology {target.name} needs the TPU compiler, which is not installed; run "
                          "`pip install libtpu` (or use --topology cpu-N)")
    # Compile-only devices use no chip: another process holding libtpu's lock (a second compile-check) is no obstacle.
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
    grid = target.grid + (1,) * (3 - len(target.grid))
    host = tuple(min(h, g) for h, g in zip((2, 2, 1), grid))
    full_cube = len(target.grid) == 3 and all(g >= 4 for g in grid)
    topo = topologies.get_topology_desc(
        f"{TOPOLOGY_NAME[target.generation]}:{'x'.join(map(str, target.grid))}", "tpu",
        chip_config_name="megacore" if len(target.grid) == 3 else "default", chips_per_host_bounds=host,
        num_slices=target.num_slices, wrap=(full_cube,) * 3)
    return list(topo.devices)


def build_mesh(cfg, devices, target: Target):
    """The run's mesh over `devices`; on TPU the device order follows the physical grid (ICI neighbours)."""
    from jax.experimental import mesh_utils
    from jax.sharding import Mesh

    from rlpjax.sharding import make_mesh

    mesh = make_mesh(cfg.mesh, devices)
    if target.platform != "tpu":
        return mesh
    shape = mesh.devices.shape
    try:
        if target.num_slices > 1:
            # The slices are joined by the slow data-centre network: put them on the first mesh axis they divide
            # (data, else fsdp), so only that axis's collectives cross slices.
            axis = next((i for i, s in enumerate(shape) if s % target.num_slices == 0), None)
            if axis is None:
                raise ConfigError(f"no mesh axis of {dict(mesh.shape)} divides into {target.num_slices} slices; "
                                  f"make mesh.data a multiple of {target.num_slices}")
            dcn = [target.num_slices if i == axis else 1 for i in range(len(shape))]
            ici = [s // d for s, d in zip(shape, dcn)]
            ordered = mesh_utils.create_hybrid_device_mesh(ici, dcn, devices)
        else:
            ordered = mesh_utils.create_device_mesh(shape, devices, allow_split_physical_axes=True)
    except (ValueError, NotImplementedError, AssertionError):
        return mesh  # keep the plain order: still a valid compile, only collective costs differ
    return Mesh(ordered, mesh.axis_names)


def abstract_state_and_context(cfg, mesh, task):
    """(abstract TrainState with shardings, StepContext) of `task` on `mesh`, from `jax.eval_shape` only."""
    import jax
    from flax import nnx

    from rlpjax.model.decoder import Decoder
    from rlpjax.sharding import state_shardings
    from rlpjax.train.optimizer import make_optimizer
    from rlpjax.train.state import init_train_state
    from rlpjax.train.task import StepContext

    abstract_model = nnx.eval_shape(lambda: Decoder(task.model_config(), rngs=nnx.Rngs(cfg.run.seed)))
    graphdef, abstract_params = nnx.split(abstract_model, nnx.Param)
    tx, schedule = make_optimizer(cfg.optimizer, cfg.run.steps * task.updates_per_step())
    abstract_state = jax.eval_shape(
        lambda p: init_train_state(p, tx, cfg.run.seed, with_ema=task.uses_ema, with_ref=task.uses_reference),
        abstract_params)
    shardings = state_shardings(abstract_state, mesh)
    state_in = jax.tree.map(lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
                            abstract_state, shardings)
    ctx = StepContext(cfg=cfg, mesh=mesh, graphdef=graphdef, tx=tx, schedule=schedule, state_shardings=shardings,
                      process_index=0, process_count=1, abstract=True)
    return state_in, ctx


def device_bytes(tree) -> int:
    """Bytes one device holds of the abstract arrays of `tree` (the largest shard of each)."""
    import jax

    return sum(math.prod(x.sharding.shard_shape(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def compile_stages(cfg, mesh) -> dict[str, tuple[object, int]]:
    """Compile every stage of the configured objective's step on `mesh` from abstract shapes only.

    Returns {stage: (compiled executable, or the compiler's one-line refusal when the stage cannot fit, resident
    bytes)}; the resident bytes are the training state's fields the stage does not take (RLP's rollout runs beside
    the optimizer state), which stay in device memory meanwhile.
    """
    import dataclasses as dc

    from rlpjax.sharding import batch_ways
    from rlpjax.train.loop import check_batch_fits_mesh
    from rlpjax.train.task import get_task

    task = get_task(cfg)
    check_batch_fits_mesh(task, mesh)
    rows, accum = cfg.data.global_batch_size, cfg.optimizer.grad_accum_steps
    ways = batch_ways(mesh)
    if cfg.run.objective != "grpo" and rows % (ways * accum):
        raise ConfigError(f"data.global_batch_size {rows} does not split over the {ways} data x fsdp devices "
                          f"and {accum} accumulation steps; make it a multiple of {ways * accum}")
    state_in, ctx = abstract_state_and_context(cfg, mesh, task)
    inputs = task.abstract_inputs(ctx, state_in)
    compiled = {}
    for name, stage in task.stages(ctx).items():
        print(f"[rlpjax] compiling stage {name} ...", flush=True)
        fields = [f.name for f in dc.fields(state_in)]
        resident = 0 if stage.state_fields is None else device_bytes(
            [getattr(state_in, f) for f in fields if f not in stage.state_fields])
        try:
            compiled[name] = (stage.jit(mesh).lower(*inputs[name]).compile(), resident)
        except Exception as err:  # the TPU compiler refuses a program that cannot fit: that is the answer
            if "RESOURCE_EXHAUSTED" not in str(err):
                raise
            compiled[name] = (str(err).splitlines()[0], resident)
            print(f"[rlpjax] stage {name}: the compiler ran out of memory: {compiled[name][0]}", flush=True)
    return compiled


def stage_memory(stats, resident_bytes: int = 0) -> dict[str, int]:
    """Per-device bytes XLA plans for one compiled stage; total = arguments + outputs - aliased + temporaries +
    generated code + the resident state beside it."""
    total = (stats.argument_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
             + stats.temp_size_in_bytes + stats.generated_code_size_in_bytes + resident_bytes)
    return {"arguments_bytes": int(stats.argument_size_in_bytes), "outputs_bytes": int(stats.output_size_in_bytes),
            "aliased_bytes": int(stats.alias_size_in_bytes), "temporaries_bytes": int(stats.temp_size_in_bytes),
            "generated_code_bytes": int(stats.generated_code_size_in_bytes), "resident_bytes": int(resident_bytes),
            "total_bytes": int(total)}


TABLE_ROWS = (("arguments", "arguments_bytes"), ("outputs", "outputs_bytes"), ("aliased (donated)", "aliased_bytes"),
              ("temporaries", "temporaries_bytes"), ("generated code", "generated_code_bytes"),
              ("resident state", "resident_bytes"), ("total", "total_bytes"))
"""The printed table's rows: label and key of `stage_memory` (aliased bytes are subtracted in the total)."""


def print_table(stages: dict[str, dict[str, int]], hbm_bytes: float) -> None:
    """One column of GiB per stage, then the HBM per device."""
    names = list(stages)
    print(f"{'per device (GiB)':<20}" + "".join(f"{n:>14}" for n in names))
    for label, key in TABLE_ROWS:
        sign = -1 if key == "aliased_bytes" else 1
        print(f"{label:<20}" + "".join(f"{sign * stages[n][key] / GIB:>14.4f}" for n in names))
    print(f"{'HBM per device':<20}{hbm_bytes / GIB:>14.4f}")


def default_hbm_bytes(target: Target) -> float:
    if target.platform == "tpu":
        return HBM_GIB_PER_CHIP[target.generation] * GIB
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / target.chips


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="preset (.py) or saved run config (.json); default: built-in")
    parser.add_argument("--topology", required=True, help="cpu-N, or a TPU type: v4-8, v5p-128, v5e-16, v6e-64 ...")
    parser.add_argument("--num-slices", type=int, default=1, help="slices of that TPU type (multi-slice over DCN)")
    parser.add_argument("--hbm-gib", type=float, default=None, help="memory per device to check against (GiB); "
                        "default: the chip's HBM, or host RAM / N for cpu-N")
    parser.add_argument("--json", default=None, help="also write the per-stage memory and the verdict to this file")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. data.global_batch_size=256")


def run(args: argparse.Namespace) -> int:
    cfg = config_io.resolve(args.config, args.overrides)
    target = parse_topology(args.topology, args.num_slices)
    devices = target_devices(target)
    mesh = build_mesh(cfg, devices, target)
    mesh_desc = " x ".join(f"{n}={s}" for n, s in mesh.shape.items())
    print(f"[rlpjax] compiling the {cfg.run.objective} train step for {target.name}"
          f"{f' x {target.num_slices} slices' if target.num_slices > 1 else ''} ({len(devices)} devices, "
          f"mesh {mesh_desc}, batch {cfg.data.global_batch_size} x {cfg.data.seq_len})")
    hbm = args.hbm_gib * GIB if args.hbm_gib is not None else default_hbm_bytes(target)
    report = {"objective": cfg.run.objective, "topology": target.name, "devices": len(devices),
              "mesh": dict(mesh.shape), "stages": {}, "hbm_bytes_per_device": hbm}
    refused = {}
    for name, (executable, resident) in compile_stages(cfg, mesh).items():
        if isinstance(executable, str):
            refused[name] = executable
            continue
        stats = executable.memory_analysis()
        if stats is None:
            raise ConfigError(f"the {target.platform} compiler reports no memory analysis; try another topology")
        report["stages"][name] = stage_memory(stats, resident)
    if refused:
        report["refused"] = refused
        for name, error in refused.items():
            print(f"stage {name}: the compiler ran out of memory: {error}")
    if not report["stages"]:
        print("verdict: does not fit")
        _write_json(args.json, dict(report, verdict="does not fit"))
        return 1
    print_table(report["stages"], hbm)
    need = max(stage["total_bytes"] for stage in report["stages"].values())
    fits = need <= hbm and not refused
    report["verdict"] = "fits" if fits else "does not fit"
    used = need / hbm if hbm else float("inf")
    print(f"verdict: {report['verdict']} (the largest compiled stage needs {used:.1%} of {hbm / GIB:.2f} GiB per "
          f"device{'; refused: ' + ', '.join(refused) if refused else ''})")
    _write_json(args.json, report)
    return 0 if fits else 1


def _write_json(path: str | None, report: dict) -> None:
    if path:
        import json
        import pathlib

        pathlib.Path(path).write_text(json.dumps(report, indent=2) + "\n")
