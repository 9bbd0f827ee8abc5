"""CHOCO-SGD (Koloskova, Stich and Jaggi 2019): gossip of compressed differences.

Every node keeps its model x_i, its public copy x_hat_i (what its neighbours
know of it) and, in the memory-efficient form, s_i = sum_j w_ij x_hat_j instead
of a copy of every neighbour's x_hat_j. A round::

    x_i <- x_i - gamma g_i(x_i)                    (local step)
    q_i = C(x_i - x_hat_i)                         (compress; sent to the out-neighbours)
    x_hat_i += D(q_i);  s_i += w_ii D(q_i) + sum_{j in N(i)} w_ij D(q_j)
    x_i <- x_i + gamma_c (s_i - x_hat_i)           (= gamma_c sum_j w_ij (x_hat_j - x_hat_i))

gamma_c is ``consensus_lr``. Any compressor of the compressor layer works:
fixed-size payloads go through one ``Neighbor_allgather``, others through
``Neighbor_allgatherv``; linear payloads (sketches, sensing measurements) are
weighted and summed compressed, then decompressed once. With the identity
compressor and gamma_c = 1, x_hat_j = x_j after each step and CHOCO-SGD is DSGD.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.decentralized import Node
from hpcsketch.config.options import Option

CONSENSUS_LR = Option("consensus_lr", "float", 0.5, "choco_sgd: consensus step size gamma_c (1 with no compression is DSGD)",
                      min=0.0, max=1.0, min_exclusive=True)


class ChocoSGD(Node):
    kind = "choco_sgd"
    # every compressor but Perm-q, whose blocks belong to IST's clients, not to a node's model
    compressors = ("none", "topk", "randk", "qsgd", "sign", "count_sketch", "subsampled_wht", "subsampled_dct", "gaussian")
    options = (CONSENSUS_LR,)

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.gamma_c = float(self.opts.get("consensus_lr", CONSENSUS_LR.default))
        self.C = ctx.make_compressor()
        self.fixed_size = self.C.payload_nbytes()
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
