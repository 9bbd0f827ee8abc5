"""Lazy name -> class registries.

Each registry maps a job-file ``kind`` to ``"module:Class"``; the class is imported
on first use so that validating a job file does not import torch or CuPy.
Adding a method is one new file plus one line in its registry.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping


class Registry:
    def __init__(self, what: str, entries: Mapping[str, str]):
        self.what = what
        self._entries = dict(entries)
        self._cache: dict[str, Any] = {}

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, kind: str) -> bool:
        return kind in self._entries

    def get(self, kind: str) -> Any:
        if kind not in self._cache:
            try:
                target = self._entries[kind]
            except KeyError:
                raise KeyError(f"unknown {self.what} {kind!r}; known: {', '.join(self._entries)}") from None
            module, _, attr = target.partition(":")
            self._cache[kind] = getattr(importlib.import_module(module), attr)
        return self._cache[kind]

    def all(self) -> dict[str, Any]:
        return {k: self.get(k) for k in self._entries}
