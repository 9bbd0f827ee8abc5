"""Registries: job-file ``kind`` -> a declaration, and the implementation it names.

Each entry is a :class:`Declaration`: what the kind *declares* (its job-file keys,
and per section what validation needs: which compressors a method accepts, whether
a compressor is linear, a problem's models, ...) plus ``impl``, the
``"module:Class"`` that implements it. Validation, the README's key tables, the
Slurm scripts and the analysis read declarations only; the implementation (which
may import mpi4py.MPI, torch, numba kernels) is imported by :meth:`Registry.get`,
i.e. when a rank builds it.

Adding a method is one new file (the implementation) plus one entry in its
package's registry (the declaration). The implementation class receives its
declared attributes (``kind``, ``options``, ...) when it is defined, through the
``__init_subclass__`` of its base class (:meth:`Registry.bind`), so the entry is
the only place they are written.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping

from hpcsketch.config.options import Option


@dataclass(frozen=True)
class Declaration:
    """What one kind declares. Subclasses (one per registry) add their section's fields."""

    #: the implementation, ``"module:Class"``: imported only when a rank builds it
    impl: str
    #: job-file keys of the section this kind reads beyond the section's common ones
    options: tuple[Option, ...] = ()
    #: set by the registry from the entry's name
    kind: str = ""

    #: declared fields the implementation class gets as class attributes
    class_attrs: ClassVar[tuple[str, ...]] = ("kind", "options")

    def __post_init__(self) -> None:
        if self.impl.count(":") != 1:
            raise ValueError(f"impl must be 'module:Class', got {self.impl!r}")
        object.__setattr__(self, "options", tuple(self.options))

    def mismatches(self, cls: type) -> list[str]:
        """What the implementation's code says that contradicts the declaration (checked when the
        class is defined, on what it inherits, before it receives the declared attributes)."""
        return []


class Registry:
    """``kind`` -> :class:`Declaration`; the implementation classes are imported lazily."""

    def __init__(self, what: str, entries: Mapping[str, Declaration]):
        self.what = what
        self._entries: dict[str, Declaration] = {}
        for kind, decl in entries.items():
            if not isinstance(decl, Declaration):
                raise TypeError(f"{what} {kind!r}: expected a Declaration, got {decl!r}")
            self._entries[kind] = dataclasses.replace(decl, kind=kind)
        self._by_impl = {d.impl: d for d in self._entries.values()}
        self._cache: dict[str, Any] = {}
        #: the same entries, read as declarations (what validation uses; see :class:`Declarations`)
        self.declared = Declarations(self)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def _unknown(self, kind: str) -> KeyError:
        return KeyError(f"unknown {self.what} {kind!r}; known: {', '.join(self._entries)}")

    # -- declarations: no implementation is imported ------------------------------
    def declaration(self, kind: str) -> Declaration:
        try:
            return self._entries[kind]
        except KeyError:
            raise self._unknown(kind) from None

    def declarations(self) -> dict[str, Declaration]:
        return dict(self._entries)

    # -- implementations: ranks only --------------------------------------------------
    def get(self, kind: str) -> Any:
        """The implementation class of ``kind`` (imports its module)."""
        if kind not in self._cache:
            decl = self.declaration(kind)
            module, _, attr = decl.impl.partition(":")
            cls = getattr(importlib.import_module(module), attr)
            if getattr(cls, "kind", None) != kind:  # not defined under a base that binds: do it now
                self.bind(cls, decl)
            self._cache[kind] = cls
        return self._cache[kind]

    def all(self) -> dict[str, Any]:
        """Every implementation class (imports them all: tests and ranks, never validation)."""
        return {k: self.get(k) for k in self._entries}

    def bind(self, cls: type, decl: Declaration | None = None) -> None:
        """Give a registered implementation class its declared attributes.

        Called by the base classes' ``__init_subclass__``; does nothing for a class no
        entry names (a test's subclass, an abstract base). A declared attribute that
        the class body sets itself is an error (it would be a second, drifting copy),
        except a ``property`` that refines a declared flag per instance (rand-k's
        ``linear`` depends on ``shared_mask``) or a ``kind`` equal to the entry's.
        """
        decl = decl or self._by_impl.get(f"{cls.__module__}:{cls.__qualname__}")
        if decl is None:
            return
        where = f"{decl.impl} ({self.what} {decl.kind!r})"
        problems = decl.mismatches(cls)  # against what the class inherits, before it gets the declaration
        if problems:
            raise TypeError(f"{where} does not match its declaration: {'; '.join(problems)}")
        for attr in decl.class_attrs:
            value = getattr(decl, attr)
            own = cls.__dict__.get(attr, _ABSENT)
            if own is _ABSENT or isinstance(own, property):
                if own is _ABSENT:
                    setattr(cls, attr, value)
                continue
            if attr == "kind" and own == value:
                continue
            raise TypeError(f"{where} sets {attr} = {own!r} in its class; it is declared in the {self.what} "
                            f"registry ({value!r}): remove it from the class or change the declaration")


class Declarations:
    """A registry read as declarations: ``names``, ``in``, ``get(kind)`` -> :class:`Declaration`, ``all()``.

    It answers what the implementation classes would for the declared attributes
    (``options``, ``compressors``, ``linear``, ``models``, ``check_job``, ...), so code
    that reads those works on either, and it never imports an implementation.
    """

    def __init__(self, registry: Registry):
        self.registry = registry
        self.what = registry.what

    def names(self) -> list[str]:
        return self.registry.names()

    def __contains__(self, kind: object) -> bool:
        return kind in self.registry

    def __iter__(self) -> Iterator[str]:
        return iter(self.registry)

    def get(self, kind: str) -> Declaration:
        return self.registry.declaration(kind)

    def all(self) -> dict[str, Declaration]:
        return self.registry.declarations()


_ABSENT = object()
