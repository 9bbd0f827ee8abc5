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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpcsketch.kernels._dispatch import array_module
from hpcsketch.kernels.topk import hard_threshold


@dataclass
class FIHTResult:
    x: Any  # the K-sparse estimate, shape (d,)
    iterations: int
    residuals: list[float] = field(default_factory=list)  # ||z - Phi g|| after each iteration
    stopped: str = ""  # "tiny", "stalled" or "max_iter"


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def fiht(operator: Any, z: Any, k: int, *, max_iter: int = 25, tol: float = 1e-7, spread: float = 1e-2) -> FIHTResult:
    """K-sparse ``x`` with ``Phi x ~ z`` (``operator.forward`` = Phi, ``operator.adjoint`` = Phi^T)."""
    xp = array_module(z)
    fwd, adj = operator.forward, operator.adjoint
    znorm = float(xp.linalg.norm(z))
    g = hard_threshold(adj(z), k)
    if znorm == 0.0:
        return FIHTResult(g, 0, [0.0], "tiny")
    phi_g = fwd(g)
    g_prev, phi_g_prev = g, phi_g
    residuals: list[float] = []
    stopped = "max_iter"
    it = 0
    for it in range(1, max_iter + 1):
        if it == 1:
            w, phi_w = g, phi_g
        else:
            v = phi_g - phi_g_prev  # = Phi (g - g_prev)
            tau = _ratio(float(xp.vdot(z - phi_g, v)), float(xp.vdot(v, v)))
            w = g + tau * (g - g_prev)
            phi_w = phi_g + tau * v
        r_w = adj(z - phi_w)
        pr_w = xp.where(w != 0, r_w, 0)
        a = _ratio(float(xp.vdot(pr_w, pr_w)), float(xp.linalg.norm(fwd(pr_w)) ** 2))
        g_prev, phi_g_prev = g, phi_g
        g = hard_threshold(w + a * r_w, k)
        phi_g = fwd(g)
        r = adj(z - phi_g)
        pr = xp.where(g != 0, r, 0)
        phi_pr = fwd(pr)
        step = _ratio(float(xp.vdot(pr, pr)), float(xp.vdot(phi_pr, phi_pr)))
        g = g + step * pr
        phi_g = phi_g + step * phi_pr
        residuals.append(float(xp.linalg.norm(z - phi_g)))
        if residuals[-1] <= tol * znorm:
            stopped = "tiny"
            break
        if len(residuals) >= 4:
            last = residuals[-4:]
            if (max(last) - min(last)) / max(max(last), 1e-300) < spread:
                stopped = "stalled"
                break
    return FIHTResult(g, it, residuals, stopped)
