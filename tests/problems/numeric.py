"""Numerical helpers shared by the problem tests."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def host64(backend: Any, a: Any) -> np.ndarray:
    """An array of any backend as a float64 NumPy array."""
    return backend.asnumpy(a).astype(np.float64)


def fd_grad(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central finite-difference gradient of ``f`` at ``x``, coordinate by coordinate."""
    e = np.eye(len(x))
    return np.array([(f(x + h * e[j]) - f(x - h * e[j])) / (2 * h) for j in range(len(x))])
