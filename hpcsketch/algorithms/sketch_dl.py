"""Sketch-DL (Song et al. 2022; Shrivastava et al. 2024, seed 000).

Each client runs K local steps and sends ``R D_i`` with ``D_i = y_i^K - x``, R a
linear sketch drawn afresh every round from the shared seed (count sketch,
Gaussian, SRHT = subsampled WHT with signs) with ``E[R^T R] = I``. Sketches are
summed over a rank's clients and Allreduced once; the server desketches by the
transpose: ``x <- x + eta_g R^T mean_i R D_i``.

Options: ``top_r`` keeps only the r largest coordinates of the desketched
update; with ``error_feedback`` the server keeps the rest in model space and
adds it back next round (the sketch changes every round, so the error cannot
live in sketch space as FetchSGD's does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.diagnostics import global_sum, record_recovery
from hpcsketch.algorithms.exchange import Uplink
from hpcsketch.algorithms.local import local_steps
from hpcsketch.config.options import resolve_count
from hpcsketch.kernels.topk import hard_threshold


class SketchDL(Algorithm):
    kind = "sketch_dl"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.y = self.xp.empty_like(self.x)
        self.r = resolve_count(self.opts.top_r, self.d) if self.opts.top_r is not None else None
        self.e = self.xp.zeros_like(self.x) if (self.r is not None and self.opts.error_feedback) else None
        self._round: tuple[Any, ...] | None = None

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        self.C.resample(self.ctx.key("operator", t))  # a fresh sketch, the same on every client and rank
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                y = local_steps(self, c, t, self.x, self.opts.local_steps, self.opts.lr, out=self.y)
                y -= self.x
            up.add(y, c)
        u = up.reduce()
        with self.timer.phase("update"):
            u *= 1.0 / len(sampled)
            if self.r is not None:
                if self.e is not None:
                    u += self.e
                applied = hard_threshold(u, self.r)
                if self.e is not None:
                    self.e[...] = u - applied
                u = applied
            self.x += self.opts.server_lr * u
        self._round = (up.dense_sum, len(sampled))

    def diagnostics(self, t: int) -> None:
        if self._round is None:
            return
        local, s_count = self._round
        p = global_sum(self, local) * (1.0 / s_count)  # the round's mean delta, which the sketch carried

        def recover(v: Any) -> Any:
            u = self.C.decompress(self.C.compress(v))
            return hard_threshold(u, self.r) if self.r is not None else u

        record_recovery(self, p, recover, self.r)
        self._round = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), **({"e": self.e} if self.e is not None else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.e is not None:
            self.e[...] = self.xp.asarray(state["e"])
