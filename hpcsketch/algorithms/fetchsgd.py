"""FetchSGD (Rothchild et al. 2020): momentum and error accumulation in count-sketch space.

Clients send S(g_i) (one fixed count sketch for the whole run, so sketches of
different rounds add up); the server side of the Allreduce keeps two sketches::

    S_u = rho S_u + mean_i S(g_i);  S_e += gamma S_u;  D = top-k(unsketch(S_e))

then removes D from the error: ``error_removal = "zero"`` zeroes the cells of
S_e and S_u that D's coordinates hash to (what the paper's code does: subtracting
was reported to diverge there) or ``"subtract"`` sets S_e -= S(D) (the paper's
equation). ``x <- x - D``. Without ``error_feedback`` S_e is just gamma S_u.

With ``local_steps`` K > 1 a client sketches its pseudo-gradient
``(x - y_i^K) / gamma`` after K local SGD steps (the local-steps variant of the
paper's appendix), so that with no compression, no momentum and server-side
exact values the update is FedAvg's ``x <- mean_i y_i^K``.

``second_round``: the k heavy coordinates are still chosen from the sketch, but
their values come from a second Allreduce of the clients' exact gradient
coordinates (times gamma), which replace the sketch's estimates; the cells are
cleared as usual. That costs k more numbers per client.
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


class FetchSGD(Algorithm):
    kind = "fetchsgd"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.C = ctx.make_compressor()  # fixed for the run: sketches of different rounds must add up
        self.k = resolve_count(ctx.job.compressor.k, self.d)
        self.S_u = self.C.zeros()
        self.S_e = self.C.zeros()
        self.rho = float(self.opts.momentum)
        self.y = self.xp.empty_like(self.x) if self.opts.local_steps > 1 else None
        self._round: tuple[Any, ...] | None = None

    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        lr, s = self.opts.lr, len(sampled)
        up = Uplink(self, self.C, t)
        for c in (int(c) for c in local):
            with self.timer.phase("compute"):
                if self.y is None:
                    g = self.client_gradient(self.x, c, t)
                else:  # K local steps: the pseudo-gradient (x - y) / lr
                    g = local_steps(self, c, t, self.x, self.opts.local_steps, lr, out=self.y)
                    g -= self.x
                    g *= -1.0 / lr
            up.add(g, c)
        S = up.reduce_compressed()
        with self.timer.phase("update"):
            S *= 1.0 / s
            self.S_u *= self.rho
            self.S_u += S
            if self.opts.error_feedback:
                self.S_e += lr * self.S_u
            else:
                self.S_e[...] = lr * self.S_u
        with self.timer.phase("decompress"):
            idx, vals = self.C.heavy_hitters(self.S_e, self.k)
        if self.opts.second_round:
            exact = self._fetch_exact(up.dense_sum, idx, len(local))
            vals = exact * (lr / s)
        with self.timer.phase("update"):
            if self.opts.error_removal == "zero":
                self.C.zero_cells(self.S_e, idx)
                self.C.zero_cells(self.S_u, idx)
            else:
                self.S_e -= self.C.sketch_sparse(idx, vals)
            self.x[idx] -= vals
        self._round = (up.dense_sum, s)

    def _fetch_exact(self, dense_sum: Any, idx: Any, n_local: int) -> Any:
        """Second round: every client sends its k gradient values at idx; one Allreduce of k numbers."""
        xp = self.xp
        with self.timer.phase("compress"):
            buf = dense_sum[idx].copy() if dense_sum is not None else xp.zeros(len(idx), dtype=self.x.dtype)
        self.metrics.add("bytes_uplink", float(n_local * buf.nbytes))
        with self.timer.phase("communicate"):
            self.comm.allreduce(buf)
        return buf

    def diagnostics(self, t: int) -> None:
        if self._round is None:
            return
        local, s_count = self._round
        p = global_sum(self, local) * (self.opts.lr / s_count)  # the round's step, gamma * mean_i g_i

        def recover(v: Any) -> Any:
            idx, vals = self.C.heavy_hitters(self.C.compress(v), self.k)
            out = self.xp.zeros_like(v)
            out[idx] = vals
            return out

        record_recovery(self, p, recover, self.k)
        self._round = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "S_u": self.S_u, "S_e": self.S_e}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.S_u[...] = self.xp.asarray(state["S_u"])
        self.S_e[...] = self.xp.asarray(state["S_e"])
