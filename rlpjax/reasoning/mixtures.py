"""Corpus mixtures as configuration: parts of (op range, share, template shares), presets, exact problem counts.

A mixture is a list of *parts*; each part is an op range with its share of the problems and the shares of the
templates inside it (ops uniform within the range, modes round-robin over the whole mixture). Written as text
(`--mixture` of `rlpjax generate-data`, or the `path` of a `format: controlled` data source):

    OPS:SHARE[@TEMPLATES];OPS:SHARE[@TEMPLATES];...[;modes=forward,reverse]

OPS is `2-20` or `2`; TEMPLATES is `A=0.5,B=0.5`, `A,B` (equal shares) or `A` (default: A, B, C at 1/3 each).
Part shares and each part's template shares must sum to 1. Examples: `2-4:0.2;5-7:0.3;8-10:0.5` (the pre-training
mixture), `2-20:0.99@A;2:0.01@B` (context transfer with a 1% seed of B).

Presets (the paper's settings; `PRESETS` holds their text):
- `pretrain`: ops 2-4 / 5-7 / 8-10 at 20% / 30% / 50%, templates A, B, C 1/3 each;
- `midtrain`: ops 2-10 at 20%, ops 11-14 at 80%, templates 1/3 each;
- `transfer-b0`, `transfer-b0.1`, `transfer-b1`, `transfer-b10` (paper section 4): context A at ops 2-20 plus
  context B *only at op 2* at 0%, 0.1%, 1% or 10% of the problems;
- `headroom-h0.1`, `headroom-h1`, `headroom-h10`, `headroom-h50`: the pre-training mixture with the hard ops 8-10
  at 0.1%, 1%, 10% or 50% (= `pretrain`), easy 2-4 and medium 5-7 sharing the rest 2 : 3 as in `pretrain`.

Exact counts (`part_counts`, `mixture_quotas`): a corpus of N problems first gives each part its count by largest
remainder over the part shares, then spreads a part's count over its cells (op x template x mode) the same way, so a
part's count is exact and stated in the corpus manifest. A part with a nonzero share that would get no problem at
all is an error naming the smallest N that holds one (rather than silently rounding it away or up).
"""

from __future__ import annotations

import dataclasses
import math
import re

from rlpjax.config_io import ConfigError
from rlpjax.reasoning.generator import MODES
from rlpjax.reasoning.templates import load_template

Cell = tuple[int, str, str]
EQUAL_TEMPLATES = (("A", 1 / 3), ("B", 1 / 3), ("C", 1 / 3))
SHARE_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Part:
    """Ops first..last (uniform) at `share` of the problems, with template shares (name, share)."""

    first: int
    last: int
    share: float
    templates: tuple[tuple[str, float], ...] = EQUAL_TEMPLATES

    def cells(self, modes: tuple[str, ...]) -> dict[Cell, float]:
        """Probability of each cell within this part (summing to 1)."""
        ops = range(self.first, self.last + 1)
        return {(op, template, mode): share / len(ops) / len(modes)
                for op in ops for template, share in self.templates if share > 0 for mode in modes}

    def text(self) -> str:
        """The part as mixture text (exact: shares written with repr)."""
        ops = f"{self.first}" if self.first == self.last else f"{self.first}-{self.last}"
        equal = len({share for _name, share in self.templates}) == 1
        templates = ",".join(name if equal else f"{name}={share!r}" for name, share in self.templates)
        return f"{ops}:{self.share!r}@{templates}"


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Parts (op ranges with shares and template shares); modes round-robin."""

    parts: tuple[Part, ...]
    modes: tuple[str, ...] = MODES

    def text(self) -> str:
        """The mixture as the text `parse_mixture` reads (a canonical spelling)."""
        return ";".join([part.text() for part in self.parts] + [f"modes={','.join(self.modes)}"])


def _transfer(seed_percent: str) -> str:
    share = float(seed_percent) / 100
    return "2-20:1@A" if share == 0 else f"2-20:{1 - share:g}@A;2:{share:g}@B"


def _headroom(hard_percent: str) -> str:
    hard = float(hard_percent) / 100
    return f"2-4:{0.4 * (1 - hard):g};5-7:{0.6 * (1 - hard):g};8-10:{hard:g}"


PRESETS: dict[str, str] = {
    "pretrain": "2-4:0.2;5-7:0.3;8-10:0.5",
    "midtrain": "2-10:0.2;11-14:0.8",
    **{f"transfer-b{p}": _transfer(p) for p in ("0", "0.1", "1", "10")},
    **{f"headroom-h{p}": _headroom(p) for p in ("0.1", "1", "10", "50")},
}
"""Preset name -> mixture text (see the module docstring)."""


def _ops(text: str, spec: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", text)
    low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not match or low < 2 or high < low:
        raise ConfigError(f"mixture {spec!r}: op range {text.strip()!r} is not an op count or range of at least 2 "
                          "(write e.g. 2-20 or 2)")
    return low, high


def _share(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ConfigError(f"mixture {spec!r}: {what} share {text.strip()!r} is not a number in [0, 1]")
    return value


def _check_sum(shares: list[float], what: str, spec: str) -> None:
    if abs(sum(shares) - 1.0) > SHARE_TOLERANCE:
        raise ConfigError(f"mixture {spec!r}: {what} shares sum to {sum(shares):g}; make them sum to 1")


def _templates(text: str, spec: str) -> tuple[tuple[str, float], ...]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"mixture {spec!r}: '@' must be followed by templates, e.g. @A or @A=0.5,B=0.5")
    if all("=" not in item for item in items):
        items = [f"{item}={1 / len(items)!r}" for item in items]
    templates = []
    for item in items:
        name, sep, share = item.partition("=")
        if not sep:
            raise ConfigError(f"mixture {spec!r}: template item {item!r} needs a share (A=0.5) like the others")
        load_template(name.strip())  # unknown template -> ConfigError naming the available ones
        templates.append((name.strip(), _share(share, f"template {name.strip()!r}", spec)))
    _check_sum([share for _name, share in templates], "template", spec)
    return tuple(templates)


def parse_mixture(spec: str) -> Mixture:
    """A mixture from its text (module docstring); malformed text raises a one-line ConfigError."""
    parts, modes = [], MODES
    for item in filter(None, (piece.strip() for piece in spec.split(";"))):
        if item.startswith("modes="):
            modes = tuple(m.strip() for m in item[len("modes="):].split(",") if m.strip())
            if not modes or set(modes) - set(MODES):
                raise ConfigError(f"mixture {spec!r}: modes must be among {', '.join(MODES)}")
            continue
        head, _at, templates = item.partition("@")
        ops, sep, share = head.partition(":")
        if not sep:
            raise ConfigError(f"mixture {spec!r}: part {item!r} is not OPS:SHARE[@TEMPLATES], e.g. 2-20:0.99@A")
        first, last = _ops(ops, spec)
        parts.append(Part(first, last, _share(share, "part", spec),
                          _templates(templates, spec) if _at else EQUAL_TEMPLATES))
    if not parts:
        raise ConfigError(f"mixture {spec!r} has no part; write e.g. 2-4:0.2;5-7:0.3;8-10:0.5 or a preset "
                          f"({', '.join(PRESETS)})")
    _check_sum([part.share for part in parts], "part", spec)
    return Mixture(tuple(part for part in parts if part.share > 0), modes)


def get_mixture(preset: str | Mixture) -> Mixture:
    """A preset by name, a mixture text (anything with ':' or starting with a digit), or a Mixture as is."""
    if isinstance(preset, Mixture):
        return preset
    if preset in PRESETS:
        return parse_mixture(PRESETS[preset])
    if ":" in preset or preset.strip()[:1].isdigit():
        return parse_mixture(preset)
    raise ConfigError(f"unknown corpus preset {preset!r}; choose one of {sorted(PRESETS)} or write a mixture "
                      "like 2-20:0.99@A;2:0.01@B")


def cell_weights(preset: str | Mixture) -> dict[Cell, float]:
    """Probability of each (op, template, mode) cell under a mixture (zero-weight cells left out)."""
    mixture = get_mixture(preset)
    weights: dict[Cell, float] = {}
    for part in mixture.parts:
        for cell, weight in part.cells(mixture.modes).items():
            weights[cell] = weights.get(cell, 0.0) + part.share * weight
    return weights


def apportion(weights: dict, total: int) -> dict:
    """Integer counts summing to `total` in proportion to `weights` (largest remainder, ties by key order)."""
    weight_sum = sum(weights.values())
    exact = {key: total * w / weight_sum for key, w in weights.items()}
    counts = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(weights, key=lambda key: -(exact[key] - counts[key]))
    for key in by_remainder[:total - sum(counts.values())]:
        counts[key] += 1
    return counts


def part_counts(preset: str | Mixture, num_problems: int) -> list[dict]:
    """Each part's exact problem count in a corpus of `num_problems`: [{"part": text, "share", "count"}, ...];
    a part with a nonzero share and no problem is a ConfigError naming the corpus size that holds one."""
    mixture = get_mixture(preset)
    counts = apportion({i: part.share for i, part in enumerate(mixture.parts)}, num_problems)
    for i, part in enumerate(mixture.parts):
        if counts[i] == 0:
            raise ConfigError(f"a corpus of {num_problems} problems holds no problem of part {part.text()} (share "
                              f"{part.share:g}); ask for at least {math.ceil(round(1 / part.share, 9))} problems")
    return [{"part": part.text(), "share": part.share, "count": counts[i]} for i, part in enumerate(mixture.parts)]


def mixture_quotas(preset: str | Mixture, num_problems: int) -> dict[Cell, int]:
    """Problems per cell for a corpus of `num_problems`: exact part counts (`part_counts`), each spread over the
    part's cells by largest remainder; cells shared by two parts add up."""
    mixture = get_mixture(preset)
    quotas: dict[Cell, int] = {}
    for part, counted in zip(mixture.parts, part_counts(mixture, num_problems)):
        for cell, n in apportion(part.cells(mixture.modes), counted["count"]).items():
            quotas[cell] = quotas.get(cell, 0) + n
    return quotas
