"""EF21 (Richtarik et al. 2021): clients keep g_i, everyone keeps g = mean_i g_i.

    x <- x - gamma g;  c_i = C(grad f_i(x) - g_i);  g_i += c_i;  g += (1/n) sum_{i sampled} c_i

Only c_i crosses the network. With every client sampled the last step is
g += mean_i c_i; with client sampling the 1/n keeps g equal to the mean of all
g_i (EF21-PP).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import Uplink


class EF21(Algorithm):
    kind = "ef21"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.g = self.xp.zeros_like(self.x)
        self.g_i: dict[int, Any] = {}  # only the clients this rank hosts, once they take part

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        with self.timer.phase("update"):
            self.x -= self.opts.lr * self.g
        self.C.resample(self.ctx.key("operator", t))
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                grad = self.client_gradient(self.x, c, t)
                gi = self.g_i.get(c)
                if gi is None:
                    gi = self.g_i[c] = self.xp.zeros_like(self.x)
                diff = grad - gi
            with self.timer.phase("compress"):
                p = self.C.compress(diff, self.ctx.key("compress", t, c))
                gi += self.C.decompress(p)  # the client applies what the server will apply
            up.add_payload(p)
        total = up.reduce()
        with self.timer.phase("update"):
            total *= 1.0 / self.ctx.clients.n
            self.g += total

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "g": self.g, **{f"g_i/{c}": v for c, v in self.g_i.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.g[...] = self.xp.asarray(state["g"])
        for k, v in state.items():
            if k.startswith("g_i/") and self.ctx.clients.is_local(int(k[4:])):
                self.g_i[int(k[4:])] = self.xp.asarray(v).copy()
