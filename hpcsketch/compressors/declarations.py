"""What a ``[compressor] kind`` declares (light: validation reads it, ranks build the implementation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hpcsketch.registry import Declaration


@dataclass(frozen=True)
class CompressorDecl(Declaration):
    """One ``[compressor] kind``: its keys and the properties methods may require of it.

    A flag is True, False, or the name of the bool key under which it holds (rand-k is
    linear with ``shared_mask = true``; its class refines the flag per instance with a
    property). Validation takes such a flag as met: the job may set the key.
    """

    #: sum of payloads == payload of the sum (Allreduce-able)
    linear: bool | str = False
    #: E[decompress(compress(x))] == x over the private (and, where stated, shared) randomness
    unbiased: bool | str = False
    #: ||decompress(compress(x)) - x||^2 <= (1 - delta) ||x||^2 for some delta > 0
    contractive: bool | str = False

    class_attrs: ClassVar[tuple[str, ...]] = ("kind", "options", "linear", "unbiased", "contractive")

    def mismatches(self, cls: type) -> list[str]:
        out = []
        for flag in ("linear", "unbiased", "contractive"):
            value = getattr(self, flag)
            if isinstance(value, str) and not isinstance(cls.__dict__.get(flag), property):
                out.append(f"{flag} = {value!r} (a key) needs a {flag} property on the class that reads it")
            elif isinstance(value, str) and value not in {o.name for o in self.options}:
                out.append(f"{flag} = {value!r} is not one of its keys")
        return out
