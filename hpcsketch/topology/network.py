"""A topology built for P nodes: the graph(s) of one period, their mixing rows,
the checks that W is doubly stochastic (and symmetric on undirected graphs),
and spectral gaps.

For a time-varying topology the period's graphs are used in turn (round t uses
graph t mod period); besides the gap of each W_t, the gap of the period's
product W_{T-1} ... W_0 says how fast it mixes (exactly 1 for the one-peer
exponential graph on a power-of-two P: one period averages exactly).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from hpcsketch.errors import BadInput
from hpcsketch.topology import REGISTRY
from hpcsketch.topology.graphs import Graph
from hpcsketch.topology.weights import Checks, Row, check, dense, mixing_rows, spectral_gap


@dataclass(frozen=True)
class Network:
    kind: str
    nodes: int
    scheme: str
    time_varying: bool
    graphs: tuple[Graph, ...]
    rows: tuple[tuple[Row, ...], ...]  # rows[t][i]: node i's mixing row in round t of the period

    @property
    def period(self) -> int:
        return len(self.graphs)

    def graph(self, t: int) -> Graph:
        return self.graphs[t % self.period]

    def row(self, t: int, node: int) -> Row:
        return self.rows[t % self.period][node]

    def matrix(self, t: int = 0) -> np.ndarray:
        return dense(self.rows[t % self.period])

    def checks(self) -> list[Checks]:
        return [check(r) for r in self.rows]

    @functools.cached_property
    def gaps(self) -> list[float]:
        """1 - |lambda_2(W_t)| for each round of the period (dense eigenvalues: computed on demand)."""
        return [spectral_gap(dense(r)) for r in self.rows]

    def period_matrix(self) -> np.ndarray:
        """W_{T-1} ... W_0: what one period of gossip does."""
        M = np.eye(self.nodes)
        for r in self.rows:
            M = dense(r) @ M
        return M

    @functools.cached_property
    def period_gap(self) -> float:
        return self.gaps[0] if self.period == 1 else spectral_gap(self.period_matrix())

    @property
    def gap(self) -> float:
        """The topology's spectral gap: of W (static) or of the period's product (time-varying)."""
        return self.period_gap

    def attrs(self) -> dict[str, Any]:
        """What a trace records about the topology (root attributes)."""
        deg = self.graphs[0].degrees()
        out: dict[str, Any] = {
            "topology": self.kind,
            "topology_weights": self.scheme,
            "topology_period": self.period,
            "topology_min_degree": int(deg.min()),
            "topology_max_degree": int(deg.max()),
            "spectral_gap": self.gap,
        }
        if self.time_varying:
            out["spectral_gaps_per_round"] = list(self.gaps)
        return out


def node_problem(kind: str, nodes: int, opts: Mapping[str, Any]) -> tuple[str, str] | None:
    """(key, what is wrong) when ``kind`` cannot run on ``nodes`` ranks with these options."""
    cls = REGISTRY.get(kind)
    return cls.node_problem(nodes, opts) or _weights_problem(kind, cls.graphs(nodes, opts), str(opts.get("weights", "metropolis")))


def _weights_problem(kind: str, gs: Sequence[Graph], scheme: str) -> tuple[str, str] | None:
    if scheme == "uniform":
        for g in gs:
            if not g.regular:
                deg = g.degrees()
                return "weights", (f"uniform weights need a regular graph and {kind} on {g.nodes} ranks has degrees "
                                   f"{deg.min()}..{deg.max()}; use \"metropolis\"")
    return None


def build(kind: str, nodes: int, opts: Mapping[str, Any]) -> Network:
    """The network of ``kind`` on ``nodes`` nodes; bad combinations raise BadInput naming the key."""
    if kind not in REGISTRY:
        raise BadInput(f"unknown topology {kind!r}; expected one of {', '.join(REGISTRY.names())}", field="[topology] kind")
    if nodes < 1:
        raise BadInput(f"a topology needs at least one node, got {nodes}", field="--nodes")
    cls = REGISTRY.get(kind)
    scheme = str(opts.get("weights", "metropolis"))
    problem = cls.node_problem(nodes, opts)
    gs = tuple(cls.graphs(nodes, opts)) if problem is None else ()
    problem = problem or _weights_problem(kind, gs, scheme)
    if problem:
        raise BadInput(problem[1], field=f"[topology] {problem[0]}")
    rows = tuple(tuple(mixing_rows(g, scheme)) for g in gs)
    for g, r in zip(gs, rows):
        c = check(r)
        # the schemes guarantee these on the graphs built here; a failure is a bug, not bad input
        if not c.doubly_stochastic or (not g.directed and not c.symmetric):
            raise AssertionError(f"{kind} on {nodes} nodes with {scheme} weights: {c}")
    return Network(kind, nodes, scheme, bool(cls.time_varying), gs, rows)
