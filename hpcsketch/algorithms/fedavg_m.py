"""FedAvg-M (Cheng et al. 2024): momentum in the local direction.

    local:  g_i = beta grad F(y) + (1 - beta) g^r,  y <- y - eta g_i  (K steps)
    server: g^{r+1} = (x^r - mean_i y_i^K) / (eta K),  x^{r+1} = x^r - gamma g^{r+1}

with gamma = server_lr * eta * K, so server_lr = 1 and beta = 1 is FedAvg.
The model deltas may be compressed by any compressor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import Uplink
from hpcsketch.algorithms.local import local_steps


class FedAvgM(Algorithm):
    kind = "fedavg_m"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.gbar = self.xp.zeros_like(self.x)
        self.y = self.xp.empty_like(self.x)

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        K, lr = self.opts.local_steps, self.opts.lr
        self.C.resample(self.ctx.key("operator", t))
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                y = local_steps(self, c, t, self.x, K, lr, direction=self.gbar, beta=self.opts.beta, out=self.y)
                y -= self.x
                y *= -1.0  # x - y_i
            up.add(y, c)
        total = up.reduce()
        with self.timer.phase("update"):
            self.gbar[...] = total * (1.0 / (len(sampled) * lr * K))
            self.x -= (self.opts.server_lr * lr * K) * self.gbar

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "gbar": self.gbar}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.gbar[...] = self.xp.asarray(state["gbar"])
