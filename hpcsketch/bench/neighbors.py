"""``hpcsketch bench comm --ops neighbor_allgather:<topology>``: neighbour collectives per topology
against an Allreduce of the same bytes, in the same run.

For each message size s (the bytes every rank sends, i.e. a model of s bytes
being gossiped), three calls are interleaved on the same buffer, twice, and the
faster repetition of each is kept: the harness's ``NeighborComm.neighbor_allgather``
(cycling through the period's graphs for a time-varying topology), the raw
mpi4py ``Neighbor_allgather`` on the same distributed-graph communicator (their
ratio is the harness's overhead), and the harness's Allreduce of s bytes (what
a data-parallel method sends for the same model). Every call is timed on its
own so medians are reported too: ``vs_allreduce`` is the ratio of the
neighbour collective's median to the Allreduce's (below 1: gossip is cheaper
per round than a global average).

``<topology>`` is a ``[topology] kind`` or ``all`` (every kind that fits the
world size), with Metropolis weights and default options.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np

from hpcsketch.bench.comm import _h, iterations, timing_row
from hpcsketch.comm.neighbor import NeighborComm
from hpcsketch.errors import BadInput
from hpcsketch.topology import REGISTRY
from hpcsketch.topology.network import build, node_problem

DEFAULT_OPTS = {"weights": "metropolis"}


def topologies(op: str, nodes: int) -> list[str]:
    """The kinds named by ``neighbor_allgather:<kind>`` (``all``: every kind that fits ``nodes``)."""
    _, _, kind = op.partition(":")
    if kind == "all":
        return [k for k in REGISTRY.names() if node_problem(k, nodes, DEFAULT_OPTS) is None]
    if kind not in REGISTRY:
        raise BadInput(f"expected neighbor_allgather:<topology> with a topology of {', '.join(REGISTRY.names())} or all, got {op!r}",
                       field="--ops")
    return [kind]


def _per_call(fn: Callable[[], Any], warmup: int, iters: int, sync: Callable[[], None], barrier: Callable[[], None]) -> np.ndarray:
    """Seconds of each of ``iters`` calls after ``warmup`` untimed ones (ranks start together)."""
    for _ in range(warmup):
        fn()
    sync()
    barrier()
    out = np.empty(iters)
    for i in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        out[i] = time.perf_counter() - t0
    return out


def _cycle(calls: list[Callable[[], Any]]) -> Callable[[], Any]:
    state = {"t": 0}

    def call() -> Any:
        f = calls[state["t"] % len(calls)]
        state["t"] += 1
        return f()

    return call


def bench_topology(kind: str, nbytes: int, comm: Any, backend: Any, comms: list[NeighborComm], scale: float = 1.0) -> dict[str, Any]:
    """One topology, one size: neighbour allgather (harness and raw) and Allreduce of the same bytes."""
    from mpi4py import MPI

    mpi = comm.mpi
    xp = backend.xp
    per_rank = max(1, nbytes // 4)
    size = per_rank * 4
    send = xp.zeros(per_rank, dtype=np.float32)  # zeros: repeated in-place sums stay finite
    recv = [xp.empty(nc.indegree * per_rank, dtype=np.float32) for nc in comms]
    warmup, iters = iterations(size)
    iters = max(3, int(iters * scale))
    warmup = max(1, int(warmup * scale))
    sync, barrier = backend.synchronize, mpi.Barrier
    harness = _cycle([lambda nc=nc: nc.neighbor_allgather(send) for nc in comms])
    raw = None if backend.is_gpu and comm.staged else _cycle(
        [lambda nc=nc, r=r: nc.mpi.Neighbor_allgather(send, r) for nc, r in zip(comms, recv)])
    allreduce = lambda: comm.allreduce(send)  # noqa: E731
    best: dict[str, np.ndarray] = {}
    for _ in range(2):  # interleaved, so drift hits all three alike; the faster repetition is kept
        for name, fn in (("raw", raw), ("neighbor", harness), ("allreduce", allreduce)):
            if fn is None:
                continue
            t = _per_call(fn, warmup, iters, sync, barrier)
            if name not in best or t.mean() < best[name].mean():
                best[name] = t
    nan = np.full(iters, np.nan)
    local = np.array([best["neighbor"].mean(), best.get("raw", nan).mean(), np.median(best["neighbor"]),
                      np.median(best["allreduce"]), best["allreduce"].mean()])
    row, tavg = timing_row(mpi, local, size, iters, 1.0)  # busbw factor 1 for neighbour collectives
    degree = int(mpi.allreduce(max(nc.outdegree for nc in comms), op=MPI.MAX))
    return {
        "op": f"neighbor_allgather:{kind}",
        **row,
        "median_us": tavg[2] * 1e6,
        "allreduce_median_us": tavg[3] * 1e6,
        "allreduce_avg_us": tavg[4] * 1e6,
        "vs_allreduce": tavg[2] / tavg[3] if tavg[3] > 0 else float("nan"),
        "max_degree": degree,
    }


def bench_neighbors(op: str, sizes: list[int], comm: Any, backend: Any, iters_scale: float = 1.0,
                    quiet: bool = False) -> list[dict[str, Any]]:
    """Rows with ``bench_one``'s keys plus medians, the Allreduce of the same bytes and their ratio."""
    rank = comm.rank
    kinds = topologies(op, comm.size)
    nets = {k: build(k, comm.size, DEFAULT_OPTS) for k in kinds}  # bad input fails here, before any collective
    rows = []
    for kind, net in nets.items():
        comms = [NeighborComm(comm, g.sources[rank], g.destinations[rank]) for g in net.graphs]
        for s in sizes:
            r = bench_topology(kind, s, comm, backend, comms, iters_scale)
            rows.append(r)
            if rank == 0 and not quiet:
                print(f"[bench comm] {r['op']:32s} {_h(r['bytes']):>8s}  median {r['median_us']:10.1f} us  "
                      f"allreduce {r['allreduce_median_us']:10.1f} us  ratio {r['vs_allreduce']:.3f}", file=sys.stderr, flush=True)
        for nc in comms:
            nc.free()
    if rank == 0:
        _print_comparison(rows, comm.size)
    return rows


def _print_comparison(rows: list[dict[str, Any]], n: int) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"neighbour allgather vs allreduce of the same bytes ({n} ranks; per call, mean over ranks of each rank's median)")
    for col in ("topology", "max degree", "size", "neighbour median us", "allreduce median us", "neighbour / allreduce", "harness/raw"):
        t.add_column(col, justify="left" if col == "topology" else "right")
    for r in rows:
        t.add_row(r["op"].partition(":")[2], str(r["max_degree"]), _h(r["bytes"]), f"{r['median_us']:.1f}",
                  f"{r['allreduce_median_us']:.1f}", f"{r['vs_allreduce']:.3f}", f"{r['overhead']:.3f}")
    Console(width=160).print(t)
