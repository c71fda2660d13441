"""`rlpjax bench <name> [--config FILE] [overrides...] [--json FILE]`: run one benchmark and print its figures.

    rlpjax bench all --json runs/bench/all.json    # NTP step, sampler, RLP step, data pipeline: one table
    rlpjax bench ntp | sampler
    rlpjax bench data [--workers 1,2,4] [--hosts 8] [--batches 20]
    rlpjax bench rlp [--kg 4x4,8x8] [--layouts shared,naive] [--peer torch]

Without `--config` each benchmark reads its own preset (`DEFAULT_CONFIG`): `ntp` the ~15M-parameter model of
experiments/bench/ntp_15m.py (8 x 512), `rlp` and `sampler` the 4-layer x 256 Llama of
experiments/bench/rlp_llama_4x256.py (RLP: 4 documents x 512, K = G = 4, thoughts <= 64); `data` runs the data suite
(text pipeline, tokenize workers, token cache, a simulated host's share, against a pod host's NTP consumption:
rlpjax.bench.data), and `all` runs each part on its own preset. `--config` benchmarks that config's model (and, for
`ntp`, `rlp` and `data`, its shapes). Adding a benchmark is one entry in `BENCHMARKS`: a name -> function(cfg, args)
-> dict.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from rlpjax.config import Config
from rlpjax.config_io import resolve

PRESETS = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "bench"
NTP_PRESET = PRESETS / "ntp_15m.py"
RLP_PRESET = PRESETS / "rlp_llama_4x256.py"


def _bench_data(cfg: Config | None, args) -> dict:
    """Without --config the data suite (rlpjax.bench.data.bench_data_suite); with it, that config's pipeline."""
    from rlpjax.bench.data import DataSuiteSettings, bench_data, bench_data_suite

    if cfg is not None:
        return bench_data(cfg.data)
    workers = tuple(int(w) for w in args.workers.split(",") if w)
    return bench_data_suite(DataSuiteSettings(workers=workers, hosts=args.hosts, batches=args.batches))


def _bench_ntp(cfg: Config, args) -> dict:
    from rlpjax.bench.ntp import bench_ntp

    return bench_ntp(cfg)


def _bench_sampler(cfg: Config, args) -> dict:
    from rlpjax.bench.sampler import bench_sampler

    return bench_sampler(cfg)


def _bench_rlp(cfg: Config, args) -> dict:
    from rlpjax.bench.rlp import bench_rlp, parse_kg, parse_layouts

    layouts = parse_layouts(args.layouts)
    if args.peer and args.peer not in layouts:
        layouts = (*layouts, args.peer)
    return bench_rlp(cfg, kg=parse_kg(args.kg) if args.kg else None, layouts=layouts, repeats=args.repeats)


def _bench_all(cfg: Config | None, args) -> dict:
    from rlpjax.bench.all import bench_all

    return bench_all(part_configs(cfg, args.overrides))


def part_configs(cfg: Config | None, overrides: list[str]) -> dict[str, Config]:
    """The config of each part of `bench all`: `cfg` for all (given `--config`), else each part's preset."""
    if cfg is not None:
        return {part: cfg for part in ("ntp", "sampler", "rlp", "data")}
    return {part: resolve(DEFAULT_CONFIG[part], overrides) for part in ("ntp", "sampler", "rlp", "data")}


BENCHMARKS = {
    "all": _bench_all,
    "data": _bench_data,
    "ntp": _bench_ntp,
    "rlp": _bench_rlp,
    "sampler": _bench_sampler,
}
"""Benchmark name -> function(resolved config, parsed arguments) returning a dict of figures (`all` gets None
without `--config`: each part then reads its own preset)."""

DEFAULT_CONFIG: dict[str, str | None] = {
    "data": None,
    "ntp": str(NTP_PRESET),
    "rlp": str(RLP_PRESET),
    "sampler": str(RLP_PRESET),
}
"""Benchmark name -> the preset read when `--config` is not given (None: the defaults); `all` uses each part's."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark to run")
    parser.add_argument("--config", default=None,
                        help="preset .py or saved run config .json (default: each benchmark's preset; for "
                             "`data`, the data suite instead of one config's pipeline)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--kg", default=None,
                        help="rlp: comma-separated KxG settings (positions per document x thoughts per position), "
                             "e.g. 4x4,8x8 (default: the config's rlp.positions_per_doc x rlp.group_size)")
    parser.add_argument("--layouts", default="shared,naive",
                        help="rlp: comma-separated step layouts among shared, naive, torch (default: shared,naive)")
    parser.add_argument("--peer", default=None, choices=("torch",),
                        help="rlp: add a peer implementation of the same step, run side by side (torch: "
                             "torch + transformers, in the public prototypes' layout; needs the hf extra)")
    parser.add_argument("--repeats", type=int, default=3, help="rlp: timed runs of each stage after a warm-up")
    parser.add_argument("--workers", default="1,2,4", help="data: tokenize worker counts to time beside this process")
    parser.add_argument("--hosts", type=int, default=8, help="data: simulated hosts whose host 0 share is timed")
    parser.add_argument("--batches", type=int, default=20, help="data: timed batches of each pipeline part")
    parser.add_argument("overrides", nargs="*", help="dotted overrides such as data.seq_len=2048")


def run(args: argparse.Namespace) -> int:
    if args.config:
        cfg = resolve(args.config, args.overrides)
    else:
        cfg = None if args.name in ("all", "data") else resolve(DEFAULT_CONFIG[args.name], args.overrides)
    figures = BENCHMARKS[args.name](cfg, args)
    if args.name == "all":
        from rlpjax.bench.all import format_table

        print(format_table(figures))
    elif args.name == "data" and cfg is None:
        from rlpjax.bench.data import format_data_table

        print(format_data_table(figures))
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
