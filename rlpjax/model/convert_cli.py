"""`rlpjax convert hf-to-rlpjax SRC DST` and `rlpjax convert rlpjax-to-hf SRC DST`."""

from __future__ import annotations

import argparse

from rlpjax.config_io import ConfigError

DIRECTIONS = ("hf-to-rlpjax", "rlpjax-to-hf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Direction, source directory and destination directory."""
    parser.add_argument("direction", help="hf-to-rlpjax or rlpjax-to-hf")
    parser.add_argument("src", help="source model directory")
    parser.add_argument("dst", help="destination directory (created)")


def run(args: argparse.Namespace) -> int:
    """Convert one model directory; prints what was written."""
    from rlpjax.model.hf import load_hf_model, save_hf_model
    from rlpjax.model.io import load_model_dir, save_model_dir

    if args.direction not in DIRECTIONS:
        raise ConfigError(f"unknown direction {args.direction!r}; use {' or '.join(DIRECTIONS)}")
    if args.direction == "hf-to-rlpjax":
        cfg, model = load_hf_model(args.src)
        save_model_dir(args.dst, cfg, model)
    else:
        cfg, model = load_model_dir(args.src)
        save_hf_model(args.dst, cfg, model)
    print(f"rlpjax convert: wrote {args.dst} ({cfg.family}, {cfg.num_layers} layers, vocab {cfg.vocab_size})")
    return 0
