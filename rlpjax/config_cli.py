"""`rlpjax config [--config FILE] [key=value ...]`: print the resolved config, one documented line per field."""

from __future__ import annotations

import argparse
import json

from rlpjax import config_io


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="preset (.py) or saved run config (.json); default: built-in")
    parser.add_argument("--json", action="store_true", help="print JSON instead of documented lines")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.num_layers=4")


def run(args: argparse.Namespace) -> int:
    cfg = config_io.resolve(args.config, args.overrides)
    if args.json:
        print(json.dumps(config_io.to_dict(cfg), indent=2))
    else:
        print("\n".join(config_io.describe(cfg)))
    return 0
