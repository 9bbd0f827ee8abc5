"""CHOCO-SGD (Koloskova, Stich and Jaggi 2019): gossip of compressed differences.

Every node keeps its model x_i, its public copy x_hat_i (what its neighbours
know of it) and, in the memory-efficient form, s_i = sum_j w_ij x_hat_j instead
of a copy of every neighbour's x_hat_j. A round::

    x_i <- x_i - gamma g_i(x_i)                    (local step)
    q_i = C(x_i - x_hat_i)                         (compress; sent to the out-neighbours)
    x_hat_i += D(q_i);  s_i += w_ii D(q_i) + sum_{j in N(i)} w_ij D(q_j)
    x_i <- x_i + gamma_c (s_i - x_hat_i)           (= gamma_c sum_j w_ij (x_hat_j - x_hat_i))

gamma_c is ``consensus_lr``. CHOCO needs a contractive compressor; an unbiased one
with variance factor omega is scaled by ``compressor_scale`` = 1/(1 + omega)
(automatically unless set: D(q) above then means scale * D(q)). Any compressor of the compressor layer works:
fixed-size payloads go through one ``Neighbor_allgather``, others through
``Neighbor_allgatherv``; linear payloads (sketches, sensing measurements) are
weighted and summed compressed, then decompressed once. With the identity
compressor and gamma_c = 1, x_hat_j = x_j after each step and CHOCO-SGD is DSGD.

The topology must be static: s_i accumulates w_ij q_j with one W, and a node
only hears from this round's neighbours, so a changing W would leave s_i
stale (time-varying topologies are refused at validation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.decentralized import Node
from hpcsketch.algorithms.options import CONSENSUS_LR


class ChocoSGD(Node):
    kind = "choco_sgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.gamma_c = float(self.opts.get("consensus_lr", CONSENSUS_LR.default))
        self.C = ctx.make_compressor()
        self.fixed_size = self.C.payload_nbytes()
        self.scale = float(self.opts.get("compressor_scale", 0.0)) or auto_scale(self.C)
        self.x_hat = self.xp.zeros_like(self.x)
        self.s = self.xp.zeros_like(self.x)

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        nc = self.neighbors(t)
        with self.timer.phase("compute"):
            g = self.node_gradient(t, local)
        with self.timer.phase("update"):
            self.x -= self.opts.lr * self.direction(g)
        self.C.resample(self.ctx.key("operator", t))  # shared operators: the same on every node
        with self.timer.phase("compress"):
            q = self.C.compress(self.x - self.x_hat, self.ctx.key("compress", t, self.node))
            own = self.C.decompress(q)
            if self.scale != 1.0:
                own = self.scale * own
        if self.fixed_size is not None and q.nbytes != self.fixed_size:
            raise AssertionError(f"{self.C.kind} payload is {q.nbytes} bytes, not the declared {self.fixed_size}")
        with self.timer.phase("communicate"):
            if self.fixed_size is not None:
                gathered: Any = nc.neighbor_allgather(q)
                received = q.nbytes * nc.indegree
            else:
                flat, counts = nc.neighbor_allgatherv(q)
                received = int(flat.nbytes)
        with self.timer.phase("decompress"):
            if self.fixed_size is None:
                starts = np.concatenate([[0], np.cumsum(counts)])
                gathered = [flat[starts[k]:starts[k + 1]] for k in range(len(counts))]
            neighbours = self.mixed_neighbours(t, gathered)
            if self.scale != 1.0:
                neighbours *= self.scale
        with self.timer.phase("update"):
            self.x_hat += own
            self.s += self.self_weight(t) * own
            self.s += neighbours
            self.x += self.gamma_c * (self.s - self.x_hat)
        self.record_gossip(nc, len(local), int(q.nbytes), received)

    def mixed_neighbours(self, t: int, gathered: Any) -> Any:
        """sum_{j in N(i)} w_ij D(q_j): linear payloads are summed compressed and decompressed once."""
        if self.C.linear and not isinstance(gathered, list):
            return self.C.decompress(self.weighted_sum(t, gathered))
        weights = self.network.row(t, self.node).weights
        acc = self.xp.zeros_like(self.x)
        for w, p in zip(weights, gathered):
            acc += w * self.C.decompress(p)
        return acc

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "x_hat": self.x_hat, "s": self.s}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.x_hat[...] = self.xp.asarray(state["x_hat"])
        self.s[...] = self.xp.asarray(state["s"])


def auto_scale(C: Any) -> float:
    """The scale that makes C contractive in expectation (Koloskova et al. 2019, Assumption 1).

    An unbiased C with E||D(C(x)) - x||^2 <= omega ||x||^2 becomes, divided by
    1 + omega, a compressor with E||x - D(C(x))/(1 + omega)||^2 <= (1 - 1/(1 + omega)) ||x||^2.
    Sketches with E[R^T R] = I and m measurements do not state omega; theirs is
    about d/m (exactly d'/m - 1 for a subsampled orthonormal transform), used here.
    """
    if C.contractive:
        return 1.0
    omega = getattr(C, "omega", None)
    if omega is None:
        m = int(C.compress(C.xp.zeros(C.dim, dtype=C.dtype)).size)
        omega = C.dim / m
    return 1.0 / (1.0 + float(omega))
