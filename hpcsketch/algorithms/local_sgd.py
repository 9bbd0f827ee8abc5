"""Local SGD / FedAvg: K local steps from x, then x <- x + eta_g * mean_i (y_i - x).

The model deltas may be compressed by any compressor (linear ones are summed
and Allreduced, others Allgathered); with ``error_feedback`` each client keeps
what its compressor dropped (local top-r with error feedback is this with
``[compressor] kind = "topk"``). server_lr = 1 is model averaging.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.exchange import Uplink
from hpcsketch.algorithms.local import local_steps
from hpcsketch.compressors.memory import Memory


class LocalSGD(Algorithm):
    kind = "local_sgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()
        self.y = self.xp.empty_like(self.x)
        # error feedback only means something when the compressor drops information
        self.memory = Memory() if self.opts.error_feedback and self.C.kind != "none" else None

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        self.C.resample(self.ctx.key("operator", t))
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                y = local_steps(self, c, t, self.x, self.opts.local_steps, self.opts.lr, out=self.y)
                y -= self.x  # the delta
            if self.memory is None:
                up.add(y, c)
                continue
            with self.timer.phase("compress"):
                p = self.memory.compensate(y, c)
                payload = self.C.compress(p, self.ctx.key("compress", t, c))
                self.memory.update(p, c, self.C, payload)
            up.add_payload(payload)
        total = up.reduce()
        with self.timer.phase("update"):
            total *= self.opts.server_lr / len(sampled)
            self.x += total

    def state_dict(self) -> dict[str, Any]:
        res = self.memory.residuals if self.memory is not None else {}
        return {**super().state_dict(), **{f"e/{c}": e for c, e in res.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for k, v in state.items():
            if k.startswith("e/") and self.memory is not None and self.ctx.clients.is_local(int(k[2:])):
                self.memory.residuals[int(k[2:])] = self.xp.asarray(v).copy()
