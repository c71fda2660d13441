"""`rlpjax train --config experiments/x.py [key=value ...]`: run or resume a training job.

Rerunning the same command resumes from the run directory's newest good checkpoint. Multi-host: on TPU pods the
processes find each other; elsewhere pass --coordinator/--num-processes/--process-id (or the RLPJAX_* variables,
which `launch/local.sh` sets).

Exit status: 0 finished or preempted (after saving), 1 stopped because training diverged (`run.max_nonfinite_steps`
non-finite steps in a row; the message goes to stderr), 2 a user error (bad config, missing file).
"""

from __future__ import annotations

import argparse
import sys

from rlpjax import config_io


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="preset (.py) or saved run config (.json); default: built-in")
    parser.add_argument("--coordinator", default=None, help="host:port of process 0 (multi-process runs off TPU)")
    parser.add_argument("--num-processes", type=int, default=None, help="processes in the job")
    parser.add_argument("--process-id", type=int, default=None, help="this process's index")
    parser.add_argument("--fresh", action="store_true", help="start over from step 0: delete the run directory's "
                        "checkpoints (needed after a config change that cannot resume, or when every checkpoint is "
                        "unreadable)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.num_layers=4 run.steps=100")


def run(args: argparse.Namespace) -> int:
    cfg = config_io.resolve(args.config, args.overrides)
    from rlpjax.train import distributed
    from rlpjax.train.loop import DivergenceError, train

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.fresh:
        _discard_checkpoints(cfg)
    try:
        result = train(cfg)
    except DivergenceError as err:
        print(f"rlpjax train: error: {err}", file=sys.stderr)
        return 1
    if result.preempted:
        print(result.message)
        return 0
    summary = ", ".join(f"{k} {result.final_metrics[k]:.4g}" for k in ("loss", "reward_mean")
                        if k in result.final_metrics)
    print(f"[rlpjax] finished at step {result.last_step}"
          f"{': ' + summary if summary else ''}; run directory {result.run_dir}")
    return 0


def _discard_checkpoints(cfg) -> None:
    """`--fresh`: process 0 deletes `<run_dir>/checkpoints` (local or a URL); every process waits for it before
    restoring."""
    import jax
    from jax.experimental import multihost_utils

    from rlpjax.paths import remove_tree
    from rlpjax.train.loop import resolve_run_dir

    directory = resolve_run_dir(cfg) / "checkpoints"
    if jax.process_index() == 0 and directory.exists():
        remove_tree(directory)
        print(f"[rlpjax] --fresh: deleted {directory}; starting from step 0")
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("rlpjax-fresh")
