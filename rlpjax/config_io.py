"""Loading, overriding, validating and serialising `rlpjax.config.Config`.

- `load_preset(path)` imports a preset file (`experiments/x.py`) and returns its `CONFIG`.
- `apply_overrides(cfg, ["model.num_layers=4", "data.sources.0.weight=0.5"])` parses each value by the declared
  type of the field it names; an unknown key or an unparsable value raises `ConfigError` naming the key, the
  expected type and the closest valid keys.
- `to_dict` / `from_dict` / `save_json` / `load_json` round-trip a config through JSON with the same type checks.
- `field_docs(cls)` returns the per-field docstrings (used by `rlpjax config`).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import importlib.util
import inspect
import json
import pathlib
import textwrap
import types
import typing
from typing import Any

from rlpjax.config import Config, PolicyGradientConfig, SamplingConfig


class ConfigError(ValueError):
    """A config key or value the user gave is wrong; the message says which and what would be right."""


def load_preset(path: str | pathlib.Path) -> Config:
    """Import the preset file at `path` and return its module-level `CONFIG` (a `Config`)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass a preset such as experiments/quickstart.py")
    spec = importlib.util.spec_from_file_location(f"rlpjax_preset_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise ConfigError(f"config file {str(path)!r} has a syntax error at line {err.lineno}: {err.msg}; "
                          "fix the file") from None
    except (ImportError, NameError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"config file {str(path)!r} failed to load ({type(err).__name__}: {err}); "
                          "fix the file") from None
    cfg = getattr(module, "CONFIG", None)
    if not isinstance(cfg, Config):
        raise ConfigError(f"config file {str(path)!r} must define CONFIG = rlpjax.config.Config(...)")
    return cfg


def apply_overrides(cfg: Any, overrides: typing.Sequence[str]) -> Any:
    """Return `cfg` with each `dotted.key=value` override applied, values parsed by field type."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form section.field=value (e.g. model.num_layers=4)")
        key = key.strip()
        if key in MOVED_KEYS:
            raise ConfigError(f"{key!r} moved to {MOVED_KEYS[key]!r}; write {MOVED_KEYS[key]}={raw.strip()}")
        cfg = _set_path(cfg, key.split("."), raw.strip(), key)
    return cfg


def _set_path(node: Any, parts: list[str], raw: str, full_key: str, tp: Any = None) -> Any:
    """Return `node` (of declared type `tp`) with the field at `parts` replaced by `raw` parsed to its type.

    In a list of sections (`data.sources`), the index one past the end adds a new entry with default fields, so
    `data.sources.1.path=...` adds a second source from the command line.
    """
    head, rest = parts[0], parts[1:]
    if isinstance(node, tuple):
        elem = typing.get_args(tp)[0] if tp is not None else None
        can_append = dataclasses.is_dataclass(elem) and head.isdigit() and int(head) == len(node) and rest
        if can_append:
            node = node + (elem(),)
        if not head.isdigit() or int(head) >= len(node):
            raise ConfigError(f"{full_key!r}: index {head!r} is out of range for a list of {len(node)} entries; "
                              f"use 0..{len(node)}" + (" (the last adds an entry)" if dataclasses.is_dataclass(elem)
                                                      else ""))
        if not rest:
            raise ConfigError(f"{full_key!r} names a whole entry; set one of its fields, e.g. {full_key}.path=...")
        items = list(node)
        items[int(head)] = _set_path(items[int(head)], rest, raw, full_key)
        return tuple(items)
    if not dataclasses.is_dataclass(node):
        raise ConfigError(f"{full_key!r}: {head!r} is below a plain value, which has no fields")
    hints = _type_hints(type(node))
    if head not in hints:
        raise ConfigError(_unknown_key_message(full_key, head, type(node)))
    current = getattr(node, head)
    if rest:
        return dataclasses.replace(node, **{head: _set_path(current, rest, raw, full_key, hints[head])})
    return dataclasses.replace(node, **{head: parse_value(raw, hints[head], full_key)})


def _unknown_key_message(full_key: str, name: str, cls: type) -> str:
    """Name the closest valid keys; a misspelt section keeps the rest of the key (`modle.num_layers` ->
    `model.num_layers`)."""
    valid = list(_type_hints(cls))
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    parts = full_key.split(".")
    at = parts.index(name) if name in parts else len(parts) - 1
    before, after = parts[:at], parts[at + 1:]
    spell = lambda field: ".".join(before + [field] + after)  # noqa: E731
    hint = ", ".join(spell(c) for c in close) if close else ", ".join(spell(v) for v in valid)
    return f"unknown config key {full_key!r}; closest valid keys: {hint}"


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return {f.name: typing.get_type_hints(cls)[f.name] for f in dataclasses.fields(cls)}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


AUTO_WORDS = ("none", "null", "auto")
"""Strings that set an optional field to None (for a `bool | None` field, "auto": decided elsewhere)."""


def check_choice(value: Any, tp: Any, key: str) -> Any:
    """`value` when it is one of the `Literal` type `tp`'s choices, else a ConfigError naming them."""
    choices = typing.get_args(tp)
    if value not in choices:
        raise ConfigError(f"{key}={value!r} is not one of {', '.join(map(str, choices))}; choose one")
    return value


def parse_value(raw: str, tp: Any, key: str) -> Any:
    """Parse the command-line string `raw` as type `tp` (int, float, bool, str, Literal, Optional, tuple[...])."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw.lower() in AUTO_WORDS and len(args) < len(typing.get_args(tp)):
            return None
        return parse_value(raw, args[0], key)
    if origin is typing.Literal:
        return check_choice(raw, tp, key)
    if origin is tuple:
        (elem, *_more) = typing.get_args(tp)
        if dataclasses.is_dataclass(elem):
            raise ConfigError(f"{key!r} is a list of sections; override one entry's field, e.g. {key}.0.weight=0.5")
        return tuple(parse_value(part.strip(), elem, key) for part in raw.split(",") if part.strip())
    if tp is bool:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key!r} expects a bool (true/false), got {raw!r}")
    if tp in (int, float):
        try:
            return tp(raw)
        except ValueError:
            raise ConfigError(f"{key!r} expects {tp.__name__}, got {raw!r}") from None
    if tp is str:
        return raw
    if dataclasses.is_dataclass(tp):
        raise ConfigError(f"{key!r} is a section, not a value; override one of its fields, e.g. {key}.<field>=...")
    raise ConfigError(f"{key!r} has type {_type_name(tp)}, which cannot be set from the command line")


def to_dict(cfg: Any) -> Any:
    """The config as plain JSON-ready data (tuples become lists)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, tuple):
        return [to_dict(v) for v in cfg]
    return cfg


def from_dict(cls: type, data: dict, path: str = "", base: Any = None) -> Any:
    """Build `cls` from `to_dict` output (or any subset of its keys), checking every key and value type.

    Keys absent from `data` keep their values in `base` (default: `cls()`), so a section nested with its own
    defaults (`rlp.pg` is `RLP_POLICY_GRADIENT`, not `PolicyGradientConfig()`) keeps them. Keys of `MOVED_KEYS`
    (run configs written before a field moved into a sub-section) are read at their new place.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'!r} must be an object with the fields of {cls.__name__}")
    hints = _type_hints(cls)
    data = _moved_into_subsections(data, path)
    base = cls() if base is None else base
    kwargs = {}
    for name, value in data.items():
        key = f"{path}.{name}" if path else name
        if name not in hints:
            raise ConfigError(_unknown_key_message(key, name, cls))
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = from_dict(hints[name], value, key, base=getattr(base, name))
        else:
            kwargs[name] = _value_from_json(value, hints[name], key)
    return dataclasses.replace(base, **kwargs)


def _moved_keys() -> dict[str, str]:
    return {f"{section}.{f.name}": f"{section}.{sub}.{f.name}"
            for section in ("rlp", "grpo")
            for sub, cls in (("sampling", SamplingConfig), ("pg", PolicyGradientConfig))
            for f in dataclasses.fields(cls)}


MOVED_KEYS: dict[str, str] = _moved_keys()
"""Old key -> its place now: RLP's and GRPO's sampling and policy-gradient fields moved into `sampling` / `pg`
(2026-12). Saved run configs with the old keys load (resume works); an override with one is refused, naming the
new key."""


def _moved_into_subsections(data: dict, path: str) -> dict:
    """`data` (the JSON of section `path`) with every old key of `MOVED_KEYS` moved into its sub-section (a key
    given at both places keeps the new place's value)."""
    moved = {name: MOVED_KEYS[f"{path}.{name}"].split(".")[1] for name in data if f"{path}.{name}" in MOVED_KEYS}
    if not moved:
        return data
    out = {name: value for name, value in data.items() if name not in moved}
    for name, sub in moved.items():
        out[sub] = {name: data[name], **(out.get(sub) or {})}
    return out


LEGACY_FLAGS = {"auto": None, "true": True, "false": False}
"""`data.add_bos` / `data.add_eos` as run configs written before they became `bool | None` spell them."""


def _value_from_json(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
        origin = typing.get_origin(tp)
        if tp is bool and value in LEGACY_FLAGS:
            return LEGACY_FLAGS[value]
    if origin is typing.Literal:
        return check_choice(value, tp, key)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{key!r} expects a list, got {value!r}")
        elem = typing.get_args(tp)[0]
        return tuple(_value_from_json(v, elem, f"{key}.{i}") for i, v in enumerate(value))
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str)}[tp](value)
    if not ok:
        raise ConfigError(f"{key!r} expects {tp.__name__}, got {value!r}")
    return float(value) if tp is float else value


def save_json(cfg: Config, path: str | pathlib.Path) -> None:
    """Write the resolved config as indented JSON (a local path or a URL such as gs://, through `rlpjax.paths`)."""
    from rlpjax.paths import as_path

    as_path(path).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")


def load_json(path: str | pathlib.Path) -> Config:
    """Reload a config written by `save_json` (local or a URL)."""
    from rlpjax.paths import as_path, require_client

    require_client(path, "config JSON")
    path = as_path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config JSON {str(path)!r} does not exist") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"config JSON {str(path)!r} is not valid JSON ({err})") from None
    return from_dict(Config, data)


def load_yaml(path: str | pathlib.Path) -> Config:
    """A config from a YAML file (local or a URL) with the same schema as `save_json` (sections and fields; any
    subset of them)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        """YAML 1.1 reads `1e-6` (no dot) as a string; learning rates are written that way, so read it as a float."""

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$|^[-+]?\d+\.\d*$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"),
        list("-+0123456789."))
    from rlpjax.paths import as_path, require_client

    require_client(path, "config YAML")
    path = as_path(path)
    try:
        data = yaml.load(path.read_text(), Loader=Loader)
    except FileNotFoundError:
        raise ConfigError(f"config YAML {str(path)!r} does not exist") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config YAML {str(path)!r} is not valid YAML{line}; fix the file") from None
    return from_dict(Config, data or {})


def resolve(config_path: str | None, overrides: typing.Sequence[str] = ()) -> Config:
    """The config a command runs with: a preset (`.py`), a saved run config (`.json`), a YAML file of the same
    schema (`.yaml` / `.yml`, as MaxText and Levanter users write them), or the defaults, plus overrides,
    checked by `config_checks.validate` (ranges and cross-field rules: one line and exit 2 before JAX starts)."""
    if not config_path:
        cfg = Config()
    elif str(config_path).endswith(".json"):
        cfg = load_json(config_path)
    elif str(config_path).endswith((".yaml", ".yml")):
        cfg = load_yaml(config_path)
    else:
        cfg = load_preset(config_path)
    from rlpjax.config_checks import validate  # imports ConfigError from here

    return validate(apply_overrides(cfg, overrides), warn=True)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Map each field of dataclass `cls` to the docstring written below it in the source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for stmt, following in zip(body, body[1:]):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                docs[stmt.target.id] = inspect.cleandoc(following.value.value)
    return docs


def describe(cfg: Any, prefix: str = "") -> list[str]:
    """One line per leaf field: `key = value  # doc`, for `rlpjax config show`."""
    lines = []
    docs = field_docs(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            lines += describe(value, key + ".")
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                lines += describe(item, f"{key}.{i}.")
        else:
            doc = " ".join(docs.get(f.name, "").split())
            lines.append(f"{key} = {value!r}  # {doc}")
    return lines
