"""Problem contexts ("templates") kept as data: `templates/<NAME>.json`.

A template is vocabulary plus structure, not code: a list of *outer* categories (zoos, schools, festivals), a list
of *inner* categories (animal species, teacher subjects, movie genres), the phrase of an *instance* quantity
("the number of {inner} in {outer}") and the phrase of the implicit *total* over one outer category ("the total
number of adult animals in {outer}", equal to the sum of all of that category's instances in the problem).
Adding a context is adding a JSON file here (or passing the path of one).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib

from rlpjax.config_io import ConfigError

TEMPLATE_DIR = pathlib.Path(__file__).resolve().parent / "templates"
_FORBIDDEN = (";", ".", "=", "<", ">", "\n")


@dataclasses.dataclass(frozen=True)
class Template:
    """One context: its category vocabulary and the two quantity phrases."""

    name: str
    description: str
    outer: tuple[str, ...]
    inner: tuple[str, ...]
    instance: str
    total: str

    def instance_name(self, outer: int, inner: int) -> str:
        """Name of the quantity "inner category `inner` within outer category `outer`"."""
        return self.instance.format(outer=self.outer[outer], inner=self.inner[inner])

    def total_name(self, outer: int) -> str:
        """Name of the implicit total over every instance of outer category `outer`."""
        return self.total.format(outer=self.outer[outer])


def available_templates() -> list[str]:
    """Names of the templates shipped with the package."""
    return sorted(path.stem for path in TEMPLATE_DIR.glob("*.json"))


@functools.lru_cache(maxsize=None)
def load_template(name_or_path: str) -> Template:
    """Load a shipped template by name ("A") or any template JSON file by path, validated."""
    path = pathlib.Path(name_or_path) if name_or_path.endswith(".json") else TEMPLATE_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ConfigError(f"template {name_or_path!r} not found; use one of {available_templates()} or a .json path")
    try:
        raw = json.loads(path.read_text())
        template = Template(
            name=str(raw["name"]), description=str(raw.get("description", "")), outer=tuple(raw["outer"]),
            inner=tuple(raw["inner"]), instance=str(raw["instance"]), total=str(raw["total"]))
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ConfigError(f"template file {str(path)!r} is malformed ({err}); it needs name, outer, inner, "
                          "instance and total") from None
    _validate(template, path)
    return template


def _validate(template: Template, path: pathlib.Path) -> None:
    """Reject vocabularies that would make the text ambiguous for the trace parser."""
    if len(template.outer) < 3 or len(template.inner) < 3 or len(template.outer) * len(template.inner) < 48:
        raise ConfigError(f"template {str(path)!r} needs at least 3 outer and 3 inner categories and 48 pairs "
                          "of them (an op-20 problem with distractors names up to ~40 instances)")
    if "{outer}" not in template.instance or "{inner}" not in template.instance or "{outer}" not in template.total:
        raise ConfigError(f"template {str(path)!r}: instance must contain {{outer}} and {{inner}}, total {{outer}}")
    names = [template.instance_name(o, i) for o in range(len(template.outer)) for i in range(len(template.inner))]
    names += [template.total_name(o) for o in range(len(template.outer))]
    if len(set(names)) != len(names):
        raise ConfigError(f"template {str(path)!r} yields duplicate quantity names; make categories distinct")
    for name in names:
        if any(ch in name for ch in _FORBIDDEN) or " as " in name:
            raise ConfigError(f"template {str(path)!r}: quantity {name!r} may not contain ' as ' or any of "
                              f"{' '.join(_FORBIDDEN[:-1])} (they delimit solution steps)")
