"""A weighted mixture of named document sources in a deterministic, state-indexed order.

Document n of the mixture comes from the source whose count lags its share the most: argmax_i (w_i * (n + 1) - c_i)
with normalised weights w and per-source counts c (ties go to the earlier source). After n documents every source
has produced within one document of w_i * n: proportions are exact up to rounding and the order depends only on the
counts, so the mixture's state is the counts plus each source's own state.
"""

from __future__ import annotations

import numpy as np

from rlpjax.config_io import ConfigError
from rlpjax.data.records import zero_counts


def mixture_choice(weights: np.ndarray, chosen: list[int]) -> int:
    """Index of the source that lags its share most after sum(chosen) documents (weights normalised, > 0)."""
    total = sum(chosen) + 1
    return int(np.argmax(weights * total - np.asarray(chosen)))


class Mixture:
    """Documents drawn from several streams in the deterministic weighted order; ends when any source ends."""

    def __init__(self, names: list[str], streams: list, weights: list[float]):
        if not streams:
            raise ConfigError("data.sources is empty; configure at least one source")
        if any(w <= 0 for w in weights):
            raise ConfigError(f"mixture weights {weights} must all be positive; drop a source instead of weighting it 0")
        if len(set(names)) != len(names):
            raise ConfigError(f"data source names {names} repeat; give every source a distinct name")
        self._names, self._streams = names, streams
        self._weights = np.asarray(weights, dtype=np.float64) / sum(weights)
        self._chosen = [0] * len(streams)

    def next(self) -> str:
        index = mixture_choice(self._weights, self._chosen)
        text = self._streams[index].next()
        self._chosen[index] += 1
        return text

    def get_state(self) -> dict:
        return {"chosen": list(self._chosen), "sources": [stream.get_state() for stream in self._streams]}

    def set_state(self, state: dict) -> None:
        self._chosen = list(state["chosen"])
        for stream, sub_state in zip(self._streams, state["sources"]):
            stream.set_state(sub_state)

    def counts(self) -> dict[str, int]:
        """Skipped records by kind summed over sources, the same per source where any were skipped
        ("bad/<name>/<kind>"), and documents drawn per source ("docs/<name>")."""
        totals, per_source = zero_counts(), {}
        for name, stream in zip(self._names, self._streams):
            for kind, count in stream.counts().items():
                totals[kind] += count
                if count:
                    per_source[f"bad/{name}/{kind}"] = count
        return totals | per_source | {f"docs/{name}": count for name, count in zip(self._names, self._chosen)}
