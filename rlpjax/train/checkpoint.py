"""Orbax checkpoints of the full training state.

Layout: `<run_dir>/checkpoints/<step>/` with three items: `state` (the TrainState pytree: params, optimizer, EMA,
reference, step, RNG), `data` (the data pipeline's JSON state) and `meta` (rlpjax version, step, config digest).

- Saves are asynchronous (training continues while arrays are written) and atomic: orbax writes into a temporary
  directory and renames it when complete, so a crash mid-save leaves no step that lists as finished.
- Retention: the newest `keep_last` steps plus every `keep_every`-th step.
- Restore walks back from the newest step: a step whose files are incomplete or corrupt is skipped with a warning
  naming it, and the previous good one is used.
- Restore targets the current mesh: the abstract state carries the new shardings, so a checkpoint written on one
  mesh or device count loads on another.
"""

from __future__ import annotations

import logging
import pathlib
import warnings
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from rlpjax import __version__
from rlpjax.config import CheckpointConfig

log = logging.getLogger(__name__)


class Checkpointer:
    """Saves and restores (TrainState, data-pipeline state) under one directory."""

    def __init__(self, directory: str | pathlib.Path, cfg: CheckpointConfig):
        self.directory = pathlib.Path(directory).absolute()
        keep = [policies.LatestN(max(1, cfg.keep_last))]
        if cfg.keep_every > 0:
            keep.append(policies.EveryNSteps(cfg.keep_every))
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=cfg.async_save,
            preservation_policy=policies.AnyPreservationPolicy(keep),
            create=True,
            cleanup_tmp_directories=True,  # remove the temporary directory a crash mid-save left behind
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def all_steps(self) -> list[int]:
        """Finished steps on disk, oldest first."""
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, data_state: dict, meta: dict | None = None) -> None:
        """Start an asynchronous save of `state` and `data_state` at `step` (a no-op if that step exists)."""
        if step in self._manager.all_steps():
            return
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=ocp.args.JsonSave(data_state),
            meta=ocp.args.JsonSave({"step": int(step), "rlpjax_version": __version__, **(meta or {})}),
        )
        self._manager.save(step, args=args, force=True)

    def restore_latest(self, abstract_state: Any) -> tuple[int, Any, dict, dict] | None:
        """(step, state, data_state, meta) from the newest readable step, or None when there is none.

        `abstract_state` is a pytree of `jax.ShapeDtypeStruct` with the target shardings.
        """
        steps = self.all_steps()
        for step in reversed(steps):
            try:
                return (step,) + self.restore(step, abstract_state)
            except Exception as err:  # any unreadable file means this step is unusable; try the one before
                older = [s for s in steps if s < step]
                fallback = f"falling back to step {older[-1]}" if older else "no older checkpoint exists"
                message = (f"checkpoint step {step} in {self.directory} is incomplete or corrupt "
                           f"({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}); {fallback}")
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                log.warning(message)
        return None

    def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict, dict]:
        """(state, data_state, meta) of one step, placed with the shardings of `abstract_state`."""
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore()))
        return restored["state"], restored["data"], restored["meta"]


    def wait(self) -> None:
        """Block until any save in flight is on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Wait for saves in flight, then release the manager."""
        self._manager.wait_until_finished()
        self._manager.close()


def abstract_like(tree: Any) -> Any:
    """ShapeDtypeStructs (with shardings) of a pytree of arrays: the restore target of `Checkpointer.restore`."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)
