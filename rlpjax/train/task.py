"""How an objective plugs into the loop: a `Task` registered by name.

The loop owns the mesh, the model, the TrainState, checkpoints, metrics and signals; a task owns what differs
between objectives: which batches it reads, what one step does, and how many FLOPs and tokens a step costs.

A step is made of *stages*: pure, jit-able functions with their shardings and donation (NTP: "update"; RLP:
"rollout" then "update"; GRPO: "sample", verify on the host, then "update"). `Task.stages(ctx)` returns them and
`Task.abstract_inputs(ctx, state)` the abstract arguments of each (`jax.ShapeDtypeStruct`s carrying shardings), so
the same programs are run by `make_step` (the loop), lowered by `rlpjax compile-check`, timed by `rlpjax bench` and
called by the main job. Adding an objective is one new module with a `Task` subclass and one line in `TASKS`.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
from typing import Any, Callable, Protocol

import jax
import optax
from flax import nnx
from jax.sharding import Mesh

from rlpjax.config import Config, ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.train.registry import TASKS
from rlpjax.train.state import TrainState

StepFn = Callable[[TrainState, Any], tuple[TrainState, dict]]
SampleTable = tuple[list[str], list[list]]
"""(columns, rows) of a table of sample generations: column names and rows of plain values (str, int, float)."""


@dataclasses.dataclass(frozen=True)
class StepContext:
    """What a task needs to build its step: the model's graph, the optimizer and the shardings."""

    cfg: Config
    mesh: Mesh
    graphdef: nnx.GraphDef
    tx: optax.GradientTransformation
    schedule: optax.Schedule
    state_shardings: Any
    process_index: int
    process_count: int
    abstract: bool = False
    """The stages are built without host-side lookups that change no shape (e.g. the tokenizer's pad id, which only
    fills masked positions; 0 is used): compile-check lowers them, `bench rlp` runs them on synthetic documents."""


@dataclasses.dataclass(frozen=True)
class Stage:
    """One compiled program of a step: a pure function and how it is jitted."""

    fn: Callable
    """The pure function (its arguments are arrays and pytrees of arrays)."""
    in_shardings: Any = None
    """`jax.jit` in_shardings (None: taken from the arguments)."""
    out_shardings: Any = None
    """`jax.jit` out_shardings (None: chosen by the compiler)."""
    donate_argnums: tuple[int, ...] = ()
    """Arguments whose buffers the outputs may reuse (the training state of an update)."""
    state_fields: tuple[str, ...] | None = None
    """The TrainState fields passed to the stage, or None when it takes the whole state; the others stay resident
    in device memory while it runs (compile-check adds them to the stage's need)."""

    def jit(self, mesh: Mesh | None = None):
        """The jitted stage; with `mesh`, traced under `sharding.activation_sharded` so its activations carry the
        rules table's shardings (the batch stays split under fsdp; heads, MLP and vocabulary split under tensor)."""
        from rlpjax.sharding import activation_sharded

        fn = self.fn if mesh is None else activation_sharded(self.fn, mesh)
        return jax.jit(fn, in_shardings=self.in_shardings, out_shardings=self.out_shardings,
                       donate_argnums=self.donate_argnums)


class BatchIterator(Protocol):
    """A resumable stream of batches (the data pipeline's iterators satisfy it)."""

    def __next__(self) -> Any: ...
    def get_state(self) -> dict: ...
    def set_state(self, state: dict) -> None: ...
    def stats(self) -> dict: ...


class Task(abc.ABC):
    """Base class of the objectives the loop can run."""

    uses_ema: bool = False
    """The state keeps an EMA of the parameters (RLP's teacher)."""
    uses_reference: bool = False
    """The state keeps a frozen copy of the initial parameters (KL reference)."""
    ema_decay: float | None = None
    """Decay of that EMA, applied after every optimizer step."""
    objective: str = ""
    """The `run.objective` name this task is registered under (`TASKS`)."""

    def __init__(self, cfg: Config):
        from rlpjax.config_checks import validate

        # A Config built in Python (the main job, a script, a test) gets the checks `resolve` gives the CLI's, with
        # this task's rules whatever run.objective says.
        self.cfg = validate(cfg, objective=self.objective)

    def model_config(self) -> ModelConfig:
        """The model this task trains (RLP may grow the vocabulary by the thought tokens)."""
        return self.cfg.model

    @abc.abstractmethod
    def batches(self, mesh=None) -> BatchIterator:
        """The training batch stream: this host's rows of the batches of the mesh `mesh` (None: every row), the
        same rows whatever the number of hosts (see rlpjax/train/batches.py)."""

    @abc.abstractmethod
    def stages(self, ctx: StepContext) -> dict[str, Stage]:
        """The step's compiled programs by name, in the order a step runs them."""

    @abc.abstractmethod
    def abstract_inputs(self, ctx: StepContext, state) -> dict[str, tuple]:
        """Each stage's arguments as `jax.ShapeDtypeStruct`s with shardings (`state`: the abstract TrainState)."""

    @abc.abstractmethod
    def make_step(self, ctx: StepContext) -> StepFn:
        """`step(state, host_batch) -> (state, metrics)`: the jitted `stages`, composed; `state.step` advances by
        one and `state.updates` by `updates_per_step()`."""

    def batch_rows(self) -> int:
        """Rows of the step's device batch, which split over the mesh's batch axes (default: the data batch)."""
        return self.cfg.data.global_batch_size

    def batch_rows_key(self) -> str:
        """How a config names `batch_rows()`, for the error when it does not split over the mesh."""
        return "data.global_batch_size"

    def updates_per_step(self) -> int:
        """Optimizer updates in one training step (the learning-rate schedule spans run.steps times this)."""
        return 1

    samples_requested: int = 0
    """Rows of sample generations the next step keeps for `sample_table`: the loop sets it on every process before
    each step (run.samples_rows on the steps a table is due, every run.samples_every, else 0). An attribute rather
    than a step argument, so the step's signature, and every caller of it (benchmarks, the main job), stays the
    same; a task with a table fetches the few rows it shows only when asked, never every step."""

    def sample_table(self) -> SampleTable | None:
        """The table of sample generations kept by the last step (run with `samples_requested` > 0), or None when
        this objective has none (the default; NTP)."""
        return None

    def make_eval(self, ctx: StepContext) -> Callable[[TrainState], dict] | None:
        """An evaluation hook run every `run.eval_every` steps, or None."""
        return None

    @abc.abstractmethod
    def flops_and_tokens_per_step(self) -> tuple[float, int]:
        """Model FLOPs of one step and the tokens it consumes (for MFU and tokens/s)."""

    def step_flops(self, metrics: dict) -> float:
        """Model FLOPs of the step that logged `metrics` (RLP counts its measured thought length); default: the
        fixed `flops_and_tokens_per_step`."""
        del metrics
        return self.flops_and_tokens_per_step()[0]


def abstract_batch(shapes: dict[str, tuple[tuple[int, ...], Any]], mesh: Mesh) -> dict[str, jax.ShapeDtypeStruct]:
    """{name: (shape, dtype)} -> ShapeDtypeStructs split over the batch axes like `to_device_batch` places them."""
    from rlpjax.sharding import batch_sharding, batch_ways

    devices = batch_ways(mesh)
    for key, (shape, _) in shapes.items():
        if shape[0] % devices:
            raise ConfigError(f"a stage's batch {key!r} has {shape[0]} rows, which do not split over the mesh's "
                              f"{devices} batch devices (data x fsdp); choose a batch or minibatch count whose rows "
                              f"per minibatch are a multiple of {devices}")
    return {key: jax.ShapeDtypeStruct(shape, dtype, sharding=batch_sharding(mesh, len(shape)))
            for key, (shape, dtype) in shapes.items()}


def get_task(cfg: Config) -> Task:
    """The Task registered under `cfg.run.objective`, built for `cfg`."""
    module_name, class_name = TASKS[cfg.run.objective].split(":")
    return getattr(importlib.import_module(module_name), class_name)(cfg)
