"""The quadratic testbed of IST (docs/methods.md, 'IST quadratic testbed'): f_i(x) = 1/2 x^T L_i x - b_i^T x.

Generated in float64 from the job seed:

* mean Hessian H = Q diag(lambda) Q^T, Q Haar-random orthogonal, lambda
  log-spaced in [1/condition, 1] (so L-smoothness of f is 1 and its condition
  number is exactly ``condition``);
* L_i = H^{1/2} ((1 - h) I + h M_i) H^{1/2} with h = ``hessian_heterogeneity`` and
  M_i = Zbar^{-1/2} Z_i Zbar^{-1/2}, Z_i = G_i G_i^T / d Wishart: every M_i is PSD
  and mean_i M_i = I exactly, so every L_i is symmetric PSD and mean_i L_i = H
  whatever h (h = 0: all L_i = H; h = 1: fully client-specific curvature);
* client minimisers x_i* = x_c + m u_i with x_c, u_i ~ N(0, I/d) and
  m = ``minimizer_heterogeneity``; b_i = L_i x_i*. With ``interpolation`` b_i = 0,
  so every f_i is minimised at x* = 0 (``minimizer_heterogeneity`` is then unused).

``loss_grad`` returns f_i(x) and L_i x - b_i plus N(0, noise^2 I) drawn from the key;
``batch_size`` is not used (there is no data to sample).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from hpcsketch import seeding
from hpcsketch.backend import Backend
from hpcsketch.problems.declarations import quadratic_size
from hpcsketch.problems.synthetic import QuadraticObjective, orthogonal


class Quadratic(QuadraticObjective):
    kind = "quadratic"
    size_problem = staticmethod(quadratic_size)

    def __init__(self, opts: Mapping[str, Any], clients: Mapping[str, Any], backend: Backend, seed: int):
        super().__init__(opts, clients, backend, seed)
        n, d = self.num_clients, self.dim
        h = float(self.values["hessian_heterogeneity"])
        self.homogeneous = h == 0 or n == 1
        self._check_size()
        gen = seeding.rng(self.seed, "quadratic")
        lam = np.geomspace(1.0 / float(self.values["condition"]), 1.0, d)
        q = orthogonal(gen, d)
        mean_h = (q * lam) @ q.T
        mean_h = 0.5 * (mean_h + mean_h.T)
        if self.homogeneous:
            hess = mean_h[None]  # one shared matrix, indexed by client 0
        else:
            root_h = (q * np.sqrt(lam)) @ q.T
            hess = self._client_hessians(gen, root_h, h, n, d)
        if self.values["interpolation"]:
            x_i = np.zeros((n, d))
        else:
            centre = gen.standard_normal(d) / np.sqrt(d)
            x_i = centre + float(self.values["minimizer_heterogeneity"]) * gen.standard_normal((n, d)) / np.sqrt(d)
        b = np.einsum("ijk,ik->ij", np.broadcast_to(hess, (n, d, d)), x_i)
        self._hess64 = hess
        self._b_i64 = b
        b_mean = b.mean(axis=0)
        x_star = np.linalg.solve(mean_h, b_mean)
        self._set_mean(mean_h, b_mean, 0.0, x_star)
        self._L = self.xp.asarray(hess, dtype=self.dtype)
        self._b_i = self.xp.asarray(b, dtype=self.dtype)

    @staticmethod
    def _client_hessians(gen: np.random.Generator, root_h: np.ndarray, h: float, n: int, d: int) -> np.ndarray:
        z = np.empty((n, d, d))
        for i in range(n):
            g = gen.standard_normal((d, d))
            z[i] = g @ g.T / d
        w, v = np.linalg.eigh(z.mean(axis=0))
        inv_root = (v / np.sqrt(w)) @ v.T
        m = inv_root @ z @ inv_root  # PSD each, mean exactly I
        hess = root_h @ ((1.0 - h) * np.eye(d) + h * m) @ root_h
        return 0.5 * (hess + hess.transpose(0, 2, 1))

    def _client(self, client: int) -> int:
        return 0 if self.homogeneous else client

    def loss_grad(self, x: Any, client: int, key: int) -> tuple[Any, Any]:
        x = self.xp.asarray(x, dtype=self.dtype)
        lx = self._L[self._client(client)] @ x
        b = self._b_i[client]
        loss = x @ (0.5 * lx - b)
        return loss, self._add_noise(lx - b, key)

    def full_grad(self, x: Any, client: int) -> Any:
        return self._L[self._client(client)] @ self.xp.asarray(x, dtype=self.dtype) - self._b_i[client]

    def hessian(self, client: int | None = None) -> Any:
        return self._H if client is None else self._L[self._client(client)]

    def diag_hessian(self, client: int | None = None) -> Any:
        return self.xp.diagonal(self.hessian(client)).copy()

    def _clients_hessian_times(self, lo: int, hi: int, v: Any) -> Any:
        if self.homogeneous:
            return (hi - lo) * (self._L[0] @ v)
        return (self._L[lo:hi] @ v).sum(axis=0)

    def client_objective(self, x: Any, client: int) -> float:
        """f_i(x) in float64."""
        x64 = self._host64(x)
        return float(0.5 * x64 @ (self._hess64[self._client(client)] @ x64) - self._b_i64[client] @ x64)

    def client_sizes(self) -> np.ndarray:
        return np.ones(self.num_clients, dtype=np.int64)
