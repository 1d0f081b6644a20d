"""A property built on first use and then kept, like functools.cached_property, but built once even when
several threads ask at the same moment (one Omnidex serves every browser session)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
_LOCK = "_once_lock"


class once(Generic[T]):  # noqa: N801 (used as a decorator, like cached_property)
    def __init__(self, builder: Callable[[Any], T]) -> None:
        self.builder = builder
        self.name = builder.__name__
        self.__doc__ = builder.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> once[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | once[T]:
        if instance is None:
            return self
        kept = instance.__dict__
        if self.name in kept:  # only the first call gets here: later lookups find the value in __dict__
            return kept[self.name]
        with kept.setdefault(_LOCK, threading.RLock()):  # setdefault is atomic: one lock per instance
            if self.name not in kept:
                kept[self.name] = self.builder(instance)
            return kept[self.name]


def forget(instance: object, *names: str) -> None:
    """Build these again on next use (a projection replaced by `omnidex adapt`)."""
    kept = instance.__dict__
    with kept.setdefault(_LOCK, threading.RLock()):
        for name in names:
            kept.pop(name, None)
