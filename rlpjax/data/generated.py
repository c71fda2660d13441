"""Sources that need no files: the built-in English-like corpus and the controlled reasoning corpus.

Both are infinite, step-indexed streams with the same interface as `rlpjax.data.streams` (next, get_state,
set_state, counts). Host p of P takes documents p, p + P, p + 2P, ... of the global sequence.

The built-in corpus is procedurally generated from (seed, document index): short stories and arithmetic facts over
a small vocabulary, so a tiny model's loss falls visibly within tens of steps (the CPU smoke run's default).
"""

from __future__ import annotations

import numpy as np

from rlpjax.config_io import ConfigError
from rlpjax.data.records import check_text, zero_counts

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


class BuiltinStream:
    """The built-in corpus for one host; state {"index": documents of this host already produced}."""

    def __init__(self, *, seed: int, process_index: int, process_count: int):
        self._seed, self._process_index, self._process_count = seed, process_index, process_count
        self._index = 0

    def next(self) -> str:
        text = builtin_document(self._seed, self._index * self._process_count + self._process_index)
        self._index += 1
        return text

    def get_state(self) -> dict:
        return {"index": self._index}

    def set_state(self, state: dict) -> None:
        self._index = state["index"]

    def counts(self) -> dict[str, int]:
        return zero_counts()


class ControlledStream:
    """Synthetic reasoning documents from `rlpjax.reasoning.corpora.iter_documents(preset, seed)` for one host.

    Items may be strings or dicts holding `text_field`; bad ones are counted like file records. State: the number
    of global items consumed and the counts; resuming restarts the generator at that item (`start=`).
    """

    def __init__(self, preset: str, text_field: str, *, seed: int, process_index: int, process_count: int):
        try:
            from rlpjax.reasoning.corpora import iter_documents
        except ImportError as err:
            raise ConfigError(f"format 'controlled' needs rlpjax.reasoning.corpora, which does not import ({err})") from None
        self._make = lambda start: iter_documents(preset, seed, start=start)
        self._text_field, self._process_index, self._process_count = text_field, process_index, process_count
        self.set_state({"consumed": 0, "counts": zero_counts()})

    def next(self) -> str:
        while True:
            item = next(self._items)  # StopIteration ends a finite preset
            self._consumed += 1
            if (self._consumed - 1) % self._process_count != self._process_index:
                continue
            text, bad = check_text(item.get(self._text_field) if isinstance(item, dict) else item)
            if bad is None:
                return text
            self._counts[bad] += 1

    def get_state(self) -> dict:
        return {"consumed": self._consumed, "counts": dict(self._counts)}

    def set_state(self, state: dict) -> None:
        self._consumed, self._counts = state["consumed"], dict(state["counts"])
        self._items = self._make(self._consumed)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)
