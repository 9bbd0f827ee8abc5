"""Stochastic Lanczos quadrature (SLQ; Lin, Saad and Yang 2016; Ghorbani et al. 2019).

For a symmetric d x d operator H with eigenpairs (lambda_i, u_i) and a probe v with
E[v v^T] = I (Rademacher: entries +-1), the spectral density
phi(t) = (1/d) sum_i delta(t - lambda_i) satisfies, for any g,

    (1/d) tr g(H) = E_v[ v^T g(H) v ] / d = E_v[ sum_i (u_i^T v)^2 / ||v||^2 g(lambda_i) ]

(Rademacher probes have ||v||^2 = d exactly). Lanczos from v / ||v|| gives Gauss
quadrature nodes theta_k and weights tau_k (``Tridiagonal.quadrature``) with
v^T g(H) v / ||v||^2 ~ sum_k tau_k g(theta_k); averaging over probes estimates the
density (smoothed with a Gaussian of width sigma on a grid) and any spectral sum:
sum_i |lambda_i| = tr |H| ~ d * mean_probes sum_k tau_k |theta_k|.

The probe average is unbiased for tr g(H) / d up to the quadrature error; its
variance per probe is 2 (||g(H)||_F^2 - sum_j g(H)_jj^2) / d^2 for Rademacher probes
(Hutchinson), which is what the tests' tolerances are built from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from hpcsketch import seeding
from hpcsketch.hessian.lanczos import Tridiagonal, lanczos


def rademacher(dim: int, seed: int, *words: int | str) -> np.ndarray:
    """A +-1 vector (float64, host) drawn from the stream ``(seed, "hessian-probe", *words)``."""
    return seeding.rng(seed, "hessian-probe", *words).integers(0, 2, dim).astype(np.float64) * 2.0 - 1.0


@dataclass
class Quadrature:
    """SLQ's nodes and weights, one row per probe (NaN-padded to a common length)."""

    dim: int
    nodes: list[np.ndarray]
    weights: list[np.ndarray]
    runs: list[Tridiagonal]

    @property
    def probes(self) -> int:
        return len(self.nodes)

    def spectral_sums(self, g: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Per probe: the estimate d * sum_k tau_k g(theta_k) of tr g(H)."""
        return np.array([self.dim * float(np.sum(w * g(t))) for t, w in zip(self.nodes, self.weights)])

    def estimate(self, g: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
        """tr g(H) estimated as the probe mean, and its standard error (NaN with one probe)."""
        sums = self.spectral_sums(g)
        stderr = float(np.std(sums, ddof=1) / math.sqrt(len(sums))) if len(sums) > 1 else math.nan
        return float(np.mean(sums)), stderr

    def trace_norm(self) -> tuple[float, float]:
        """sum_i |lambda_i| (the trace norm of H) and its standard error."""
        return self.estimate(np.abs)

    def cdf(self, t: np.ndarray) -> np.ndarray:
        """Estimated fraction of eigenvalues <= t (a step function of the nodes)."""
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros_like(t)
        for nodes, w in zip(self.nodes, self.weights):
            out += (w[None, :] * (nodes[None, :] <= t.reshape(-1, 1))).sum(axis=1).reshape(t.shape)
        return out / self.probes

    def span(self) -> tuple[float, float]:
        """Smallest and largest node over all probes."""
        return float(min(n.min() for n in self.nodes)), float(max(n.max() for n in self.nodes))

    def density(self, grid: np.ndarray, sigma: float) -> np.ndarray:
        """The Gaussian-smoothed density (1/d) sum_i N(t; lambda_i, sigma^2) estimated on ``grid``
        (it integrates to 1: multiply by d for eigenvalues per unit of t)."""
        return smoothed_density(np.concatenate(self.nodes), np.concatenate(self.weights) / self.probes, grid, sigma)


def smoothed_density(points: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """sum_k weights_k N(t; points_k, sigma^2) at every t of ``grid``."""
    grid = np.asarray(grid, dtype=np.float64)
    z = (grid[:, None] - np.asarray(points, dtype=np.float64)[None, :]) / sigma
    return (np.exp(-0.5 * z * z) * np.asarray(weights)[None, :]).sum(axis=1) / (sigma * math.sqrt(2 * math.pi))


def density_grid(lo: float, hi: float, points: int, sigma_fraction: float) -> tuple[np.ndarray, float]:
    """A grid over [lo, hi] widened by 3 sigma on each side, and sigma = ``sigma_fraction`` * (hi - lo)
    (of |hi| when the spectrum is a single point, of 1 when that is 0)."""
    span = hi - lo
    if not span > 0:
        span = abs(hi) or 1.0
    sigma = sigma_fraction * span
    return np.linspace(lo - 3 * sigma, hi + 3 * sigma, points), sigma


def slq(op: Callable[[Any], Any], probes: Iterable[np.ndarray], steps: int, *, xp: Any = np, dtype: Any = None) -> Quadrature:
    """One Lanczos run of ``steps`` steps per probe vector (host arrays, moved to ``xp``)."""
    nodes, weights, runs = [], [], []
    dim = 0
    for v in probes:
        dim = int(v.shape[0])
        tri = lanczos(op, xp.asarray(v, dtype=dtype), steps, xp=xp, dtype=dtype)
        runs.append(tri)
        if not tri.finite:
            nodes.append(np.full(tri.steps, np.nan))
            weights.append(np.full(tri.steps, np.nan))
            continue
        t, w = tri.quadrature()
        nodes.append(t)
        weights.append(w)
    if not runs:
        raise ValueError("SLQ needs at least one probe")
    return Quadrature(dim, nodes, weights, runs)
