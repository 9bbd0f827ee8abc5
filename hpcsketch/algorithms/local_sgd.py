"""Local SGD / FedAvg: K local steps from x, then x <- x + eta_g * mean_i (y_i - x).

The model deltas may be compressed by any compressor (linear ones are summed
and Allreduced, others Allgathered). server_lr = 1 is model averaging.
"""

from __future__ import annotations

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import sum_payloads
from hpcsketch.algorithms.local import local_steps


class LocalSGD(Algorithm):
    kind = "local_sgd"
    compressors = None

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.y = self.xp.empty_like(self.x)

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        self.C.resample(self.ctx.key("operator", t))
        payloads = []
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                y = local_steps(self, c, t, self.x, self.opts.local_steps, self.opts.lr, out=self.y)
                y -= self.x  # the delta
            with self.timer.phase("compress"):
                payloads.append(self.C.compress(y, self.ctx.key("compress", t, c)))
        self.record_traffic(len(local), sum(int(p.nbytes) for p in payloads))
        total = sum_payloads(self.comm, self.C, payloads, self.timer)
        with self.timer.phase("update"):
            total *= self.opts.server_lr / len(sampled)
            self.x += total
