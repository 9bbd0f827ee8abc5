"""PSGD: x <- x - gamma * mean_i g_i(x), one dense Allreduce of gradients per round."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext


class PSGD(Algorithm):
    kind = "psgd"
    compressors = ("none",)

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.g = self.xp.zeros_like(self.x)
        self.m = self.xp.zeros_like(self.x) if self.opts.momentum else None

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
            if self.m is not None:
                self.m *= self.opts.momentum
                self.m += g
                g = self.m
            self.x -= g

    def state_dict(self) -> dict[str, Any]:
        s = super().state_dict()
        if self.m is not None:
            s["m"] = self.m
        return s

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.m is not None:
            self.m[...] = self.xp.asarray(state["m"])
