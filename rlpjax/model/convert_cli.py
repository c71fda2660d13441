"""`rlpjax convert hf-to-rlpjax SRC DST` and `rlpjax convert rlpjax-to-hf SRC DST`.

For rlpjax-to-hf, SRC is an rlpjax model directory (model_config.json) or a training run directory `RUN_DIR[@STEP]`
(config.json + checkpoints/; the newest readable step by default).
"""

from __future__ import annotations

import argparse
import pathlib

from rlpjax.config_io import ConfigError

DIRECTIONS = ("hf-to-rlpjax", "rlpjax-to-hf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Direction, source, destination, and the export's shard size and tokenizer."""
    parser.add_argument("direction", help="hf-to-rlpjax or rlpjax-to-hf")
    parser.add_argument("src", help="source: a model directory, or for rlpjax-to-hf a run directory RUN_DIR[@STEP]")
    parser.add_argument("dst", help="destination directory (created)")
    parser.add_argument("--max-shard-size", default="5GB",
                        help="rlpjax-to-hf: largest safetensors shard, e.g. 5GB (default, as transformers) or 500MB")
    parser.add_argument("--tokenizer", default=None,
                        help="rlpjax-to-hf: tokenizer.json or directory to include (default: a run's data.tokenizer)")


def split_step(src: str) -> tuple[str, int | None]:
    """`RUN_DIR@STEP` -> (RUN_DIR, STEP); a path without a numeric @ suffix is returned whole with step None."""
    head, sep, tail = src.rpartition("@")
    if sep and tail.isdigit() and not pathlib.Path(src).exists():
        return head, int(tail)
    return src, None


def run(args: argparse.Namespace) -> int:
    """Convert one model directory or run; prints what was written."""
    from rlpjax.model.hf import load_hf_model, save_hf_model
    from rlpjax.model.io import is_model_dir, load_model_dir, load_run_model, save_model_dir

    if args.direction not in DIRECTIONS:
        raise ConfigError(f"unknown direction {args.direction!r}; use {' or '.join(DIRECTIONS)}")
    if args.direction == "hf-to-rlpjax":
        cfg, model = load_hf_model(args.src)
        save_model_dir(args.dst, cfg, model)
        source = args.src
    else:
        src, step = split_step(args.src)
        tokenizer = args.tokenizer
        if is_model_dir(src) and step is None:
            cfg, model = load_model_dir(src)
            source = src
        else:
            cfg, model, step, run_tokenizer = load_run_model(src, step)
            tokenizer = tokenizer or run_tokenizer
            source = f"{src} step {step}"
        for note in save_hf_model(args.dst, cfg, model, max_shard_size=args.max_shard_size, tokenizer=tokenizer):
            print(f"rlpjax convert: note: {note}")
    print(f"rlpjax convert: wrote {args.dst} from {source} ({cfg.family}, {cfg.num_layers} layers, "
          f"vocab {cfg.vocab_size})")
    return 0
