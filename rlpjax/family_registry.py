"""The model families `model.family` may name, importable without JAX so the config pass can check a name.

The built-in names are `rlpjax.config.Family`'s; each is the file `rlpjax/model/families/<name>.py`, imported on
first use. A family file (or a test, or a user's module) registers its class with `@register_family("name")`;
`get_family(name)` returns the registered instance.
"""

from __future__ import annotations

import importlib
import typing

from rlpjax.config import Family
from rlpjax.config_io import ConfigError

BUILTIN_FAMILIES: tuple[str, ...] = typing.get_args(Family)
"""Families shipped in `rlpjax/model/families/`."""
FAMILIES: dict[str, typing.Any] = {}
"""Registered family name -> its `rlpjax.model.families.base.ModelFamily` instance."""


def register_family(name: str):
    """Class decorator: register a `ModelFamily` subclass under `name` (its `name` attribute is set to it)."""

    def register(cls):
        if name in FAMILIES:
            raise ValueError(f"model family {name!r} is registered twice")
        cls.name = name
        FAMILIES[name] = cls()
        return cls

    return register


def family_names() -> list[str]:
    """Every family a config may name: the built-ins and those registered so far."""
    return sorted(set(BUILTIN_FAMILIES) | set(FAMILIES))


def check_family(name: str, key: str = "model.family") -> None:
    """Raise a one-line ConfigError unless `name` is a built-in or registered family."""
    if name not in BUILTIN_FAMILIES and name not in FAMILIES:
        raise ConfigError(f"{key}={name!r} is not one of {', '.join(family_names())}; choose one")


def get_family(name: str):
    """The registered family `name`, importing a built-in family's file on first use."""
    check_family(name)
    if name not in FAMILIES:
        importlib.import_module(f"rlpjax.model.families.{name}")
    return FAMILIES[name]


def all_families() -> dict:
    """Every family, the built-ins imported: name -> instance (e.g. to find one by its Hugging Face architecture)."""
    for name in BUILTIN_FAMILIES:
        get_family(name)
    return dict(FAMILIES)
