"""Per-call overhead of ``Problem.loss_grad`` against a bare torch forward/backward.

    python -m hpcsketch.bench.problem_overhead [--kind mnist1d --model mlp --batch 32 --calls 3000]

Times, per call (median of ``--calls`` calls, interleaved so drift hits all alike):

* ``bare``: forward, cross-entropy, backward of the same model on one fixed batch
  (``model.zero_grad()`` first), the least a training step can do;
* ``bare+sample``: the same with a fresh minibatch drawn by ``torch.randperm`` from
  a client's rows each call, what a plain mpi4py + torch loop does;
* ``loss_grad``: the problem's call with ``x`` its own flat buffer (no copy);
* ``loss_grad+copy``: the same with ``x`` another array (one copy of d floats in).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from hpcsketch.backend import limit_cpu_threads, select_backend
from hpcsketch.problems import REGISTRY


def measure(calls: dict[str, Callable[[int], object]], n: int, sync: Callable[[], None]) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved round-robin."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for i in range(n):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn(i)
            sync()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="mnist1d")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    limit_cpu_threads(args.threads)
    backend = select_backend(args.backend)
    problem = REGISTRY.get(args.kind)(
        {"kind": args.kind, "model": args.model, "batch_size": args.batch}, {"count": args.clients, "partition": "iid"}, backend, 0
    )
    dev = backend.torch_device
    model = copy.deepcopy(problem.model).to(dev)
    xs, ys = problem.batch(0, 0)
    xb, yb = xs.clone(), ys.clone()
    size = int(problem.client_sizes()[0])
    rows_x, rows_y = problem.x_train[:size], problem.y_train[:size]

    def bare(_: int) -> None:
        model.zero_grad()
        F.cross_entropy(model(xb), yb).backward()

    def bare_sample(_: int) -> None:
        idx = torch.randperm(size, device=dev)[: args.batch]
        model.zero_grad()
        F.cross_entropy(model(rows_x[idx]), rows_y[idx]).backward()

    x_own = problem.params
    x_other = problem.init_params()

    def loss_grad(i: int) -> None:
        problem.loss_grad(x_own, i % args.clients, i)

    def loss_grad_copy(i: int) -> None:
        problem.loss_grad(x_other, i % args.clients, i)

    calls = {"bare": bare, "bare+sample": bare_sample, "loss_grad": loss_grad, "loss_grad+copy": loss_grad_copy}
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    measure(calls, max(50, args.calls // 10), sync)  # warm-up
    med = measure(calls, args.calls, sync)
    print(f"{args.kind}/{args.model} batch {args.batch}, d = {problem.dim}, {backend.name}, {args.threads} thread(s)")
    for name, t in med.items():
        print(f"  {name:15s} median {t * 1e6:8.1f} us   ratio to bare {t / med['bare']:.3f}   to bare+sample {t / med['bare+sample']:.3f}")
    return med


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
