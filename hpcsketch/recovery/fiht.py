"""FIHT (fast iterative hard thresholding, Wei 2014) as Tang et al.'s code runs it.

Line by line ALGORITHMS.md (H_K keeps the K largest entries, P_S restricts to S)::

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

Phi is linear, so Phi g, Phi g_prev and Phi w are kept and updated from products
already computed (``Phi w = Phi g + tau v``; after the support step
``Phi g += step * Phi P_S r``): each iteration costs 2 adjoints + 3 forwards and 2
selections. Works on any operator with ``forward``/``adjoint`` on NumPy or CuPy.

Everything else is kept to a few passes over memory: the vectors live in buffers
allocated once per call (g and g_prev take turns in two of them), the elementwise
steps are fused (``hpcsketch.kernels.vector``), hard thresholding writes into its
buffer, and an operator whose ``forward``/``adjoint`` take ``out=`` (the subsampled
transforms) writes its products there too instead of allocating. The squared norms
of the restricted residuals are summed in float64 on the CPU.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from hpcsketch.kernels._dispatch import array_module
from hpcsketch.kernels.topk import hard_threshold, hard_threshold_axpy
from hpcsketch.kernels.vector import axpy, axpy_at, extrapolate, masked


@dataclass
class FIHTResult:
    x: Any  # the K-sparse estimate, shape (d,)
    iterations: int
    residuals: list[float] = field(default_factory=list)  # ||z - Phi g|| after each iteration
    stopped: str = ""  # "tiny", "stalled" or "max_iter"


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _into(fn: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """``fn(v, out)``: the product written into ``out`` where ``fn`` takes ``out=``, else a new array."""
    try:
        takes_out = "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_out = False
    if takes_out:
        return lambda v, out: fn(v, out=out)
    return lambda v, out: fn(v)


def fiht(operator: Any, z: Any, k: int, *, max_iter: int = 25, tol: float = 1e-7, spread: float = 1e-2) -> FIHTResult:
    """K-sparse ``x`` with ``Phi x ~ z`` (``operator.forward`` = Phi, ``operator.adjoint`` = Phi^T)."""
    xp = array_module(z)
    fwd, adj = _into(operator.forward), _into(operator.adjoint)
    znorm = float(xp.linalg.norm(z))
    r = adj(z, None)  # Phi^T of a residual: r_w, then r, each iteration
    gbuf = (xp.empty_like(r), xp.empty_like(r))  # g and g_prev take turns
    g = hard_threshold(r, k, out=gbuf[0])
    if znorm == 0.0:
        return FIHTResult(g, 0, [0.0], "tiny")
    wbuf, p = xp.empty_like(r), xp.empty_like(r)  # w; a residual restricted to a support
    phi_g = fwd(g, None)
    v, phi_p, phi_wbuf = xp.empty_like(phi_g), xp.empty_like(phi_g), xp.empty_like(phi_g)
    phi_spare = xp.empty_like(phi_g)  # Phi g and Phi g_prev take turns with it
    res = xp.empty(z.shape, dtype=xp.result_type(z, phi_g))  # z - Phi (.)
    g_prev, phi_g_prev = g, phi_g
    residuals: list[float] = []
    stopped = "max_iter"
    it = 0
    for it in range(1, max_iter + 1):
        if it == 1:
            w, phi_w = g, phi_g
        else:
            xp.subtract(phi_g, phi_g_prev, out=v)  # = Phi (g - g_prev); res = z - Phi g from the last check
            tau = _ratio(float(xp.vdot(res, v)), float(xp.vdot(v, v)))
            w = extrapolate(wbuf, g, g_prev, tau)
            phi_w = axpy(phi_wbuf, phi_g, tau, v)
        r_w = adj(xp.subtract(z, phi_w, out=res), r)
        sq = masked(p, w, r_w)  # P_supp(w) r_w
        phi_pr = fwd(p, phi_p)
        a = _ratio(sq, float(xp.vdot(phi_pr, phi_pr)))
        g_prev, phi_g_prev = g, phi_g
        g = gbuf[1] if g_prev is gbuf[0] else gbuf[0]
        support = hard_threshold_axpy(w, a, r_w, k, out=g)  # g = H_K(w + a r_w); g is 0 off support
        phi_g = fwd(g, phi_spare)
        phi_spare = phi_g_prev if phi_g_prev is not phi_g else phi_spare
        r = adj(xp.subtract(z, phi_g, out=res), r)
        sq = masked(p, g, r)  # P_S r
        phi_pr = fwd(p, phi_p)
        step = _ratio(sq, float(xp.vdot(phi_pr, phi_pr)))
        axpy_at(g, support, g, step, p)  # g + step P_S r: p is 0 off the support
        axpy(phi_g, phi_g, step, phi_pr)
        residuals.append(float(xp.linalg.norm(xp.subtract(z, phi_g, out=res))))
        if residuals[-1] <= tol * znorm:
            stopped = "tiny"
            break
        if len(residuals) >= 4:
            last = residuals[-4:]
            if (max(last) - min(last)) / max(max(last), 1e-300) < spread:
                stopped = "stalled"
                break
    return FIHTResult(g, it, residuals, stopped)
