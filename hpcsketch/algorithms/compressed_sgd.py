"""Compressed SGD with an unbiased compressor: x <- x - gamma * mean_i D(C(g_i)).

Linear compressors (shared-mask rand-k, sketches) go through one Allreduce;
non-linear ones (QSGD, private rand-k) through Allgatherv.
"""

from __future__ import annotations

import numpy as np

from hpcsketch.algorithms.base import Algorithm, HeavyBall
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import Uplink


class CompressedSGD(HeavyBall, Algorithm):
    kind = "compressed_sgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.init_momentum()

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
            self.x -= self.heavy_ball(total)
