"""FIHT (fast iterative hard thresholding, Wei 2014) as Tang et al.'s code runs it.

Line by line docs/methods.md, 'FIHT' (H_K keeps the K largest entries, P_S restricts to S)::

    g = H_K(Phi^T z); g_prev = g
    repeat (at most max_iter times):
        first iteration: w = g
        else: v = Phi (g - g_prev); tau = <z - Phi g, v> / ||v||^2; w = g + tau (g - g_prev)
        r_w = Phi^T (z - Phi w)
        a = ||P_supp(w) r_w||^2 / ||Phi P_supp(w) r_w||^2
        g_prev = g; g = H_K(w + a r_w)
        r = Phi^T (z - Phi g); S = supp(g)
        g = g + (||P_S r||^2 / ||Phi P_S r||^2) P_S r      # one step on the support
        stop when ||z - Phi g|| <= tol ||z|| or the relative spread of the last 4
        residuals is below ``spread`` (1e-2)

An operator Phi = Psi D with a random +-1 diagonal D (``split_signs``) is run as
Psi: H_K commutes with D and every step's arithmetic only flips signs, so the
iterates are D times the ones for Phi, bit for bit; the result is flipped back
once. That saves a sign pass over d entries in each product.

Phi is linear, so Phi g, Phi g_prev and Phi w are kept and updated from products
already computed (``Phi w = Phi g + tau v``; after the support step
``Phi g += step * Phi P_S r``): each iteration costs 2 adjoints + 3 forwards and 2
selections. Works on any operator with ``forward``/``adjoint`` on NumPy or CuPy.

Everything else is kept to a few passes over memory. The vectors live in buffers
allocated once per call (g and g_prev take turns in two of them). The K-sparse
ones (g, g_prev, w) stay dense arrays that are zero off a support list carried
along (ascending indices), so extrapolating, restricting a residual to a support,
the support step and re-zeroing a buffer cost O(K), not O(d); ``H_K(w + a r_w)``
is one pass over w and r_w that writes only the K survivors. An operator whose
``forward`` takes ``out=`` and ``support=`` (the subsampled transforms) writes its
products into the buffers and reads a restricted residual at its support only;
``adjoint`` with ``out=`` likewise. The squared norms of the restricted residuals,
the measurement-space dot products and the residual norms are float64 sums on the
CPU, fused with the updates they follow.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from hpcsketch.kernels._dispatch import array_module
from hpcsketch.kernels.topk import hard_threshold_support
from hpcsketch.kernels.vector import (
    axpy, axpy_masked_at, diff_dots, extrapolate_at, residual, restrict_at, union_sorted, zero_at,
)


@dataclass
class FIHTResult:
    x: Any  # the K-sparse estimate, shape (d,)
    iterations: int
    residuals: list[float] = field(default_factory=list)  # ||z - Phi g|| after each iteration
    stopped: str = ""  # "tiny", "stalled" or "max_iter"


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _takes(fn: Callable[..., Any], *names: str) -> tuple[bool, ...]:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    return tuple(name in params for name in names)


class _Products:
    """Phi and Phi^T of one operator, written into the caller's buffers where the
    operator takes ``out=``, and Phi of a restricted vector read at its support
    only where ``forward`` takes ``support=`` (else through a dense masked copy)."""

    def __init__(self, operator: Any, like: Any):
        self.op = operator
        self.fwd_out, self.sparse = _takes(operator.forward, "out", "support")
        (self.adj_out,) = _takes(operator.adjoint, "out")
        self.like = like
        self.dense: Any = None  # the masked copy, for operators without support=

    def forward(self, x: Any, out: Any, support: Any = None) -> Any:
        kw = {}
        if self.fwd_out:
            kw["out"] = out
        if self.sparse and support is not None:
            kw["support"] = support
        return self.op.forward(x, **kw)

    def adjoint(self, y: Any, out: Any) -> Any:
        return self.op.adjoint(y, out=out) if self.adj_out else self.op.adjoint(y)

    def restricted(self, x: Any, mask: Any, idx: Any, out: Any) -> tuple[Any, float]:
        """(Phi P x, ||P x||^2), P = restriction to the entries of idx where mask != 0
        (mask is 0 off idx; idx ascending)."""
        kept, sq = restrict_at(idx, mask, x)
        if self.sparse:
            return self.forward(x, out, kept), sq
        xp = array_module(x)
        if self.dense is None:
            self.dense = xp.zeros_like(self.like)
        self.dense[...] = 0
        self.dense[kept] = x[kept]
        return self.forward(self.dense, out), sq


def fiht(operator: Any, z: Any, k: int, *, max_iter: int = 25, tol: float = 1e-7, spread: float = 1e-2) -> FIHTResult:
    """K-sparse ``x`` with ``Phi x ~ z`` (``operator.forward`` = Phi, ``operator.adjoint`` = Phi^T)."""
    xp = array_module(z)
    split = getattr(operator, "split_signs", None)
    operator, signs = split() if split is not None else (operator, None)  # Phi = Psi D: run on Psi
    znorm = float(xp.linalg.norm(z))
    r = operator.adjoint(z)  # Phi^T of a residual: r_w, then r, each iteration
    phi = _Products(operator, r)
    gbuf = (xp.empty_like(r), xp.zeros_like(r))  # g and g_prev take turns ...
    support = hard_threshold_support(gbuf[0], r, k)
    supports = {0: support, 1: support[:0]}  # ... and each is zero off its support list
    g = gbuf[0]
    if znorm == 0.0:
        return FIHTResult(_unsplit(g, support, signs), 0, [0.0], "tiny")
    wbuf = xp.zeros_like(r)
    w_support = support[:0]
    phi_g = phi.forward(g, None, support)
    v, phi_p, phi_spare = xp.empty_like(phi_g), xp.empty_like(phi_g), xp.empty_like(phi_g)  # Phi g, Phi g_prev take turns
    res = xp.empty(z.shape, dtype=xp.result_type(z, phi_g))  # z - Phi (.)
    g_prev, phi_g_prev, prev_support = g, phi_g, support
    residuals: list[float] = []
    stopped = "max_iter"
    it = 0
    for it in range(1, max_iter + 1):
        if it == 1:
            w, w_supp = g, support
            residual(res, z, phi_g)
        else:
            cv, vv = diff_dots(v, phi_g, phi_g_prev, res)  # v = Phi (g - g_prev); res = z - Phi g
            tau = _ratio(cv, vv)
            zero_at(wbuf, w_support)
            w_support = w_supp = union_sorted(support, prev_support)  # w is 0 elsewhere
            w = extrapolate_at(wbuf, w_supp, g, g_prev, tau)  # g + tau (g - g_prev)
            residual(res, z, phi_g, tau, v)  # z - Phi w, Phi w = Phi g + tau v
        r_w = phi.adjoint(res, r)
        phi_pr, sq = phi.restricted(r_w, w, w_supp, phi_p)  # Phi P_supp(w) r_w, ||P_supp(w) r_w||^2
        a = _ratio(sq, float(xp.vdot(phi_pr, phi_pr)))
        g_prev, phi_g_prev, prev_support = g, phi_g, support
        slot = 1 if g_prev is gbuf[0] else 0
        g = zero_at(gbuf[slot], supports[slot])
        support = supports[slot] = hard_threshold_support(g, w, k, a=a, y=r_w, out_zero=True)  # H_K(w + a r_w)
        phi_g = phi.forward(g, phi_spare, support)
        phi_spare = phi_g_prev if phi_g_prev is not phi_g else phi_spare
        residual(res, z, phi_g)
        r = phi.adjoint(res, r)
        phi_pr, sq = phi.restricted(r, g, support, phi_p)  # Phi P_S r, ||P_S r||^2
        step = _ratio(sq, float(xp.vdot(phi_pr, phi_pr)))
        axpy_masked_at(g, support, step, r)  # g + step P_S r
        axpy(phi_g, phi_g, step, phi_pr)
        residuals.append(math.sqrt(residual(res, z, phi_g)))
        if residuals[-1] <= tol * znorm:
            stopped = "tiny"
            break
        if len(residuals) >= 4:
            last = residuals[-4:]
            if (max(last) - min(last)) / max(max(last), 1e-300) < spread:
                stopped = "stalled"
                break
    return FIHTResult(_unsplit(g, support, signs), it, residuals, stopped)


def _unsplit(g: Any, support: Any, signs: Any) -> Any:
    """D g for the estimate of Psi (g is 0 off support; D g exact: sign flips)."""
    if signs is not None and support.shape[0]:
        g[support] = g[support] * signs[support]
    return g
