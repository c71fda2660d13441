"""`rlpjax main`: the README's first command. A small, self-contained study of where reasoning is learned.

Generates synthetic reasoning corpora (part of the documents carry their worked steps in a `<think>` span before
the answer, part only the answer), trains a BPE tokenizer and a small base model with NTP on the easy ops, then
continues the base four ways: RLP and continued pre-training (CPT) at equal FLOPs, GRPO on the edge-of-competence
ops with a process-verified reward and mid-training (a mixture shifted toward the edge ops) at equal FLOPs. It
evaluates all five models with pass@k by op on held-out problems (train, edge and hard ops), compares them pairwise
with standard errors, probes where RLP's thoughts help, and writes a run directory (default runs/main) with
report.md, summary.json, PNG plots, every run's config.json and metrics.jsonl, and the evaluation results.

The default scale finishes in at most 15 minutes on a 2-core CPU; `--scale medium|large` and the step flags make it
larger. A rerun with the same flags resumes (finished stages are kept, an interrupted training continues from its
checkpoint); `--fresh` deletes the run directory and starts over.
"""

from __future__ import annotations

import argparse
import pathlib
import time

from rlpjax.main.settings import SCALES, settings_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", choices=list(SCALES), default="small",
                        help="size preset (default small: under 15 minutes on a 2-core CPU)")
    parser.add_argument("--out", default="runs/main", help="run directory (default runs/main)")
    parser.add_argument("--fresh", action="store_true", help="delete the run directory first instead of resuming")
    parser.add_argument("--pretrain-steps", type=int, help="NTP steps of the base model")
    parser.add_argument("--rlp-steps", type=int, help="RLP steps (the CPT arm gets the same FLOPs)")
    parser.add_argument("--grpo-steps", type=int, help="GRPO steps (the mid-training arm gets the same FLOPs)")
    parser.add_argument("--per-op", type=int, help="pre-training problems per train op")
    parser.add_argument("--eval-per-op", type=int, help="held-out problems per evaluated op")
    parser.add_argument("--samples", type=int, help="samples per held-out problem (n of pass@k)")
    parser.add_argument("--seed", type=int, help="seed of data, models and sampling")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    from rlpjax.config_io import ConfigError
    from rlpjax.main.stages import prepare_run_dir, run_stages

    try:
        settings = settings_for(args.scale, pretrain_steps=args.pretrain_steps, rlp_steps=args.rlp_steps,
                                grpo_steps=args.grpo_steps, per_op=args.per_op, eval_per_op=args.eval_per_op,
                                samples=args.samples, seed=args.seed)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    for name in ("pretrain_steps", "rlp_steps", "grpo_steps", "per_op", "eval_per_op", "samples"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if settings.rlp_group < 2:
        raise ConfigError("the RLP group needs at least 2 thoughts")
    started = time.perf_counter()
    job = prepare_run_dir(pathlib.Path(args.out), settings, args.fresh, not args.no_progress)
    run_stages(job)
    print(_summary(job, time.perf_counter() - started))
    return 0


def _summary(job, seconds: float) -> str:
    """The one line printed at the end: wall time, pass@1 of every arm, and the report's path."""
    import json

    from rlpjax.main.settings import ARMS

    numbers = json.loads((job.root / "summary.json").read_text())
    pass1 = ", ".join(f"{arm.upper()} {100 * numbers['overall'][arm]['1']:.1f}%" for arm in ARMS)
    return (f"[rlpjax main] done in {_clock(seconds)} (all stages: {_clock(numbers['wall_s'])}): held-out pass@1 "
            f"{pass1}; report: {job.root / 'report.md'}")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:02.0f}s"
