"""Orbax checkpoints of the full training state.

Layout: `<run_dir>/checkpoints/<step>/` with three items: `state` (the TrainState pytree: params, optimizer, EMA,
reference, step, RNG), `data` (the data pipeline's JSON state) and `meta` (rlpjax version, step, config digest).

- Saves are asynchronous (training continues while arrays are written) and atomic: orbax writes into a temporary
  directory and renames it when complete (on gs://, which cannot rename, it writes commit_success.txt last
  instead), so a crash mid-save leaves no step that lists as finished. The directory may be local or a URL
  (`rlpjax.paths`); orbax writes the arrays through TensorStore's own GCS driver.
- Retention: the newest `keep_last` steps plus every `keep_every`-th step.
- Restore walks back from the newest step: a step whose files are incomplete or corrupt is moved aside to
  `checkpoints/corrupt/<step>` (kept for inspection, and so that the step's next save is written rather than
  skipped as existing) with a one-line warning, and the previous good one is used. When steps exist but none is
  readable, restore refuses in one line (`--fresh` starts over) instead of silently training from step 0.
- Every save records the run's config (`meta["config"]`); restore compares it with the current run's and refuses an
  incompatible resume in one line naming the first changed field, while fields that are safe to change across a
  resume (`RESUME_SAFE`: length of the run, logging, checkpointing, mesh) are allowed and reported.
- Restore targets the current mesh: the abstract state carries the new shardings, so a checkpoint written on one
  mesh or device count loads on another.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from rlpjax import __version__
from rlpjax.config import CheckpointConfig
from rlpjax.config_io import ConfigError
from rlpjax.paths import Path, as_path, move

log = logging.getLogger(__name__)

CORRUPT_DIR = "corrupt"
"""Subdirectory of the checkpoint directory that unreadable steps are moved into."""

RESUME_SAFE = ("run.steps", "run.name", "run.run_dir", "run.init_from", "run.log_every", "run.progress",
               "run.eval_every", "run.eval_batches", "run.peak_tflops", "run.max_nonfinite_steps", "checkpoint.",
               "mesh.", "data.prefetch_batches", "data.workers", "data.strict")
"""Config keys (or prefixes ending in ".") that may change between a checkpoint and the run resuming from it."""


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        return {k: v for name, sub in tree.items() for k, v in _flatten(sub, f"{prefix}{name}.").items()}
    if isinstance(tree, list) and tree and isinstance(tree[0], dict):
        return {k: v for i, sub in enumerate(tree) for k, v in _flatten(sub, f"{prefix}{i}.").items()}
    return {prefix[:-1]: tree}


def config_changes(saved: dict, current: dict) -> tuple[list[str], list[str]]:
    """(unsafe, safe) descriptions `key: old -> new` of the fields that differ between two `config_io.to_dict`s.

    A key present on one side only is a field the schema gained or lost between rlpjax versions, not a change of
    the run: it is ignored (a new field's default keeps the old behaviour), so upgrading rlpjax never blocks a resume.
    """
    old, new = _flatten(saved), _flatten(current)
    unsafe, safe = [], []
    for key in sorted(set(old) & set(new)):
        if old.get(key) != new.get(key):
            change = f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
            is_safe = any(key == s or (s.endswith(".") and key.startswith(s)) for s in RESUME_SAFE)
            (safe if is_safe else unsafe).append(change)
    return unsafe, safe


class Checkpointer:
    """Saves and restores (TrainState, data-pipeline state) under one directory."""

    def __init__(self, directory: str | os.PathLike, cfg: CheckpointConfig, run_config: dict | None = None):
        """`directory` is local or a URL (gs://: see `rlpjax.paths`); `run_config` (`config_io.to_dict` of the run's
        config) is saved with every step and checked on restore."""
        self.directory = as_path(directory, absolute=True)
        self._run_config = run_config
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
            meta=ocp.args.JsonSave({"step": int(step), "rlpjax_version": __version__, **(meta or {}),
                                    **({"config": self._run_config} if self._run_config is not None else {})}),
        )
        self._manager.save(step, args=args, force=True)

    def restore_latest(self, abstract_state: Any) -> tuple[int, Any, dict, dict] | None:
        """(step, state, data_state, meta) from the newest readable step, or None when there is none.

        `abstract_state` is a pytree of `jax.ShapeDtypeStruct` with the target shardings.
        """
        steps = self.all_steps()
        for step in reversed(steps):
            self._check_compatible(step)
            try:
                return (step,) + self.restore(step, abstract_state)
            except Exception as err:  # any unreadable file means this step is unusable; try the one before
                older = [s for s in steps if s < step]
                fallback = f"falling back to step {older[-1]}" if older else "no older checkpoint exists"
                aside = self._move_aside(step)
                message = (f"checkpoint step {step} in {self.directory} is incomplete or corrupt "
                           f"({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}); "
                           f"moved to {aside}; {fallback}")
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                log.warning(message)
        if steps:
            raise ConfigError(f"every checkpoint in {self.directory} (steps {', '.join(map(str, steps))}) is unreadable "
                              f"and was moved to {self.directory / CORRUPT_DIR}; rerun with --fresh to start over "
                              "from step 0")
        return None

    def _check_compatible(self, step: int) -> None:
        """Refuse (one line) a resume whose config differs from the step's in a field that is not resume-safe."""
        if self._run_config is None:
            return
        try:
            saved = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        except Exception:  # an unreadable meta is a corrupt step: the full restore reports and handles it
            return
        if "config" not in saved:
            return
        unsafe, safe = config_changes(saved["config"], self._run_config)
        if unsafe:
            more = f" (and {len(unsafe) - 1} more)" if len(unsafe) > 1 else ""
            raise ConfigError(f"the checkpoint at step {step} in {self.directory} was written with a different config "
                              f"({unsafe[0]}{more}); resume with the same value, rerun with --fresh to start over, or "
                              "use a new run.name")
        for change in safe:
            print(f"[rlpjax] resuming with a changed {change}")

    def _move_aside(self, step: int) -> Path:
        """Move an unreadable step to `corrupt/<step>` (a numbered suffix if that exists) and forget it."""
        target = self.directory / CORRUPT_DIR / str(step)
        suffix = 1
        while target.exists():
            target, suffix = self.directory / CORRUPT_DIR / f"{step}.{suffix}", suffix + 1
        move(self.directory / str(step), target)
        self._manager.reload()
        return target

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
