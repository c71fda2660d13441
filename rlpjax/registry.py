"""`Registry`: a name -> function table filled by a decorator, for the parts chosen by name in a config."""

from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


class Registry(dict):
    """A dict of named functions; `register(name)` is the decorator that adds one, `lookup(name)` the access that
    names the choices when `name` is unknown (a config choice is checked before JAX starts; this guards direct
    calls)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            self[name] = fn
            return fn
        return decorate

    def lookup(self, name: str) -> Callable:
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of {sorted(self)}")
        return self[name]
