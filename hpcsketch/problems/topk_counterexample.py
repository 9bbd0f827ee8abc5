"""A 3-client quadratic on which top-1 compression without error feedback diverges
(in the spirit of Beznosikov et al. 2023, Example 1), while EF / EF21 converge.

f_i(x) = 1/2 x^T L_i x with L_i = a I + v_i v_i^T (positive definite), x* = 0.
On the diagonal x = t(1,1,1) the clients' gradients are t a_i with
a_1 = (-4, 3.5, 3.5), a_2 = (3.5, -4, 3.5), a_3 = (3.5, 3.5, -4): their mean is
t(1,1,1) (gradient descent converges), but each one's largest entry is its -4,
so the mean of the top-1 compressed gradients is -(4/3) t(1,1,1) and
x <- x - gamma * that = (1 + 4 gamma / 3) x grows for every step size.

Derivation of L_1 (the others permute coordinates): with v = (p, q, q) and
s = p + 2q, L_1 (1,1,1) = a (1,1,1) + s v must equal a_1, i.e. a + s p = -4 and
a + s q = 3.5. Taking s = 1 gives q = 17/6, p = -14/3 and a = 2/3 > 0.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from hpcsketch.backend import Backend
from hpcsketch.problems.base import Problem
from hpcsketch.problems.options import read_options
from hpcsketch.problems.synthetic import QuadraticObjective

A = 2.0 / 3.0
P, Q = -14.0 / 3.0, 17.0 / 6.0


def client_hessians() -> np.ndarray:
    hs = []
    for i in range(3):
        v = np.full(3, Q)
        v[i] = P
        hs.append(A * np.eye(3) + np.outer(v, v))
    return np.array(hs)


class TopKCounterexample(QuadraticObjective):
    kind = "topk_counterexample"

    def __init__(self, opts: Mapping[str, Any], clients: Mapping[str, Any], backend: Backend, seed: int):
        Problem.__init__(self, opts, clients, backend, seed)  # fixed instance: no generator options
        self.values = read_options(self.options, self.opts)
        self.dim, self.noise = 3, 0.0
        self.dtype = self.xp.dtype(self.values["dtype"])
        self._hess64 = client_hessians()
        mean_h = self._hess64.mean(axis=0)
        self._set_mean(mean_h, np.zeros(3), 0.0, np.zeros(3))
        self._L = self.xp.asarray(self._hess64, dtype=self.dtype)

    def init_params(self) -> Any:
        return self.xp.ones(3, dtype=self.dtype)  # on the diagonal, where top-1 pushes outwards

    def loss_grad(self, x: Any, client: int, key: int) -> tuple[Any, Any]:
        x = self.xp.asarray(x, dtype=self.dtype)
        lx = self._L[client] @ x
        return 0.5 * (x @ lx), lx

    def full_grad(self, x: Any, client: int) -> Any:
        return self._L[client] @ self.xp.asarray(x, dtype=self.dtype)

    def hessian(self, client: int | None = None) -> Any:
        return self._H if client is None else self._L[client]

    def diag_hessian(self, client: int | None = None) -> Any:
        return self.xp.diagonal(self.hessian(client)).copy()

    def client_sizes(self) -> np.ndarray:
        return np.ones(3, dtype=np.int64)
