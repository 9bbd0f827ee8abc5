"""Shared machinery of the generated problems whose mean loss is an exact quadratic.

For the quadratic testbed and least squares, f(x) = mean_i f_i(x) =
1/2 x^T H x - b^T x + c with a known mean Hessian H, so the minimiser, the optimal
value and the suboptimality gap are exact. Those are kept on the host in float64;
``gap`` is computed as 1/2 (x - x*)^T H (x - x*), which equals f(x) - f* at a
stationary x* and keeps its precision when the gap is far below f*.

Device-side helpers (``grad``, ``full_grad``, ``hessian``, ``diag_hessian``) return
arrays of the run's backend in the problem's dtype; exact quantities
(``x_star``, ``f_star``, ``objective``, ``evaluate``) are float64 on the host.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Mapping

import numpy as np

from hpcsketch import seeding
from hpcsketch.backend import Backend
from hpcsketch.errors import BadInput
from hpcsketch.problems.base import Problem
from hpcsketch.problems.options import read_options

EVAL_KEYS = ("loss_sum", "count", "gap", "dist", "grad_norm")


class QuadraticObjective(Problem):
    """Base of problems with f(x) = 1/2 x^T H x - b^T x + c (the mean over clients)."""

    @classmethod
    def size_problem(cls, problem: Mapping[str, Any], clients: int) -> tuple[str, str] | None:
        """(field, what is wrong) when the generated data would not fit; checked by validation and
        again when the problem is built, before anything is allocated."""
        return None

    def _check_size(self) -> None:
        problem = self.size_problem({**{o.name: o.default for o in self.options}, **self.values}, self.num_clients)
        if problem:
            raise BadInput(problem[1], field=problem[0].split(" = ")[0])  # the key; the value is in the message

    #: float64 host copies of the mean quadratic and its minimiser (set by subclasses)
    x_star: np.ndarray
    f_star: float

    def __init__(self, opts: Mapping[str, Any], clients: Mapping[str, Any], backend: Backend, seed: int):
        super().__init__(opts, clients, backend, seed)
        self.values = read_options(self.options, self.opts)
        self.dim = int(self.values["dim"])
        self.dtype = self.xp.dtype(self.values["dtype"])
        self.noise = float(self.values["noise"])

    def _set_mean(self, hessian: np.ndarray, b: np.ndarray, c: float, x_star: np.ndarray) -> None:
        """Record the mean quadratic (float64) and its minimiser; device copies for ``grad``."""
        self._H64, self._b64, self._c64 = hessian, b, float(c)
        self.x_star = x_star
        self.f_star = float(self._objective64(x_star))
        self._H = self.xp.asarray(hessian, dtype=self.dtype)
        self._b = self.xp.asarray(b, dtype=self.dtype)

    # -- exact, float64 ------------------------------------------------------------------
    def _objective64(self, x: np.ndarray) -> float:
        return float(0.5 * x @ (self._H64 @ x) - self._b64 @ x + self._c64)

    def _host64(self, x: Any) -> np.ndarray:
        return self.backend.asnumpy(x).astype(np.float64)

    def objective(self, x: Any) -> float:
        """f(x) = mean_i f_i(x), in float64."""
        return self._objective64(self._host64(x))

    def gap(self, x: Any) -> float:
        """f(x) - f*, as 1/2 (x - x*)^T H (x - x*) (exact for a quadratic, no cancellation)."""
        e = self._host64(x) - self.x_star
        return float(0.5 * e @ (self._H64 @ e))

    def evaluate(self, x: Any, part: int = 0, nparts: int = 1) -> dict[str, float]:
        if not 0 <= part < nparts:
            raise ValueError(f"part {part} is not in 0..{nparts - 1}")
        if part != 0:  # one "sample": the exact objective, reported once so sums over parts stay right
            return {k: 0.0 for k in EVAL_KEYS}
        x64 = self._host64(x)
        e = x64 - self.x_star
        return {
            "loss_sum": self._objective64(x64),
            "count": 1.0,
            "gap": float(0.5 * e @ (self._H64 @ e)),
            "dist": float(np.linalg.norm(e)),
            "grad_norm": float(np.linalg.norm(self._H64 @ x64 - self._b64)),
        }

    # -- on the device -------------------------------------------------------------------
    def grad(self, x: Any) -> Any:
        """grad f(x) = H x - b (the mean of the clients' exact gradients)."""
        return self._H @ self.xp.asarray(x, dtype=self.dtype) - self._b

    @abstractmethod
    def full_grad(self, x: Any, client: int) -> Any:
        """Client ``client``'s exact gradient (no sampling, no noise)."""

    @abstractmethod
    def hessian(self, client: int | None = None) -> Any:
        """Client ``client``'s Hessian (d, d); the mean Hessian when ``client`` is None."""

    @abstractmethod
    def diag_hessian(self, client: int | None = None) -> Any:
        """The diagonal of :meth:`hessian` (d,)."""

    has_hvp = True

    def hvp(self, x: Any, v: Any, part: int = 0, nparts: int = 1, *, batch: int = 0, data: float | int = 1.0) -> Any:
        """(1/n) sum of L_i v over part ``part``'s block of clients (the Hessian does not depend on x;
        ``batch`` and ``data`` are not used)."""
        n = self.num_clients
        lo, hi = part * n // nparts, (part + 1) * n // nparts
        v = self.xp.asarray(v, dtype=self.dtype)
        if hi <= lo:
            return self.xp.zeros(self.dim, dtype=self.dtype)
        return self._clients_hessian_times(lo, hi, v) / n

    def _clients_hessian_times(self, lo: int, hi: int, v: Any) -> Any:
        """sum_{lo <= c < hi} hessian(c) @ v (subclasses with structure do it without d x d matrices)."""
        out = self.hessian(lo) @ v
        for c in range(lo + 1, hi):
            out += self.hessian(c) @ v
        return out

    def init_params(self) -> Any:
        """x0 ~ N(0, I/d) from the job seed (norm about 1; never x* = 0 of the interpolation case)."""
        x0 = seeding.rng(self.seed, "init").standard_normal(self.dim) / np.sqrt(self.dim)
        return self.xp.asarray(x0, dtype=self.dtype)

    def _add_noise(self, g: Any, key: int) -> Any:
        """Additive N(0, noise^2 I) gradient noise drawn from ``key`` (on the host: the same
        draws on NumPy and CuPy)."""
        if self.noise > 0:
            g += self.xp.asarray(self.noise * seeding.rng(key, "noise").standard_normal(self.dim), dtype=self.dtype)
        return g

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "f_star": self.f_star}


def orthogonal(gen: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian with the signs fixed)."""
    q, r = np.linalg.qr(gen.standard_normal((d, d)))
    return q * np.sign(np.diag(r))
