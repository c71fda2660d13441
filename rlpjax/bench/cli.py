"""`rlpjax bench <name> [--config FILE] [overrides...] [--json FILE]`: run one benchmark and print its figures.

Adding a benchmark is one entry in `BENCHMARKS`: a name -> function(cfg: Config) -> dict.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from rlpjax.config import Config
from rlpjax.config_io import resolve


def _bench_data(cfg: Config) -> dict:
    from rlpjax.bench.data import bench_data

    return bench_data(cfg.data)


def _bench_rlp(cfg: Config) -> dict:
    from rlpjax.bench.rlp import bench_rlp

    return bench_rlp(cfg, kg=((4, 4), (4, 8), (8, 8)))


BENCHMARKS = {
    "data": _bench_data,
    "rlp": _bench_rlp,
}
"""Benchmark name -> function of the resolved config returning a dict of figures."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark to run")
    parser.add_argument("--config", default=None, help="preset .py or saved run config .json (default: defaults)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("overrides", nargs="*", help="dotted overrides such as data.seq_len=2048")


def run(args: argparse.Namespace) -> int:
    cfg = resolve(args.config, args.overrides)
    figures = BENCHMARKS[args.name](cfg)
    for key, value in figures.items():
        print(f"{key}: {value:,.1f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        path = pathlib.Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"benchmark": args.name, **figures}, indent=2) + "\n")
    return 0
