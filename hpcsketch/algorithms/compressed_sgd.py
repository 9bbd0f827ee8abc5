"""Compressed SGD with an unbiased compressor: x <- x - gamma * mean_i D(C(g_i)).

Linear compressors (shared-mask rand-k, sketches) go through one Allreduce;
non-linear ones (QSGD, private rand-k) through Allgatherv.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import Uplink


class CompressedSGD(Algorithm):
    kind = "compressed_sgd"
    compressors = None
    compressor_requires = ("unbiased",)

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.m = self.xp.zeros_like(self.x) if self.opts.momentum else None

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        self.C.resample(self.ctx.key("operator", t))
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                g = self.client_gradient(self.x, c, t)
            up.add(g, c)
        total = up.reduce()
        with self.timer.phase("update"):
            total *= self.opts.lr / len(sampled)
            if self.m is not None:
                self.m *= self.opts.momentum
                self.m += total
                total = self.m
            self.x -= total

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), **({"m": self.m} if self.m is not None else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.m is not None:
            self.m[...] = self.xp.asarray(state["m"])
