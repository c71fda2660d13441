"""`rlpjax <command> ...`: the command-line entry point.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`. Only the module of
the command being run is imported, so `rlpjax generate-data` never pays for importing JAX.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

from rlpjax.config_io import ConfigError

COMMANDS: dict[str, tuple[str, str]] = {
    "main": ("rlpjax.main_job", "the main job: synthetic corpus, NTP base, RLP vs FLOP-matched CPT, pass@k report"),
    "train": ("rlpjax.train.cli", "train with the configured objective (ntp, rlp, grpo)"),
    "config": ("rlpjax.config_cli", "print a resolved config with every field's documentation"),
    "convert": ("rlpjax.model.convert_cli", "convert checkpoints between Hugging Face and rlpjax"),
    "tokenizer": ("rlpjax.data.tokenizer_cli", "train a byte-level BPE tokenizer"),
    "data": ("rlpjax.data.data_cli", "data tools: tokenize text shards into a token cache"),
    "generate-data": ("rlpjax.reasoning.cli", "generate the controlled synthetic reasoning corpus"),
    "eval": ("rlpjax.eval.cli", "evaluate a checkpoint with pass@k (controlled suite, GSM8K, MATH-500)"),
    "bench": ("rlpjax.bench.cli", "benchmarks: data, ntp, sampler, rlp, all"),
    "compile-check": ("rlpjax.compile_check", "compile the train step for a TPU topology and report memory"),
}


def _top_level_help() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: rlpjax <command> [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_module, help_) in COMMANDS.items()]
    lines += ["", "`rlpjax <command> --help` describes a command's options."]
    return "\n".join(lines)


@contextlib.contextmanager
def _stop_signals_exit_cleanly(command: str):
    """While a command runs, SIGTERM / SIGINT end the process at once with one line and exit 0, instead of dying
    silently (-15) or in a KeyboardInterrupt traceback (a preemptible VM may send either at any moment, e.g. during
    start-up). The training loop installs its own guard over this one, which saves at a step boundary first.
    The process ends by `os._exit`: an exception raised from a signal handler can land inside a library's
    `except` or a garbage-collector callback and be lost, and interpreter teardown with XLA threads alive can crash.
    Nothing is lost: checkpoints are written atomically, so an interrupted save leaves the previous ones intact."""
    def handle(signum, _frame):
        sys.stdout.flush()
        print(f"rlpjax {command}: {signal.Signals(signum).name} received: stopped (finished checkpoints and "
              "outputs are kept; rerun the same command to continue)", file=sys.stderr, flush=True)
        os._exit(0)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors (bad config keys, missing files) print one line and exit 2; SIGTERM / SIGINT
    outside the training loop print one line and exit 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_level_help())
        return 0
    if argv[0] in ("-V", "--version"):
        from rlpjax import __version__

        print(f"rlpjax {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"rlpjax: unknown command {name!r}\n\n{_top_level_help()}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"rlpjax {name}", description=help_)
    module.add_arguments(parser)
    # Intermixed parsing lets options follow positional overrides (`bench all model.x=1 --json F`); commands with
    # sub-commands cannot use it.
    has_subcommands = any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    args = parser.parse_args(argv[1:]) if has_subcommands else parser.parse_intermixed_args(argv[1:])
    try:
        with _stop_signals_exit_cleanly(name):
            return int(module.run(args) or 0)
    except (ConfigError, FileNotFoundError) as err:
        print(f"rlpjax {name}: error: {err}", file=sys.stderr)
        return 2



if __name__ == "__main__":
    sys.exit(main())
