"""Value objects that the type checker holds frozen while at run time they are plain slotted dataclasses.

A frozen dataclass's `__init__` goes through `object.__setattr__` for every field and costs ~4x more (≈ 0.6
against 0.15 µs for five fields), and the class itself ~0.2 ms more to create; the hot path builds dozens of them
per request, and a start creates every class. Share instances freely: nothing assigns to them (mypy strict refuses
any assignment to a field of either kind).

- `read_only`: not hashable (a plain dataclass with `eq`), for values never used as a key or in a set;
- `read_only_hashable`: hashable by its fields, as a frozen dataclass is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, dataclass_transform

_Value = TypeVar("_Value")


@dataclass_transform(frozen_default=True)
def read_only(cls: type[_Value]) -> type[_Value]:
    """A slotted dataclass that the type checker holds frozen (mypy refuses any assignment to a field) while at run
    time it keeps a plain dataclass's __init__: a frozen one's costs ~4-8x more, paid per candidate per call."""
    made: Callable[[type[_Value]], type[_Value]] = dataclass(slots=True)
    return made(cls)


@dataclass_transform(frozen_default=True)
def read_only_hashable(cls: type[_Value]) -> type[_Value]:
    """`read_only`, and hashable by its fields as a frozen dataclass is (for dict keys and sets).

    The module-level value types of the product use it in place of `@dataclass(frozen=True, slots=True)`: a frozen
    class costs ~0.2 ms more to create (its `__setattr__` and `__delattr__` are generated too), paid for each of them
    on every start, and each instance ~0.4 µs more."""
    made: Callable[[type[_Value]], type[_Value]] = dataclass(slots=True, unsafe_hash=True)
    return made(cls)
