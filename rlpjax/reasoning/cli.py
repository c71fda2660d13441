"""`rlpjax generate-data`: write a controlled synthetic reasoning corpus as sharded JSONL.

Either a grid (`--ops 2-20 --per-op N --templates A,B,C --modes forward,reverse`), a mixture preset
(`--preset pretrain --num-problems N`) or a mixture written out (`--mixture "2-20:0.99@A;2:0.01@B" --num-problems
N`, syntax in `mixtures.py`); `--splits train=0.9,val=0.05,test=0.05` divides every cell's problems. A mixture
corpus prints, and its manifest records, each part's exact problem count. `--answer-line` appends the spec's
` Answer: n.` to every solution (the default follows the authors' data, without it).
"""

from __future__ import annotations

import argparse
import os

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.corpora import grid_quotas
from rlpjax.reasoning.corpus_writer import write_corpus
from rlpjax.reasoning.generator import MODES
from rlpjax.reasoning.mixtures import PRESETS, get_mixture, mixture_quotas, part_counts
from rlpjax.reasoning.templates import load_template


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory for the JSONL shards")
    parser.add_argument("--ops", help="op counts of a grid corpus: a range 2-20, a list 2,4,8 or one number")
    parser.add_argument("--per-op", type=int, help="problems per op count (grid corpus)")
    parser.add_argument("--templates", help="comma-separated template names or .json paths (default A,B,C)")
    parser.add_argument("--modes", help="comma-separated modes: forward, reverse (default both)")
    parser.add_argument("--preset", help=f"mixture preset instead of a grid: {', '.join(PRESETS)}")
    parser.add_argument("--mixture", help="mixture text instead of a preset, e.g. '2-20:0.99@A;2:0.01@B' "
                        "(OPS:SHARE[@TEMPLATE=SHARE,...] parts separated by ';')")
    parser.add_argument("--num-problems", type=int, help="problems in a preset / mixture corpus")
    parser.add_argument("--answer-line", action="store_true", help="end every solution with ' Answer: n.' "
                        "(default: no such line, as in the authors' data)")
    parser.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same corpus")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (output does not depend on it)")
    parser.add_argument("--splits", default="train=1", help="fractions per split, e.g. train=0.9,val=0.05,test=0.05")
    parser.add_argument("--records-per-shard", type=int, default=100_000, help="records per JSONL shard")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_ops(text: str) -> list[int]:
    """"2-20" -> [2..20], "2,4,8" -> [2, 4, 8]; every op count must be at least 2."""
    try:
        ops = []
        for part in text.split(","):
            low, _sep, high = part.strip().partition("-")
            ops += list(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ConfigError(f"--ops {text!r} is not a range like 2-20 or a list like 2,4,8") from None
    if not ops or min(ops) < 2:
        raise ConfigError(f"--ops {text!r} must name op counts of at least 2 (e.g. 2-20)")
    return sorted(set(ops))


def parse_splits(text: str) -> dict[str, float]:
    """"train=0.9,val=0.1" -> {"train": 0.9, "val": 0.1} (fractions must be positive and sum to 1)."""
    splits = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            splits[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--splits {text!r} must look like train=0.9,val=0.05,test=0.05") from None
        if not sep or not name.strip() or splits[name.strip()] <= 0:
            raise ConfigError(f"--splits {text!r} must look like train=0.9,val=0.05,test=0.05 (positive fractions)")
    if abs(sum(splits.values()) - 1.0) > 1e-6:
        raise ConfigError(f"--splits fractions sum to {sum(splits.values()):g}; make them sum to 1")
    return splits


def _quotas(args: argparse.Namespace) -> tuple[dict, dict | None]:
    """(per-cell problem counts, the mixture's manifest entry or None) from the grid or the mixture options."""
    if args.preset is not None and args.mixture is not None:
        raise ConfigError("give either --preset NAME or --mixture TEXT, not both")
    spec = args.preset if args.preset is not None else args.mixture
    if spec is not None:
        if args.ops or args.per_op or args.templates or args.modes:
            raise ConfigError("--preset / --mixture fix ops, templates and modes; drop --ops/--per-op/--templates/"
                              "--modes")
        if not args.num_problems or args.num_problems < 1:
            raise ConfigError("--preset / --mixture need --num-problems N (a positive count)")
        if args.preset is not None and args.preset not in PRESETS:
            raise ConfigError(f"unknown corpus preset {args.preset!r}; choose one of {sorted(PRESETS)} or write "
                              "--mixture TEXT")
        mixture = get_mixture(spec)
        entry = {"name": args.preset, "text": mixture.text(), "parts": part_counts(mixture, args.num_problems)}
        return mixture_quotas(mixture, args.num_problems), entry
    if not args.ops or not args.per_op or args.per_op < 1:
        raise ConfigError("give either --ops 2-20 --per-op N or --preset NAME --num-problems N")
    templates = [t.strip() for t in (args.templates or "A,B,C").split(",")]
    modes = [m.strip() for m in (args.modes or ",".join(MODES)).split(",")]
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"--modes: {mode!r} is not one of {', '.join(MODES)}")
    for template in templates:
        load_template(template)
    return grid_quotas(parse_ops(args.ops), templates, modes, args.per_op), None


def run(args: argparse.Namespace) -> int:
    if args.workers < 1 or args.workers > (os.cpu_count() or 1) * 4:
        raise ConfigError(f"--workers {args.workers} must be between 1 and {(os.cpu_count() or 1) * 4}")
    if args.records_per_shard < 1:
        raise ConfigError("--records-per-shard must be positive")
    quotas, mixture = _quotas(args)
    manifest = write_corpus(args.out, quotas, parse_splits(args.splits), args.seed, workers=args.workers,
                            records_per_shard=args.records_per_shard, progress=not args.no_progress,
                            answer_line=args.answer_line, mixture=mixture)
    for part in (mixture or {}).get("parts", []):
        print(f"part {part['part']}: {part['count']} problems (share {part['share']:g})")
    for split, info in manifest["splits"].items():
        print(f"{split}: {info['records']} problems in {len(info['files'])} shard(s) under {args.out}")
    return 0
