"""What every decentralized method shares: a node of the graph is a rank.

Each rank keeps its own model x_i, computes the node's gradient as the mean
over the clients it hosts, and talks only to its graph neighbours through
neighbour collectives (:mod:`hpcsketch.comm.neighbor`). The initial model is
rank 0's on every node (``Algorithm.start``); the distributed-graph
communicators are made in ``start`` too, because making them is collective and
the constructor is local (a rank that fails its set-up must not leave the
others waiting in MPI).

Metrics beyond the round's own: ``consensus_distance`` = mean_i ||x_i - x_bar||^2
every round (diagnostics, one Allreduce of d floats outside the timing),
``bytes_per_neighbor`` (what a node sent to each out-neighbour), and at each
evaluation the average model's ``eval_loss``/``eval_accuracy`` plus the worst
node's ``eval_worst_loss``/``eval_worst_accuracy`` (each node evaluates its own
model on the whole held-out set). The topology's spectral gap goes to the
trace's root attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm, HeavyBall, summarize_parts
from hpcsketch.algorithms.context import RunContext
from hpcsketch.comm.neighbor import NeighborComm
from hpcsketch.topology.network import build


class Node(HeavyBall, Algorithm):
    decentralized = True  # the registry entries of the methods built on it must say so too

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.node = ctx.comm.rank
        self.nodes = ctx.comm.size
        self.network = build(ctx.job.topology.kind, self.nodes, dict(ctx.job.topology))
        self.g = self.xp.zeros_like(self.x)
        self.init_momentum()
        self._xbar = self.xp.empty_like(self.x)
        self._neighbors: list[NeighborComm] = []
        # this node's row of each W_t, as arrays of the run's dtype (in-neighbour order)
        self._rows = []
        for t in range(self.network.period):
            r = self.network.row(t, self.node)
            self._rows.append((r.self_weight, self.xp.asarray(np.asarray(r.weights, dtype=np.float64), dtype=self.x.dtype)))

    def start(self) -> None:
        super().start()
        with self.comm.category("setup"):
            for g in self.network.graphs:
                self._neighbors.append(NeighborComm(self.comm, g.sources[self.node], g.destinations[self.node]))

    # -- gossip -------------------------------------------------------------------------
    def neighbors(self, t: int) -> NeighborComm:
        """The distributed-graph communicator of round ``t``."""
        return self._neighbors[t % len(self._neighbors)]

    def weighted_sum(self, t: int, gathered: Any) -> Any:
        """sum_k w_{i,sources[k]} gathered[k] over this node's in-neighbours (a new array)."""
        return self.xp.tensordot(self._rows[t % len(self._rows)][1], gathered, axes=(0, 0))

    def mix(self, t: int, own: Any, gathered: Any, out: Any) -> Any:
        """out <- w_ii own + sum_j w_ij gathered_j (``out`` may be ``own``)."""
        acc = self.weighted_sum(t, gathered)
        acc += self._rows[t % len(self._rows)][0] * own
        out[...] = acc
        return out

    def self_weight(self, t: int) -> float:
        return self._rows[t % len(self._rows)][0]

    # -- the local step -----------------------------------------------------------------
    def node_gradient(self, t: int, local: np.ndarray, pending: Any = None) -> Any:
        """Mean over this node's clients of their stochastic gradients at x_i.

        ``pending``: a non-blocking request to test between clients, so MPI
        libraries without a progress thread still move it along during compute.
        """
        g = self.g
        g.fill(0)
        for c in local:
            g += self.client_gradient(self.x, int(c), t)
            if pending is not None:
                pending.test()
        g *= 1.0 / len(local)
        return g

    def direction(self, g: Any) -> Any:
        """The step direction: g, or the node's heavy-ball momentum m <- beta m + g."""
        return self.heavy_ball(g)

    def record_gossip(self, nc: NeighborComm, n_clients: int, nbytes: int, received: int | None = None) -> None:
        """This node sent ``nbytes`` to each of ``nc``'s out-neighbours and got ``received`` bytes
        (default: ``nbytes`` from each in-neighbour)."""
        self.metrics.add("bytes_uplink", float(nbytes * nc.outdegree))
        self.metrics.add("bytes_downlink", float(nbytes * nc.indegree if received is None else received))
        self.metrics.add("clients", float(n_clients))
        self.metrics.add("bytes_per_neighbor", float(nbytes), "mean")

    # -- many models --------------------------------------------------------------------
    def average(self) -> Any:
        """x_bar = mean_i x_i (one Allreduce, under the caller's category); a buffer reused each call."""
        self._xbar[...] = self.x
        self.comm.allreduce(self._xbar)
        self._xbar *= 1.0 / self.nodes
        return self._xbar

    def consensus_distance(self) -> float:
        """mean_i ||x_i - x_bar||^2, the same value on every rank."""
        diff = self.x - self.average()
        local = self.xp.asarray([float(self.xp.vdot(diff, diff))], dtype=self.xp.float64)
        self.comm.allreduce(local)
        return float(local[0]) / self.nodes

    def diagnostics(self, t: int) -> None:
        self.metrics.add("consensus_distance", self.consensus_distance(), "first")

    def evaluate(self) -> dict[str, float]:
        """The average model on the held-out set split over ranks, and the worst node's own model."""
        with self.comm.category("eval"):
            part = self.problem.evaluate(self.average(), self.comm.rank, self.comm.size)
            own = self.problem.evaluate(self.x, 0, 1)
            gathered = self.comm.allgather_object(({k: float(v) for k, v in part.items()}, {k: float(v) for k, v in own.items()}))
        out = summarize_parts([p for p, _ in gathered])
        per_node = [summarize_parts([o]) for _, o in gathered]
        for key in per_node[0]:
            worst = min if key == "eval_accuracy" else max  # every other eval metric: larger is worse
            out["eval_worst_" + key[len("eval_"):]] = worst(n[key] for n in per_node)
        return out

    def model(self) -> Any:
        return self.x

    def trace_attrs(self) -> dict[str, Any]:
        return self.network.attrs()
