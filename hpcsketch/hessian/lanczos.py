"""Lanczos with full reorthogonalisation on any symmetric operator.

The Krylov basis lives in the operator's array module (NumPy or CuPy) and dtype;
every new vector is orthogonalised against the whole basis twice (classical
Gram-Schmidt, twice is enough: Giraud et al. 2005), so the Ritz values do not
come back as spurious copies as they do in plain three-term Lanczos. The
tridiagonal matrix T is kept and decomposed in float64 on the host.

A run of m steps from a unit vector q_1 gives T = Q^T H Q (m x m) and the
residual beta_m q_{m+1}. Its eigenpairs (theta_j, s_j) are:

* Ritz values: theta_j approximates an eigenvalue of H within the residual bound
  ``|beta_m s_j[m]|`` (there is an eigenvalue of H in [theta_j - r_j, theta_j + r_j]);
* Gauss quadrature: nodes theta_j with weights ``s_j[0]^2`` integrate against the
  spectral measure of H seen from q_1, i.e. ``q_1^T g(H) q_1 ~ sum_j s_j[0]^2 g(theta_j)``
  (exact for polynomials of degree up to 2m - 1), the building block of SLQ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass
class Tridiagonal:
    """The Lanczos coefficients of one run (float64, host)."""

    alpha: np.ndarray  # (m,) diagonal
    beta: np.ndarray  # (m,) beta[j] couples q_{j+1} and q_{j+2}; beta[-1] is the final residual norm
    #: steps taken (fewer than asked when the Krylov space became invariant or d was reached)
    steps: int

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.alpha).all() and np.isfinite(self.beta).all())

    def eigh(self) -> tuple[np.ndarray, np.ndarray]:
        """Ritz values (ascending) and the eigenvectors of T (columns)."""
        m = self.steps
        t = np.diag(self.alpha[:m]) + np.diag(self.beta[: m - 1], 1) + np.diag(self.beta[: m - 1], -1)
        return np.linalg.eigh(t)

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """Ritz values (descending) and their residual bounds |beta_m s_j[m]|."""
        theta, s = self.eigh()
        order = np.argsort(theta)[::-1]
        return theta[order], np.abs(self.beta[self.steps - 1] * s[-1, order])

    def quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        """Gauss quadrature nodes (the Ritz values, ascending) and weights (summing to 1)."""
        theta, s = self.eigh()
        return theta, s[0] ** 2


def lanczos(op: Callable[[Any], Any], v0: Any, steps: int, *, xp: Any = np, dtype: Any = None) -> Tridiagonal:
    """``steps`` Lanczos steps of the symmetric operator ``op`` from ``v0`` (any nonzero vector).

    ``op`` maps a (d,) array of ``xp`` to one. At most d steps are taken; the run also
    stops early when the residual vanishes (an invariant subspace: the quadrature is
    then exact for this start vector) or turns non-finite (coefficients past that are NaN).
    """
    dtype = dtype or v0.dtype
    d = int(v0.shape[0])
    m = max(1, min(int(steps), d))
    basis = xp.zeros((m, d), dtype=dtype)
    alpha = np.full(m, np.nan)
    beta = np.full(m, np.nan)
    q = xp.asarray(v0, dtype=dtype)
    norm = float(xp.linalg.norm(q))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("the start vector must be finite and nonzero")
    q = q / norm
    # relative size below which a residual is rounding noise, not a new direction
    tiny = 100.0 * float(np.finfo(np.dtype(dtype)).eps) * math.sqrt(d)
    scale = 0.0
    taken = m
    for j in range(m):
        basis[j] = q
        w = op(q)
        a = float(xp.dot(q, w))
        alpha[j] = a
        # two passes of classical Gram-Schmidt against the whole basis (this includes the
        # three-term recurrence's own q_j and q_{j-1} terms)
        active = basis[: j + 1]
        for _ in range(2):
            w = w - active.T @ (active @ w)
        b = float(xp.linalg.norm(w))
        beta[j] = b
        if not (math.isfinite(a) and math.isfinite(b)):
            taken = j + 1
            break
        scale = max(scale, abs(a), b)
        if j + 1 == m:
            break
        if b <= tiny * scale:
            beta[j] = 0.0
            taken = j + 1
            break
        q = w / b
    return Tridiagonal(alpha[:taken], beta[:taken], taken)


def top_eigenvalues(op: Callable[[Any], Any], v0: Any, steps: int, k: int, *, xp: Any = np,
                    dtype: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest Ritz values after ``steps`` Lanczos steps and their residual bounds
    (NaN-padded when fewer than ``k`` steps were possible)."""
    tri = lanczos(op, v0, steps, xp=xp, dtype=dtype)
    values, bounds = tri.ritz()
    return pad_to(values, k), pad_to(bounds, k)


def pad_to(a: np.ndarray, k: int) -> np.ndarray:
    """The first k entries of a, NaN-padded to length k."""
    out = np.full(k, np.nan)
    out[: min(k, len(a))] = a[:k]
    return out
