"""Sources that need no files: the built-in English-like corpus and the controlled reasoning corpus.

Both are step-indexed `rlpjax.data.streams.Documents` graphs: share p of P takes documents p, p + P, p + 2P, ... of
the global sequence.

The built-in corpus is procedurally generated from (seed, document index): short stories and arithmetic facts over
a small vocabulary, so a tiny model's loss falls visibly within tens of steps (the CPU smoke run's default).
"""

from __future__ import annotations

import itertools

import numpy as np

from rlpjax.config_io import ConfigError
from rlpjax.data.records import NOT_OWNED, check_text
from rlpjax.data.sources import Share
from rlpjax.data.streams import Documents, Records

_NAMES = ("Tom", "Mia", "Sam", "Lily", "Ben", "Anna", "Max", "Zoe")
_THINGS = ("apples", "books", "cats", "stones", "cookies", "balls", "shells", "pens")
_PLACES = ("park", "river", "market", "forest", "school", "beach")
_ANIMALS = ("dog", "bird", "fox", "rabbit", "frog", "horse")
_ADJECTIVES = ("small", "happy", "red", "old", "quick", "kind")
_FEELINGS = ("happy", "surprised", "tired", "glad", "curious")


def _sentence(rng: np.random.Generator) -> str:
    """One sentence from one of four templates, all choices drawn from `rng`."""
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    a, b = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    name = pick(_NAMES)
    friend = pick([other for other in _NAMES if other != name])
    kind = int(rng.integers(4))
    if kind == 0:
        things = pick(_THINGS)
        return f"{name} has {a} {things}. {friend} gives {name} {b} more. Now {name} has {a + b} {things}."
    if kind == 1:
        return f"{a} plus {b} is {a + b}. {a} times {b} is {a * b}."
    if kind == 2:
        return (f"One day {name} went to the {pick(_PLACES)} with a {pick(_ADJECTIVES)} {pick(_ANIMALS)}. "
                f"They were {pick(_FEELINGS)}.")
    return f"{name} had {a + b} {pick(_THINGS)} and lost {b}. {name} has {a} left."


def builtin_document(seed: int, index: int) -> str:
    """Document `index` of the built-in corpus for `seed`: 2-6 sentences, a pure function of (seed, index)."""
    rng = np.random.default_rng([seed, index])
    return " ".join(_sentence(rng) for _ in range(int(rng.integers(2, 7))))


def builtin_documents(share: Share) -> Documents:
    """The built-in corpus for one share: documents index, index + count, index + 2 count, ... (infinite)."""
    def outcomes(start: int):
        for index in itertools.count(share.index + start * share.count, share.count):
            yield builtin_document(share.seed, index), None

    return Documents(lambda epoch: Records(outcomes), 1, "builtin")


def controlled_documents(preset: str, text_field: str, share: Share, name: str) -> Documents:
    """Synthetic reasoning documents from `rlpjax.reasoning.corpora.iter_documents(preset, seed)` for one share
    (items index, index + count, ...; one pass: a finite preset ends the stream). Items may be strings or dicts
    holding `text_field`; bad ones are counted like file records. Resuming restarts the generator at the next
    item (`start=`)."""
    try:
        from rlpjax.reasoning.corpora import iter_documents
    except ImportError as err:
        raise ConfigError(f"format 'controlled' needs rlpjax.reasoning.corpora, which does not import ({err})"
                          ) from None

    def outcomes(start: int):
        for index, item in enumerate(iter_documents(preset, share.seed, start=start), start=start):
            if index % share.count != share.index:
                yield NOT_OWNED
            else:
                yield check_text(item.get(text_field) if isinstance(item, dict) else item)

    return Documents(lambda epoch: Records(outcomes), 1, name)
