"""`rlpjax tokenizer train`: train a byte-level BPE tokenizer.json with Hugging Face `tokenizers`.

Input documents are read with the data pipeline's sources (JSONL / Parquet / ArrayRecord shards, a file, directory
or glob, bad records skipped), streamed, never all in memory. The `controlled` preset takes its special tokens from
`rlpjax.reasoning.format.SPECIAL_TOKENS`, splits digits and defaults to vocab 2200 (as in the controlled paper).
A tokenizer_config.json is written beside the output so `load_tokenizer` knows BOS/EOS/pad.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Iterator, Sequence

from rlpjax.config import SourceConfig
from rlpjax.config_io import ConfigError
from rlpjax.data.sources import Share, open_source

DEFAULT_SPECIALS = ("<|pad|>", "<|bos|>", "<|eos|>", "<think>", "</think>")
"""Special tokens every trained tokenizer gets first (ids 0..4): pad, bos, eos and the thought tags."""


def iter_texts(input_glob: str, text_field: str) -> Iterator[str]:
    """Every good document of the files matching `input_glob`, in order, once."""
    yield from iter(open_source(SourceConfig(name="input", path=input_glob, text_field=text_field), Share()))


def train_bpe(texts: Iterator[str], *, vocab_size: int, special_tokens: Sequence[str], split_digits: bool):
    """A byte-level BPE `tokenizers.Tokenizer` trained on `texts`; specials get ids 0.. in the order given."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if split_digits:  # digits become single-digit pieces before the byte-level split, so numbers never merge
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    else:
        tokenizer.pre_tokenizer = byte_level
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def _controlled_specials() -> list[str]:
    try:
        from rlpjax.reasoning.format import SPECIAL_TOKENS
    except ImportError as err:
        raise ConfigError(f"--preset controlled needs rlpjax.reasoning.format.SPECIAL_TOKENS ({err})") from None
    return list(SPECIAL_TOKENS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    train = sub.add_parser("train", help="train a byte-level BPE tokenizer.json")
    train.add_argument("--input", required=True, help="a file, directory or glob of JSONL/Parquet/ArrayRecord shards")
    train.add_argument("--out", required=True, help="output tokenizer.json path (tokenizer_config.json goes beside it)")
    train.add_argument("--vocab-size", type=int, default=None, help="vocabulary size (default 2200 for the preset)")
    train.add_argument("--special-tokens", default="", help="comma-separated extra special tokens")
    train.add_argument("--split-digits", action=argparse.BooleanOptionalAction, default=None,
                       help="split numbers into single digits (default: on for the controlled preset, else off)")
    train.add_argument("--preset", choices=["controlled"], default=None, help="settings of a named recipe")
    train.add_argument("--text-field", default="text", help="field holding the document text")


def run(args: argparse.Namespace) -> int:
    preset = args.preset == "controlled"
    vocab_size = args.vocab_size or (2200 if preset else None)
    if not vocab_size or vocab_size < 300:
        raise ConfigError("--vocab-size must be given and at least 300 (256 bytes plus specials and merges)")
    specials = list(DEFAULT_SPECIALS) + (_controlled_specials() if preset else [])
    specials += [token for token in args.special_tokens.split(",") if token]
    specials = list(dict.fromkeys(specials))
    split_digits = preset if args.split_digits is None else args.split_digits
    tokenizer = train_bpe(iter_texts(args.input, args.text_field), vocab_size=vocab_size, special_tokens=specials,
                          split_digits=split_digits)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out))
    config = {"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": True,
              "add_eos_token": True}
    (out.parent / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {out} ({tokenizer.get_vocab_size()} ids, {len(specials)} special tokens, "
          f"digits {'split' if split_digits else 'not split'})")
    return 0
