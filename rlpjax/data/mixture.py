"""A weighted mixture of named document sources: grain's `IterDataset.mix`, keyed by source name.

grain picks the source of document k of the mixture as a pure function of k and the weights (made integer
proportions), so after n documents every source has produced within one document of its share w_i * n and the
mixture's state is k plus each source's own state. The mixture ends when any source ends.
"""

from __future__ import annotations

import grain

from rlpjax.config_io import ConfigError
from rlpjax.data.records import zero_counts


def mixture(names: list[str], sources: list[grain.IterDataset], weights: list[float]) -> grain.IterDataset:
    """The documents of `sources` (Documents datasets) mixed in proportion to `weights`."""
    if not sources:
        raise ConfigError("data.sources is empty; configure at least one source")
    if any(w <= 0 for w in weights):
        raise ConfigError(f"mixture weights {weights} must all be positive; drop a source instead of weighting it 0")
    if len(set(names)) != len(names):
        raise ConfigError(f"data source names {names} repeat; give every source a distinct name")
    return grain.IterDataset.mix(dict(zip(names, sources)), dict(zip(names, weights)))


def mixture_counts(state: dict) -> dict[str, int]:
    """From a mixture iterator's state: skipped records by kind summed over sources, the same per source where any
    were skipped ("bad/<name>/<kind>"), and documents drawn per source ("docs/<name>")."""
    totals, per_source, drawn = zero_counts(), {}, {}
    for name, source in state["parents"].items():
        for kind, count in source["counts"].items():
            totals[kind] = totals.get(kind, 0) + count
            if count:
                per_source[f"bad/{name}/{kind}"] = count
        drawn[f"docs/{name}"] = source["documents"]
    return totals | per_source | drawn
