"""Independent subnetwork training (IST) as sketched gradient descent (seed 002; docs/methods.md, 'IST').

Each round the sketch (``[algorithm] sketch``, :mod:`hpcsketch.diagonal_sketches`)
gives every sampled client i a diagonal C_i. Client i starts from y = x and takes
``local_steps`` steps of

    y <- y - gamma * C_i grad f_i(C_i y)

(the gradient of f_i(C_i y) in y: the client trains the submodel C_i y; only the
coordinates in C_i's support move), and sends delta_i = y - x on that support.
The server applies

    x <- x + server_lr * sum_i W_i delta_i

with the sketch's weights W_i (diagonal, on C_i's support). For the coordinate
sketches W_i = I / n, so with one local step and server_lr = 1 this is the
seed's x <- x - gamma mean_i C_i grad f_i(C_i x) (eqs. 2-3), which equals its
IST form x <- mean_i [C_i x - gamma C_i grad f_i(C_i x)] (eq. 4) whenever
mean_i C_i = I (Perm-q with n q = d, identity); with several local steps it is
that update with each client's one step replaced by its K steps. For the
preconditioned sketch it is the iteration the seed's preconditioned analysis
studies; for Rand-q coordinates no client holds keep their value. For the
``neurons`` sketch W_i is 1 on the units a client owns (the server reassembles
the owners' trained blocks, Yuan et al. 2022) and 1/n on the shared output bias.

Communication: only blocks move. The model is replicated on every rank (each
applies the same update), so what crosses MPI is one Allgatherv per round of
every sampled client's delta_i on its support, values only: the supports come
from the shared round key, so no index is sent. ``bytes_uplink`` counts those
block bytes and ``bytes_downlink`` the same blocks of x each client would
receive; ``dense_bytes_uplink`` (d values per client) and ``dense_bytes_mpi``
(a d-value Allreduce per rank) are what dense data parallelism moves for the
same round.

The ``loss`` metric is each client's minibatch loss at its submodel C_i x (for
``neurons``, the subnetwork's loss). Weight decay, when set, is added to the
submodel's gradient (C_i grad f_i(w) + wd C_i w at w = C_i y). Simulated clients
compute on a d-sized vector with zeros off the support, the same function as the
submodel, so compute time is not that of a smaller network.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.algorithms.base import Algorithm
from hpcsketch.algorithms.context import RunContext
from hpcsketch.algorithms.options import SKETCH_KINDS
from hpcsketch.config.options import resolve_count
from hpcsketch.diagonal_sketches import (
    KINDS,
    Diagonal,
    DiagonalSketch,
    IdentitySketch,
    NeuronSketch,
    PermQSketch,
    PreconditionedPermQSketch,
    RandQSketch,
)
from hpcsketch.errors import BadInput

if SKETCH_KINDS != KINDS:  # the [algorithm] sketch key declares the sketches this module builds
    raise ImportError(f"hpcsketch.algorithms.options.SKETCH_KINDS {SKETCH_KINDS} != diagonal_sketches.KINDS {KINDS}")


class IST(Algorithm):
    kind = "ist"

    def __init__(self, ctx: RunContext):
        super().__init__(ctx)
        self.sketch = self._make_sketch()
        reason = self.sketch.check_clients(ctx.clients.per_round)
        if reason:
            raise BadInput(reason, field=f'[algorithm] sketch = "{self.opts.sketch}"')
        self.w = self.xp.zeros_like(self.x)  # the submodel C_i y
        self.upd = self.xp.zeros_like(self.x)
        self.itemsize = self.x.dtype.itemsize

    def _make_sketch(self) -> DiagonalSketch:
        kind, d = self.opts.sketch, self.d
        count = None
        if kind == "rand_q" and self.opts.q is not None:
            count = resolve_count(self.opts.q, d)
            if count > d:
                raise BadInput(f"{self.opts.q} coordinates per client but d = {d}; need a count in 1..{d} or a fraction",
                               field=f"[algorithm] q = {self.opts.q}")
        try:  # what only the built problem can tell (its Hessian diagonals, its layers) fails here
            if kind == "perm_q_preconditioned":
                return PreconditionedPermQSketch(d, self.problem.diag_hessian, self.ctx.clients.n)
            if kind == "neurons":
                return NeuronSketch(d, self.problem.dense_layers())
        except ValueError as e:
            raise BadInput(str(e), field=f'[algorithm] sketch = "{kind}"') from None
        if kind == "rand_q":
            return RandQSketch(d, count)
        return {"identity": IdentitySketch, "perm_q": PermQSketch}[kind](d)

    # -- one round ---------------------------------------------------------------------
    def round(self, t: int, sampled: np.ndarray, local: np.ndarray) -> None:
        xp = self.xp
        with self.timer.phase("compress"):
            diags = self.sketch.draw(self.ctx.key("sketch", t), sampled)
        first = int(np.searchsorted(sampled, local[0])) if len(local) else 0
        blocks = []
        for pos, c in enumerate(int(c) for c in local):
            with self.timer.phase("compute"):
                blocks.append(self._client(c, t, diags[first + pos]))
        sent = sum(int(b.nbytes) for b in blocks)
        # each client receives its block of x and sends its block of delta: the same size
        self.record_traffic(len(local), sent, downlink_bytes=sent)
        dense = self.d * self.itemsize
        self.metrics.add("dense_bytes_uplink", float(len(local) * dense))
        self.metrics.add("dense_bytes_mpi", float(dense))
        with self.timer.phase("communicate"):
            payload = xp.concatenate(blocks) if blocks else xp.zeros(0, dtype=self.x.dtype)
            gathered, _ = self.comm.allgatherv(payload)
        with self.timer.phase("update"):
            self._apply(diags, gathered)

    def _client(self, client: int, t: int, diag: Diagonal) -> Any:
        """delta_i = y - x on C_i's support after ``local_steps`` sketched steps from y = x."""
        xp, lr = self.xp, self.opts.lr
        index = xp.asarray(diag.index)
        scale = xp.asarray(diag.scale, dtype=self.x.dtype)
        x0 = self.x[index]
        y = x0.copy()
        w = self.w
        w.fill(0)
        for k in range(self.opts.local_steps):
            w[index] = scale * y
            g = self.client_gradient(w, client, t, k)
            y -= lr * scale * g[index]
        return y - x0

    def _apply(self, diags: list[Diagonal], gathered: Any) -> None:
        """x += server_lr * sum_i W_i delta_i, in sampled-client order (the same on every rank)."""
        xp, upd = self.xp, self.upd
        expected = sum(d.size for d in diags)
        if gathered.shape[0] != expected:
            raise RuntimeError(f"IST gathered {gathered.shape[0]} values, expected {expected} (the clients' supports)")
        upd.fill(0)
        pos = 0
        for diag in diags:
            index = xp.asarray(diag.index)
            upd[index] += xp.asarray(diag.weight, dtype=upd.dtype) * gathered[pos : pos + diag.size]
            pos += diag.size
        if self.opts.server_lr != 1.0:
            upd *= self.opts.server_lr
        self.x += upd
