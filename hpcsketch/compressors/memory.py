"""Error-feedback memory, kept apart from the compressors (GRACE's Memory).

``compensate(g, client)`` returns ``g + e_client``; after compressing that,
``update(compensated, client, compressor, payload)`` stores
``e_client = compensated - decompress(payload)``. Residuals are allocated lazily,
only for the clients that use them.
"""

from __future__ import annotations

from typing import Any

from hpcsketch.compressors.base import Compressor


class Memory:
    """Per-client error-feedback residuals (Stich 2018 / Karimireddy 2019)."""

    def __init__(self, beta: float = 1.0, gamma: float = 1.0):
        self.beta = float(beta)  # residual decay
        self.gamma = float(gamma)  # residual weight when compensating
        self.residuals: dict[int, Any] = {}

    def compensate(self, g: Any, client: int) -> Any:
        """``g + gamma * e_client`` (g itself, copied, for a client with no residual yet)."""
        e = self.residuals.get(client)
        return g.copy() if e is None else g + self.gamma * e

    def update(self, compensated: Any, client: int, compressor: Compressor, payload: Any) -> None:
        """Store ``beta * (compensated - decompress(payload))`` as the client's residual."""
        e = compensated - compressor.decompress(payload)
        self.residuals[client] = e if self.beta == 1.0 else self.beta * e

    def residual(self, client: int) -> Any | None:
        return self.residuals.get(client)


class NoMemory(Memory):
    """No error feedback: compensate is the identity, update does nothing."""

    def compensate(self, g: Any, client: int) -> Any:
        return g

    def update(self, compensated: Any, client: int, compressor: Compressor, payload: Any) -> None:
        return None
