"""Error feedback / Mem-SGD (Stich 2018, Karimireddy et al. 2019), per client:

    p_i = gamma g_i + e_i;  D_i = C(p_i);  e_i = p_i - D_i;  x <- x - mean_i D_i

Works with any compressor (top-k, sign, QSGD, sketches). With
``error_feedback = false`` it is plain compressed SGD with a possibly biased
compressor: top-k that way can fail to converge (Beznosikov et al. 2023).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import Uplink
from hpcsketch.compressors.memory import Memory, NoMemory


class EFSGD(Algorithm):
    kind = "ef_sgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.memory = Memory() if self.opts.error_feedback else NoMemory()

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        self.C.resample(self.ctx.key("operator", t))
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                g = self.client_gradient(self.x, c, t)
                g *= self.opts.lr
                p = self.memory.compensate(g, c)
            with self.timer.phase("compress"):
                payload = self.C.compress(p, self.ctx.key("compress", t, c))
                self.memory.update(p, c, self.C, payload)
            up.add_payload(payload)
        total = up.reduce()
        with self.timer.phase("update"):
            total *= 1.0 / len(sampled)
            self.x -= total

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), **{f"e/{c}": e for c, e in self.memory.residuals.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for k, v in state.items():
            if k.startswith("e/") and self.ctx.clients.is_local(int(k[2:])):
                self.memory.residuals[int(k[2:])] = self.xp.asarray(v).copy()
