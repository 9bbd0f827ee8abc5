"""Mixing weights on a graph, their checks, and spectral gaps.

Weights are kept per row (what node i needs: its own weight and one weight per
in-neighbour, in the order of ``graph.sources[i]``) so a rank never builds the
P x P matrix; :func:`dense` builds it for checks, gaps, tests and ``info``.

* Metropolis-Hastings: w_ij = 1 / (1 + max(deg_i, deg_j)) on edges,
  w_ii = 1 - sum_j w_ij. Symmetric and doubly stochastic on any undirected
  graph; on the one-peer exponential graph (every degree 1) it gives 1/2.
* Uniform: w_ij = 1 / (deg + 1) for j in N(i) + i, doubly stochastic only on
  regular graphs, so it is refused elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hpcsketch.errors import BadInput
from hpcsketch.topology.graphs import Graph

SCHEMES = ("metropolis", "uniform")
#: tolerance of the row / column sum and symmetry checks (weights are float64)
TOL = 1e-12


@dataclass(frozen=True)
class Row:
    """Node i's mixing row: x_i <- self_weight * x_i + sum_k weights[k] * x_{sources[k]}."""

    self_weight: float
    sources: tuple[int, ...]
    weights: tuple[float, ...]


def mixing_rows(graph: Graph, scheme: str) -> list[Row]:
    if scheme not in SCHEMES:
        raise BadInput(f"unknown weights {scheme!r}; expected one of {', '.join(SCHEMES)}", field="[topology] weights")
    # a node's degree for Metropolis: the larger of in- and out-degree (they agree on every graph built here)
    deg = [max(len(s), len(d)) for s, d in zip(graph.sources, graph.destinations)]
    if scheme == "uniform" and not graph.regular:
        raise BadInput(f"uniform weights need a regular graph and this one has degrees {min(deg)}..{max(deg)}; use \"metropolis\"",
                       field="[topology] weights")
    rows = []
    for i, src in enumerate(graph.sources):
        if scheme == "uniform":
            w = tuple(1.0 / (deg[i] + 1) for _ in src)
        else:
            w = tuple(1.0 / (1 + max(deg[i], deg[j])) for j in src)
        rows.append(Row(1.0 - sum(w), tuple(src), w))
    return rows


def dense(rows: Sequence[Row]) -> np.ndarray:
    """The P x P matrix W with W[i, j] = weight node i gives node j's value."""
    P = len(rows)
    W = np.zeros((P, P), dtype=np.float64)
    for i, r in enumerate(rows):
        W[i, i] = r.self_weight
        for j, w in zip(r.sources, r.weights):
            W[i, j] += w
    return W


@dataclass(frozen=True)
class Checks:
    nonnegative: bool
    row_stochastic: bool
    column_stochastic: bool
    symmetric: bool

    @property
    def doubly_stochastic(self) -> bool:
        return self.nonnegative and self.row_stochastic and self.column_stochastic


def check(rows: Sequence[Row]) -> Checks:
    """Row and column sums and symmetry, from the rows (O(edges), no P x P matrix)."""
    P = len(rows)
    col = np.zeros(P)
    entries: dict[tuple[int, int], float] = {}
    nonneg = True
    row_ok = True
    for i, r in enumerate(rows):
        col[i] += r.self_weight
        nonneg &= r.self_weight >= -TOL and all(w >= 0 for w in r.weights)
        row_ok &= abs(r.self_weight + sum(r.weights) - 1.0) <= TOL * max(1, len(r.weights))
        for j, w in zip(r.sources, r.weights):
            col[j] += w
            entries[(i, j)] = w
    col_ok = bool(np.all(np.abs(col - 1.0) <= TOL * max(1, P)))
    sym = all(abs(w - entries.get((j, i), 0.0)) <= TOL for (i, j), w in entries.items())
    return Checks(bool(nonneg), bool(row_ok), col_ok, sym)


def second_eigenvalue(W: np.ndarray) -> float:
    """|lambda_2|: the second-largest eigenvalue modulus (0 for a single node)."""
    if W.shape[0] < 2:
        return 0.0
    if np.allclose(W, W.T, atol=TOL, rtol=0):
        lam = np.abs(np.linalg.eigvalsh(W))
    else:
        lam = np.abs(np.linalg.eigvals(W))
    lam.sort()
    return float(lam[-2])


def spectral_gap(W: np.ndarray) -> float:
    """1 - |lambda_2|: how much one gossip step shrinks the slowest disagreement."""
    return max(0.0, 1.0 - second_eigenvalue(W))  # rounding can put |lambda_2| a hair above 1
