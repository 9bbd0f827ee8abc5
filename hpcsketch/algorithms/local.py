"""Local training on one client: the piece local SGD, SCAFFOLD, FedAvg-M, Sketch-DL and DSGD share."""

from __future__ import annotations

from typing import Any

from hpcsketch.algorithms.base import Algorithm


def local_steps(alg: Algorithm, client: int, t: int, x0: Any, steps: int, lr: float,
                correction: Any = None, direction: Any = None, beta: float = 1.0, out: Any = None) -> Any:
    """``steps`` SGD steps of ``client`` from ``x0``; returns the local model y.

    ``y <- y - lr * (beta * (g(y) + correction) + (1 - beta) * direction)``:
    ``correction`` is SCAFFOLD's ``c - c_i``; ``direction`` and ``beta`` are
    FedAvg-M's momentum (beta = 1: plain local SGD). Minibatches are keyed by
    (round, client, step) so the result does not depend on the rank.
    """
    if out is None:
        y = x0.copy()
    else:
        y = out
        y[...] = x0
    for k in range(steps):
        g = alg.client_gradient(y, client, t, k)
        if correction is not None:
            g += correction
        if direction is not None and beta != 1.0:
            g *= beta
            g += (1.0 - beta) * direction
        y -= lr * g
    return y
