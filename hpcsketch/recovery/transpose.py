"""Transpose desketch: x_hat = R^T s (unbiased when E[R^T R] = I)."""

from __future__ import annotations

from typing import Any


def transpose_desketch(operator: Any, s: Any) -> Any:
    """``R^T s`` for any operator with ``adjoint`` (sensing, Gaussian) or ``decompress`` (count sketch)."""
    adjoint = getattr(operator, "adjoint", None)
    return adjoint(s) if adjoint is not None else operator.decompress(s)
