"""How an objective plugs into the loop: a `Task` registered by name.

The loop owns the mesh, the model, the TrainState, checkpoints, metrics and signals; a task owns what differs
between objectives: which batches it reads, what one step does (one jitted update for NTP; sample, score, then
update for RLP; sample, verify on the host, then update for GRPO), and how many FLOPs and tokens a step costs.
Adding an objective is one new module with a `Task` subclass and one line in `TASKS`.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
from typing import Any, Callable, Protocol

import optax
from flax import nnx
from jax.sharding import Mesh

from rlpjax.config import Config, ModelConfig
from rlpjax.config_io import ConfigError
from rlpjax.train.state import TrainState

StepFn = Callable[[TrainState, Any], tuple[TrainState, dict]]


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


class BatchIterator(Protocol):
    """A resumable stream of global batches (the data pipeline's iterators satisfy it)."""

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

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def model_config(self) -> ModelConfig:
        """The model this task trains (RLP may grow the vocabulary by the thought tokens)."""
        return self.cfg.model

    @abc.abstractmethod
    def batches(self) -> BatchIterator:
        """The global training batch stream (the same on every host; see rlpjax/train/batches.py)."""

    @abc.abstractmethod
    def make_step(self, ctx: StepContext) -> StepFn:
        """`step(state, host_batch) -> (state, metrics)`; may run several compiled functions."""

    def make_eval(self, ctx: StepContext) -> Callable[[TrainState], dict] | None:
        """An evaluation hook run every `run.eval_every` steps, or None."""
        return None

    @abc.abstractmethod
    def flops_and_tokens_per_step(self) -> tuple[float, int]:
        """Model FLOPs of one step and the tokens it consumes (for MFU and tokens/s)."""


TASKS: dict[str, str] = {
    "ntp": "rlpjax.train.tasks.ntp:NTPTask",
    "rlp": "rlpjax.train.tasks.rlp:RLPTask",
    "grpo": "rlpjax.train.tasks.grpo:GRPOTask",
}
"""Objective name -> "module:class" of its Task (imported only when used)."""


def get_task(cfg: Config) -> Task:
    """The Task registered under `cfg.run.objective`, built for `cfg`."""
    name = cfg.run.objective
    if name not in TASKS:
        raise ConfigError(f"run.objective is {name!r}; choose one of {', '.join(sorted(TASKS))}")
    module_name, class_name = TASKS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(cfg)
