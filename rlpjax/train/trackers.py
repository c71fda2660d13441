"""Experiment trackers beside metrics.jsonl: TensorBoard (default), Weights & Biases and trackio, by config.

`run.trackers` names them (`("tensorboard", "wandb")`); each gets every logged step's finite scalars under
namespaced tags: the loop's own figures under `train/` (loss, grad_norm, learning_rate, tokens_per_s, mfu, ...), the
objective's under `<objective>/` (`rlp/reward_mean`, `grpo/...`), and keys that already name a namespace (`eval/...`,
`data/...`) as they are; tables of sample generations (`run.samples_every`) go under `samples/<objective>`. Only
process 0 tracks. The optional trackers import their library when used and name the extra to install when it is
missing. The run directory may be a URL (gs://, `rlpjax.paths`).
"""

from __future__ import annotations

import math
import typing
from typing import Mapping, Sequence

from rlpjax.config import Tracker
from rlpjax.paths import Path, as_path, is_url

TRACKER_NAMES = typing.get_args(Tracker)
"""Values `run.trackers` may hold."""

LOOP_METRICS = frozenset({
    "loss", "grad_norm", "learning_rate", "nonfinite", "nonfinite_total", "tokens_per_s", "step_time_s", "mfu",
    "compile_step_s", "includes_compile", "flops_cumulative", "updates"})
"""Keys the loop and the shared update step write for every objective: tagged `train/<key>`."""


def tag(key: str, objective: str) -> str:
    """The namespaced tracker tag of a metrics key."""
    if "/" in key:
        return key
    return f"train/{key}" if key in LOOP_METRICS else f"{objective}/{key}"


class TensorBoardTracker:
    """tensorboardX events under `<run_dir>/tensorboard`, one events file per run: a resumed run moves the earlier
    files' events up to its resume step into its own file and deletes them (`tb_events`), so the curves hold one
    trajectory and the directory one file.

    On gs:// tensorboardX writes natively (google-cloud-storage, no TensorFlow): it keeps the events file in memory
    and uploads it whole at each flush (every 120 s, before each checkpoint save, at close), as one object."""

    def __init__(self, run_dir: Path, resume_step: int | None, **_):
        from tensorboardX import SummaryWriter

        from rlpjax.train.tb_events import EVENTS_GLOB, fold_earlier_files

        log_dir = run_dir / "tensorboard"
        earlier = sorted(log_dir.glob(EVENTS_GLOB)) if resume_step is not None and log_dir.exists() else []
        self._writer = SummaryWriter(str(log_dir))
        if earlier:
            fold_earlier_files(self._writer, earlier, resume_step)

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        for key, value in scalars.items():
            self._writer.add_scalar(key, value, step)

    def log_table(self, step: int, name: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """The table as markdown text under `samples/<name>` (TensorBoard's Text tab renders it)."""
        self._writer.add_text(f"samples/{name}", markdown_table(columns, rows), step)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbTracker:
    """A Weights & Biases run (offline with WANDB_MODE=offline); a resumed rlpjax run continues the same W&B run
    (its id is derived from the run directory)."""

    def __init__(self, run_dir: Path, config: dict, project: str, name: str, **_):
        wandb = _require("wandb")
        import hashlib

        run_id = hashlib.sha256(str(as_path(run_dir, absolute=True)).encode()).hexdigest()[:16]
        # W&B stages its files on a local disk: in the run directory, or its default ./wandb beside a gs:// one
        self._run = wandb.init(project=project, name=name, id=run_id, resume="allow",
                               dir=None if is_url(run_dir) else str(run_dir), config=config, reinit="create_new")

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        self._run.log(dict(scalars), step=step)

    def log_table(self, step: int, name: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """A `wandb.Table` under `samples/<name>`."""
        import wandb

        self._run.log({f"samples/{name}": wandb.Table(columns=list(columns), data=[list(r) for r in rows])},
                      step=step)

    def flush(self) -> None:
        """Nothing to do: W&B's own process sends the logged steps (and syncs at finish)."""

    def close(self) -> None:
        self._run.finish()


class TrackioTracker:
    """A trackio run (local SQLite store, dashboard with `trackio show`)."""

    def __init__(self, config: dict, project: str, name: str, **_):
        self._trackio = _require("trackio")
        self._trackio.init(project=project, name=name, config=config, resume="allow")

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        self._trackio.log(dict(scalars), step=step)

    def log_table(self, step: int, name: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """A `trackio.Table` under `samples/<name>` (its dashboard shows string cells as markdown)."""
        self._trackio.log({f"samples/{name}": self._trackio.Table(columns=list(columns),
                                                                  data=[list(r) for r in rows])}, step=step)

    def flush(self) -> None:
        """Nothing to do: trackio's own thread sends the logged steps to its store (trackio has no flush)."""

    def close(self) -> None:
        self._trackio.finish()


TRACKERS = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker, "trackio": TrackioTracker}


def _require(module: str):
    import importlib

    from rlpjax.config_io import ConfigError

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"run.trackers names {module} but it is not installed; pip install {module} (or the "
                          "`trackers` extra: pip install -e .[trackers]) or remove it from run.trackers") from None


def open_trackers(names, run_dir: Path, *, resume_step: int | None, config: dict, project: str,
                  name: str) -> list:
    """The trackers `names` asks for, opened for this run."""
    return [TRACKERS[n](run_dir=run_dir, resume_step=resume_step, config=config, project=project, name=name)
            for n in names]


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table of plain values. In each cell `&`, `<`, `>` become HTML entities (a decoded `<think>` stays
    visible instead of reading as a tag), `\\` and `|` are escaped and line breaks become `<br>`, so a row stays one
    line; floats are shown to 4 significant digits."""
    def cell(value) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\\", "\\\\"), ("|", "\\|"),
                             ("\r", ""), ("\n", "<br>")):
            text = text.replace(raw, escaped)
        return text

    lines = [columns, ["---"] * len(columns), *rows]
    return "\n".join("| " + " | ".join(cell(v) for v in line) + " |" for line in lines)


def finite_scalars(record: Mapping[str, object], objective: str) -> dict[str, float]:
    """The finite numbers of a metrics record under their tracker tags (the step itself excluded)."""
    return {tag(k, objective): float(v) for k, v in record.items()
            if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)}
