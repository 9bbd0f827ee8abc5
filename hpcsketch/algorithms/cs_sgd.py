"""CS-SGD (Tang et al. 2021, seed 001): compressed sensing of the aggregated gradient.

One fixed sensing operator Phi for the whole run (the "for-all" scheme: only Q
row indices and a seed define it): a subsampled WHT or DCT. Clients send
``y_i = Phi g_i`` (summed over a rank's clients, one Allreduce of Q numbers);
the server keeps a residual r in measurement space::

    z = gamma * mean_i y_i + r;  D = FIHT(z, K);  r = z - Phi D;  x <- x - D

K is ``[compressor] k``. Client sampling needs nothing special: the residual
lives on the server side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.diagnostics import global_sum, record_recovery
from hpcsketch.algorithms.exchange import Uplink
from hpcsketch.config.options import resolve_count
from hpcsketch.recovery.fiht import fiht


class CSSGD(Algorithm):
    kind = "cs_sgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.Phi = ctx.make_compressor()  # fixed: never resampled
        self.K = resolve_count(ctx.job.compressor.k, self.d)
        self.r = self.xp.zeros(self.Phi.q, dtype=self.x.dtype)
        self.last_z: Any = None
        self.last_D: Any = None
        self._round: tuple[Any, ...] | None = None

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        up = Uplink(self, self.Phi, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                g = self.client_gradient(self.x, c, t)
            up.add(g, c)
        y = up.reduce_compressed()
        with self.timer.phase("update"):
            z = y * (self.opts.lr / len(sampled))
            z += self.r
        with self.timer.phase("decompress"):
            res = fiht(self.Phi, z, self.K, max_iter=self.opts.fiht_iters)
            D = res.x
        with self.timer.phase("update"):
            self.r = z - self.Phi.forward(D)
            self.x -= D
        self.metrics.set("fiht_iterations", float(res.iterations))
        self.last_z, self.last_D = z, D
        self._round = (up.dense_sum, len(sampled))

    def diagnostics(self, t: int) -> None:
        if self._round is None:
            return
        local, s_count = self._round
        p = global_sum(self, local) * (self.opts.lr / s_count)  # the round's step, gamma * mean_i g_i
        record_recovery(self, p, lambda v: fiht(self.Phi, self.Phi.forward(v), self.K, max_iter=self.opts.fiht_iters).x, self.K)
        self._round = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "r": self.r}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.r = self.xp.asarray(state["r"]).copy()
