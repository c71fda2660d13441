"""`rlpjax bench <name> [--config FILE] [overrides...] [--json FILE]`: run one benchmark and print its figures.

    rlpjax bench all --json runs/bench/all.json    # NTP step, sampler, RLP step, data pipeline: one table
    rlpjax bench ntp | sampler | rlp | data

Without `--config`, `data` reads the default config and the others the quickstart model
(experiments/quickstart.py), with `ntp` at its suite shape (batch 8 x seq 512); `--config` benchmarks that
config's model (and, for `ntp` and `data`, its batch shape). Adding a benchmark is one entry in `BENCHMARKS`: a
name -> function(cfg: Config) -> dict.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from rlpjax.config import Config
from rlpjax.config_io import resolve

QUICKSTART = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "quickstart.py"


def _bench_data(cfg: Config) -> dict:
    from rlpjax.bench.data import bench_data

    return bench_data(cfg.data)


def _bench_ntp(cfg: Config) -> dict:
    from rlpjax.bench.ntp import bench_ntp

    return bench_ntp(cfg)


def _bench_sampler(cfg: Config) -> dict:
    from rlpjax.bench.sampler import bench_sampler

    return bench_sampler(cfg)


def _bench_rlp(cfg: Config) -> dict:
    from rlpjax.bench.rlp import bench_rlp

    return bench_rlp(cfg, kg=((4, 4), (4, 8), (8, 8)))


def _bench_all(cfg: Config) -> dict:
    from rlpjax.bench.all import bench_all

    return bench_all(cfg)


BENCHMARKS = {
    "all": _bench_all,
    "data": _bench_data,
    "ntp": _bench_ntp,
    "rlp": _bench_rlp,
    "sampler": _bench_sampler,
}
"""Benchmark name -> function of the resolved config returning a dict of figures."""

DEFAULT_CONFIG: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "all": (str(QUICKSTART), ()),
    "data": (None, ()),
    "ntp": (str(QUICKSTART), ("data.seq_len=512", "data.global_batch_size=8")),
    "rlp": (str(QUICKSTART), ()),
    "sampler": (str(QUICKSTART), ()),
}
"""Benchmark name -> (config file, overrides applied before the user's) used when `--config` is not given."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark to run")
    parser.add_argument("--config", default=None,
                        help="preset .py or saved run config .json (default: experiments/quickstart.py; for "
                             "`data`, the defaults)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("overrides", nargs="*", help="dotted overrides such as data.seq_len=2048")


def run(args: argparse.Namespace) -> int:
    if args.config:
        cfg = resolve(args.config, args.overrides)
    else:
        path, defaults = DEFAULT_CONFIG[args.name]
        cfg = resolve(path, [*defaults, *args.overrides])
    figures = BENCHMARKS[args.name](cfg)
    if args.name == "all":
        from rlpjax.bench.all import format_table

        print(format_table(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {_format(value)}")
    if args.json:
        path = pathlib.Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"benchmark": args.name, **figures}, indent=2) + "\n")
    return 0


def _format(value) -> str:
    """Floats with thousands separators above 100, four significant digits below; the rest as they are."""
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)
