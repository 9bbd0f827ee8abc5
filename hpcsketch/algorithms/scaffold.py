"""SCAFFOLD (Karimireddy et al. 2020), option II, and SCAFFOLD-M.

Local steps ``y <- y - gamma (g_i(y) - c_i + c)``; after K steps
``c_i+ = c_i - c + (x - y_i) / (K gamma)``; ``x <- x + eta_g mean_i (y_i - x)``;
``c <- c + (1/n) sum_{i sampled} (c_i+ - c_i)`` (= (s/n) mean_i). Clients send
both deltas: one Allreduce of 2d numbers per rank. SCAFFOLD-M mixes the
previous round's global direction into the local direction as FedAvg-M does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.local import local_steps


class Scaffold(Algorithm):
    kind = "scaffold"
    momentum_mix = False

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        d = self.d
        self.c = self.xp.zeros_like(self.x)
        self.c_i: dict[int, Any] = {}
        self.buf = self.xp.zeros(2 * d, dtype=self.x.dtype)  # [sum dy, sum dc]
        self.y = self.xp.empty_like(self.x)
        self.gbar = self.xp.zeros_like(self.x) if self.momentum_mix else None

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        K, lr, d = self.opts.local_steps, self.opts.lr, self.d
        buf = self.buf
        buf.fill(0)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                ci = self.c_i.get(c)
                if ci is None:
                    ci = self.c_i[c] = self.xp.zeros_like(self.x)
                corr = self.c - ci
                y = local_steps(self, c, t, self.x, K, lr, correction=corr, direction=self.gbar,
                                beta=self.opts.beta if self.momentum_mix else 1.0, out=self.y)
                # c_i+ - c_i = -c + (x - y) / (K lr)
                dc = (self.x - y) * (1.0 / (K * lr)) - self.c
                buf[:d] += y
                buf[:d] -= self.x
                buf[d:] += dc
                ci += dc
        self.record_traffic(len(local), len(local) * buf.nbytes, downlink_bytes_per_client=buf.nbytes)
        with self.timer.phase("communicate"):
            self.comm.allreduce(buf)
        with self.timer.phase("update"):
            dy = buf[:d] * (1.0 / len(sampled))
            self.x += self.opts.server_lr * dy
            self.c += buf[d:] * (1.0 / self.ctx.clients.n)
            if self.gbar is not None:
                self.gbar[...] = dy * (-1.0 / (K * lr))

    def state_dict(self) -> dict[str, Any]:
        s = {**super().state_dict(), "c": self.c, **{f"c_i/{k}": v for k, v in self.c_i.items()}}
        if self.gbar is not None:
            s["gbar"] = self.gbar
        return s

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.c[...] = self.xp.asarray(state["c"])
        if self.gbar is not None:
            self.gbar[...] = self.xp.asarray(state["gbar"])
        for k, v in state.items():
            if k.startswith("c_i/") and self.ctx.clients.is_local(int(k[4:])):
                self.c_i[int(k[4:])] = self.xp.asarray(v).copy()


class ScaffoldM(Scaffold):
    kind = "scaffold_m"
    momentum_mix = True
