"""DSGD: a local step, then weighted averaging with the graph neighbours.

Adapt-then-combine (default), one ``Neighbor_allgather`` of d floats a round::

    x_i <- sum_{j in N(i) + i} w_ij (x_j - gamma g_j(x_j))

``overlap = true`` runs combine-then-adapt instead, which lets the exchange of
the models overlap the gradient: ``Ineighbor_allgather(x_i)`` starts before the
gradient, and is tested between the node's clients so that MPI libraries
without a progress thread still advance it::

    x_i <- sum_{j in N(i) + i} w_ij x_j - gamma g_i(x_i)

g_i is the mean over the clients the node (rank) hosts; with momentum > 0 it is
replaced by the node's heavy-ball buffer m_i <- beta m_i + g_i.
"""

from __future__ import annotations

import numpy as np

from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.decentralized import Node
from hpcsketch.algorithms.options import OVERLAP


class DSGD(Node):
    kind = "dsgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.overlap = bool(self.opts.get("overlap", OVERLAP.default))
        self.y = self.xp.empty_like(self.x)

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        nc = self.neighbors(t)
        if self.overlap:
            # x is not written until the exchange completes, so it is the send buffer itself
            with self.timer.phase("communicate"):
                req = nc.ineighbor_allgather(self.x)
            with self.timer.phase("compute"):
                g = self.node_gradient(t, local, pending=req)
            with self.timer.phase("communicate"):
                gathered = req.wait()
            with self.timer.phase("update"):
                step = self.direction(g)
                self.mix(t, self.x, gathered, out=self.x)
                self.x -= self.opts.lr * step
        else:
            with self.timer.phase("compute"):
                g = self.node_gradient(t, local)
            with self.timer.phase("update"):
                y = self.y
                y[...] = self.x
                y -= self.opts.lr * self.direction(g)
            with self.timer.phase("communicate"):
                gathered = nc.neighbor_allgather(y)
            with self.timer.phase("update"):
                self.mix(t, y, gathered, out=self.x)
        self.record_gossip(nc, len(local), self.x.nbytes)
