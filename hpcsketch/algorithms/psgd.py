"""PSGD: x <- x - gamma * mean_i g_i(x), one dense Allreduce of gradients per round."""

from __future__ import annotations

import numpy as np

from hpcsketch.algorithms.base import Algorithm, HeavyBall
from hpcsketch.algorithms.context import RunContext


class PSGD(HeavyBall, Algorithm):
    kind = "psgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.g = self.xp.zeros_like(self.x)
        self.init_momentum()

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        g = self.g
        with self.timer.phase("compute"):
            g.fill(0)
            for c in local:
                g += self.client_gradient(self.x, int(c), t)
        self.record_traffic(len(local), len(local) * g.nbytes)
        with self.timer.phase("communicate"):
            self.comm.allreduce(g)
        with self.timer.phase("update"):
            g *= self.opts.lr / len(sampled)
            self.x -= self.heavy_ball(g)
