"""Declarative job-file options.

Every key a job file may hold is an :class:`Option`: its type, default, the values
it accepts and one line of documentation. Sections collect the common options;
algorithms, compressors and problems declare the extra keys they read next to
their code (``options = (...)`` on the class), so a new method is one file plus
one registry line and its keys are validated and documented with no other edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

_MISSING = object()


@dataclass(frozen=True)
class Option:
    """One job-file key.

    ``type`` is one of ``int``, ``float`` (ints are accepted), ``str``, ``bool``,
    ``number_or_fraction`` (a float in (0, 1] meaning a fraction, or an integer
    count >= 1), ``list`` (of scalars) or ``table`` (a TOML table).
    """

    name: str
    type: str
    default: Any = None
    doc: str = ""
    choices: Sequence[Any] | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    power_of_two: bool = False
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)

    def describe_valid(self) -> str:
        """Human text for what would be valid (used in error lines and the README table)."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) if isinstance(c, str) else str(c) for c in self.choices)
        base = {
            "int": "an integer",
            "float": "a number",
            "str": "a string",
            "bool": "true or false",
            "number_or_fraction": "a fraction in (0, 1] or a count >= 1",
            "list": "a list",
            "table": "a table",
        }[self.type]
        bounds = []
        if self.min is not None:
            bounds.append(("> " if self.min_exclusive else ">= ") + _fmt(self.min))
        if self.max is not None:
            bounds.append("<= " + _fmt(self.max))
        if self.power_of_two:
            bounds.append("a power of two")
        return base + (" " + " and ".join(bounds) if bounds else "")

    def validate(self, value: Any) -> tuple[Any, str | None]:
        """Return ``(normalised value, None)`` or ``(value, reason it is invalid)``."""
        t = self.type
        if t == "bool":
            if not isinstance(value, bool):
                return value, f"expected true or false, got {_show(value)}"
            return value, None
        if t == "str":
            if not isinstance(value, str):
                return value, f"expected {self.describe_valid()}, got {_show(value)}"
            if self.choices is not None and value not in self.choices:
                return value, f"{value!r} is not valid; expected {self.describe_valid()}"
            return value, self.check(value) if self.check else None
        if t in ("int", "float", "number_or_fraction"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return value, f"expected {self.describe_valid()}, got {_show(value)}"
            if isinstance(value, float) and not math.isfinite(value):
                return value, f"expected a finite number, got {value}"
            if t == "int":
                if isinstance(value, float):
                    if not value.is_integer():
                        return value, f"expected an integer, got {value}"
                    value = int(value)
            elif t == "float":
                value = float(value)
            else:  # number_or_fraction
                if isinstance(value, float) and value > 1 and not value.is_integer():
                    return value, f"expected {self.describe_valid()}, got {value}"
                if value <= 0:
                    return value, f"expected {self.describe_valid()}, got {value}"
                if value > 1 or (isinstance(value, int) and value == 1 and not isinstance(value, float)):
                    value = int(value)
            if self.choices is not None and value not in self.choices:
                return value, f"{value} is not valid; expected {self.describe_valid()}"
            if self.min is not None and (value < self.min or (self.min_exclusive and value == self.min)):
                return value, f"{_fmt(value)} is out of range; expected {self.describe_valid()}"
            if self.max is not None and value > self.max:
                return value, f"{_fmt(value)} is out of range; expected {self.describe_valid()}"
            if self.power_of_two and (int(value) != value or int(value) < 1 or int(value) & (int(value) - 1)):
                return value, f"{_fmt(value)} is not a power of two"
            return value, self.check(value) if self.check else None
        if t == "list":
            if not isinstance(value, list):
                return value, f"expected a list, got {_show(value)}"
            return value, self.check(value) if self.check else None
        if t == "table":
            if not isinstance(value, dict):
                return value, f"expected a table, got {_show(value)}"
            return value, self.check(value) if self.check else None
        raise AssertionError(f"unknown option type {t}")


def _fmt(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}.get(
        type(value), type(value).__name__
    )
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def resolve_count(value: int | float, total: int) -> int:
    """A ``number_or_fraction`` option as a count: fractions of ``total`` round up to at least 1."""
    if isinstance(value, float) and value <= 1.0:
        return max(1, int(math.ceil(value * total)))
    return int(value)
