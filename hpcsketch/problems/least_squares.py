"""Federated least squares: f_i(x) = 1/(2m) ||A_i x - y_i||^2, client i holding m rows.

Generated in float64 from the job seed, with h = ``heterogeneity``:

* features: A_i = G_i diag(s_i), G_i standard Gaussian, per-client feature scales
  s_i = exp(h v_i), v_i ~ N(0, I) (h = 0: every client draws from the same law);
* targets: y_i = A_i x_i + noise * eps, with planted solutions x_i = x_c + h u_i,
  x_c, u_i ~ N(0, I/d) (h = 0: one shared solution).

f = mean_i f_i is the least-squares loss of all rows stacked (every client holds
m rows), so x* is ``lstsq`` of the stacked system in float64 (the minimum-norm
solution when n m < d). Minibatches are ``batch_size`` rows of the client, drawn
without replacement from the key; ``batch_size = 0`` (or >= m) is the client's
exact gradient.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from hpcsketch import seeding
from hpcsketch.backend import Backend
from hpcsketch.problems.declarations import least_squares_size
from hpcsketch.problems.options import batch_size
from hpcsketch.problems.synthetic import QuadraticObjective


class LeastSquares(QuadraticObjective):
    kind = "least_squares"
    size_problem = staticmethod(least_squares_size)

    def __init__(self, opts: Mapping[str, Any], clients: Mapping[str, Any], backend: Backend, seed: int):
        super().__init__(opts, clients, backend, seed)
        self._check_size()
        n, d, m = self.num_clients, self.dim, int(self.values["rows"])
        h = float(self.values["heterogeneity"])
        self.rows = m
        self.batch_size = batch_size(self.opts)
        gen = seeding.rng(self.seed, "least_squares")
        scales = np.exp(h * gen.standard_normal((n, 1, d)))
        a = gen.standard_normal((n, m, d)) * scales
        x_i = (gen.standard_normal(d) + h * gen.standard_normal((n, d))) / np.sqrt(d)
        y = np.einsum("imd,id->im", a, x_i) + float(self.values["noise"]) * gen.standard_normal((n, m))
        a_all, y_all = a.reshape(n * m, d), y.reshape(n * m)
        x_star = np.linalg.lstsq(a_all, y_all, rcond=None)[0]
        rows = n * m
        self._a64, self._y64 = a_all, y_all
        self._set_mean(a_all.T @ a_all / rows, a_all.T @ y_all / rows, float(y_all @ y_all) / (2 * rows), x_star)
        self._A = self.xp.asarray(a, dtype=self.dtype)
        self._y = self.xp.asarray(y, dtype=self.dtype)

    def _rows(self, client: int, key: int | None) -> tuple[Any, Any]:
        a, y = self._A[client], self._y[client]
        if key is None or self.batch_size == 0 or self.batch_size >= self.rows:
            return a, y
        idx = self.xp.asarray(seeding.rng(key, "batch").choice(self.rows, self.batch_size, replace=False))
        return a[idx], y[idx]

    def loss_grad(self, x: Any, client: int, key: int) -> tuple[Any, Any]:
        a, y = self._rows(client, key)
        r = a @ self.xp.asarray(x, dtype=self.dtype) - y
        k = a.shape[0]
        return (r @ r) / (2 * k), (a.T @ r) / k

    def full_grad(self, x: Any, client: int) -> Any:
        a, y = self._rows(client, None)
        return a.T @ (a @ self.xp.asarray(x, dtype=self.dtype) - y) / self.rows

    def hessian(self, client: int | None = None) -> Any:
        if client is None:
            return self._H
        a = self._A[client]
        return a.T @ a / self.rows

    def _clients_hessian_times(self, lo: int, hi: int, v: Any) -> Any:
        a = self._A[lo:hi]  # (clients, rows, d): A_c^T (A_c v) / m, summed over the block
        return self.xp.einsum("cmd,cm->d", a, a @ v) / self.rows

    def diag_hessian(self, client: int | None = None) -> Any:
        if client is None:
            return self.xp.diagonal(self._H).copy()
        return (self._A[client] ** 2).sum(axis=0) / self.rows

    def _objective64(self, x: np.ndarray) -> float:
        # From the residual rather than the expanded quadratic: no cancellation when f* ~ 0.
        r = self._a64 @ x - self._y64
        return float(r @ r) / (2 * len(r))

    def client_objective(self, x: Any, client: int) -> float:
        """f_i(x) in float64."""
        rows = slice(client * self.rows, (client + 1) * self.rows)
        r = self._a64[rows] @ self._host64(x) - self._y64[rows]
        return float(r @ r / (2 * self.rows))

    def client_sizes(self) -> np.ndarray:
        return np.full(self.num_clients, self.rows, dtype=np.int64)
