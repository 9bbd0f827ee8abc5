"""Diagnostics of what a compressed method recovers, against the dense vector it aims at.

They need the dense aggregate, which the method itself never sends, so they run
in ``Algorithm.diagnostics`` (outside the round's timing, with an extra
Allreduce counted under the "diagnostic" category, not in ``bytes_mpi``), every
``[run] diagnostics_every`` rounds.
"""

from __future__ import annotations

from typing import Any

from hpcsketch.kernels.topk import hard_threshold


def sparsity_ratio(xp: Any, p: Any) -> float:
    """sp(p) = ||p||_1^2 / (||p||_2^2 d): 1 for a flat vector, 1/d for a 1-sparse one (Tang et al.)."""
    l2 = float(xp.dot(p, p))
    if l2 == 0.0:
        return float("nan")
    l1 = float(xp.abs(p).sum())
    return l1 * l1 / (l2 * p.size)


def relative_error(xp: Any, got: Any, want: Any) -> float:
    den = float(xp.linalg.norm(want))
    return float(xp.linalg.norm(got - want)) / den if den > 0 else float("nan")


def global_sum(alg: Any, local: Any) -> Any:
    """Sum over ranks of a dense per-rank vector (a copy; zeros for a rank with no client)."""
    buf = alg.xp.zeros(alg.d, dtype=alg.x.dtype) if local is None else local.astype(alg.x.dtype, copy=True)
    alg.comm.allreduce(buf)
    return buf


def record_recovery(alg: Any, p: Any, recovered: Any, k: int | None) -> None:
    """grad_sparsity = sp(p); recovery_error = ||recovered - H_k(p)|| / ||H_k(p)|| (p itself when k is None)."""
    xp = alg.xp
    alg.metrics.set("grad_sparsity", sparsity_ratio(xp, p))
    target = p if k is None else hard_threshold(p, k)
    alg.metrics.set("recovery_error", relative_error(xp, recovered, target))
