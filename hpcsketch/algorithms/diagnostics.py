"""Diagnostics of compressed methods, measured on the round's dense aggregate.

The method itself never sends the dense aggregate, so these run in
``Algorithm.diagnostics`` (outside the round's timing, with one extra dense
Allreduce counted under the "diagnostic" category, not in ``bytes_mpi``) every
``[run] diagnostics_every`` rounds. They depend on nothing but the round, so
any diagnostics interval gives the same values for the rounds it measures.

* ``grad_sparsity``: sp(p) = ||p||_1^2 / (||p||_2^2 d) of the round's aggregated
  vector p (Tang et al.: 1 for a flat vector, 1/d for a 1-sparse one; CS-SGD's
  theory needs sp(p) <= O(K/d));
* ``topk_energy``: ||H_k(p)||^2 / ||p||^2, how much of p its k largest entries hold;
* ``recovery_error``: ||R(C(p)) - H_k(p)|| / ||H_k(p)||, recovering p's top-k from
  p's own compressed form with the method's operator and recovery (one shot, no
  error feedback): does this compression level carry this round's signal?
  (For a plain transpose desketch, against p itself.)
"""

from __future__ import annotations

from typing import Any, Callable


def sparsity_ratio(xp: Any, p: Any) -> float:
    """sp(p) = ||p||_1^2 / (||p||_2^2 d)."""
    with _quiet(xp):
        l2 = float(xp.dot(p, p))
        if not l2 > 0.0 or l2 == float("inf"):
            return float("nan")
        l1 = float(xp.abs(p).sum())
        return l1 * l1 / (l2 * p.size)


def relative_error(xp: Any, got: Any, want: Any) -> float:
    with _quiet(xp):
        den = float(xp.linalg.norm(want))
        return float(xp.linalg.norm(got - want)) / den if den > 0 else float("nan")


def global_sum(alg: Any, local: Any) -> Any:
    """Sum over ranks of a dense per-rank vector (a copy; zeros for a rank with no client)."""
    buf = alg.xp.zeros(alg.d, dtype=alg.x.dtype) if local is None else local.astype(alg.x.dtype, copy=True)
    alg.comm.allreduce(buf)
    return buf


def record_recovery(alg: Any, p: Any, recover: Callable[[Any], Any], k: int | None) -> None:
    """Record the three diagnostics of the round's aggregate ``p`` (see the module docstring)."""
    from hpcsketch.kernels.topk import hard_threshold

    xp = alg.xp
    alg.metrics.set("grad_sparsity", sparsity_ratio(xp, p))
    if k is None:
        target = p
    else:
        target = hard_threshold(p, k)
        with _quiet(xp):
            total = float(xp.dot(p, p))
            alg.metrics.set("topk_energy", float(xp.dot(target, target)) / total if total > 0 else float("nan"))
    alg.metrics.set("recovery_error", relative_error(xp, recover(p), target))


def _quiet(xp: Any) -> Any:
    """A diverging run's vectors overflow; its diagnostics are NaN, not warnings."""
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore")
