"""``hpcsketch bench comm``: collectives through the comm layer against raw mpi4py.

OSU-style: for each message size, warm up, then time ``iters`` calls on every
rank and report min / avg / max over ranks of the mean time per call. Bandwidth
follows nccl-tests: ``algbw = size / time`` and ``busbw = algbw * factor`` with
factor 2(n-1)/n for Allreduce, (n-1)/n for Allgather and Reduce_scatter (size
being the whole gathered / reduced buffer), 1 for Bcast and for neighbour
collectives. The harness's Communicator call and the raw ``mpi4py`` call on the
same buffer are interleaved in the same run, so their ratio is the harness's
overhead, free of run-to-run noise.

Run under a launcher (``mpiexec -n 4 hpcsketch bench comm``) or let it launch
one (``hpcsketch bench comm -n 4``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

import numpy as np

from hpcsketch.bench import create_output, output_path
from hpcsketch.errors import BadInput

OPS = ("allreduce", "allgather", "reduce_scatter", "bcast")


def parse_size(text: str) -> int:
    """``4``, ``64K``, ``1M``, ``256MiB`` -> bytes (K/M/G are powers of two, as message sizes are)."""
    t = text.strip().upper().replace("IB", "").replace("B", "")
    mult = 1
    for suffix, m in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
        if t.endswith(suffix):
            mult, t = m, t[:-1]
            break
    try:
        value = int(float(t) * mult)
    except ValueError:
        raise BadInput(f"expected a size like 4, 64K, 1M, 256M; got {text!r}", field="--min-bytes/--max-bytes") from None
    if value < 1:
        raise BadInput(f"expected a positive size, got {text!r}", field="--min-bytes/--max-bytes")
    return value


def bus_factor(op: str, n: int) -> float:
    if n == 1:
        return 1.0
    return {"allreduce": 2 * (n - 1) / n, "allgather": (n - 1) / n, "reduce_scatter": (n - 1) / n}.get(op, 1.0)


def iterations(nbytes: int, budget_bytes: int = 1 << 28, lo: int = 5, hi: int = 1000) -> tuple[int, int]:
    """(warm-up, timed) iterations: many for small messages, few for large ones."""
    iters = int(min(hi, max(lo, budget_bytes // max(nbytes, 1))))
    return max(2, iters // 10), iters


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ops", default=",".join(OPS), help=f"comma-separated collectives (default: {','.join(OPS)}; "
                   "neighbor_allgather:<topology> where topologies are available)")
    p.add_argument("--min-bytes", default="4", help="smallest message (default 4)")
    p.add_argument("--max-bytes", default="64M", help="largest message (default 64M; up to 256M and beyond)")
    p.add_argument("--buffers", choices=("host", "device", "both"), default="host",
                   help="NumPy host buffers, CuPy device buffers (CUDA-aware MPI or staged through host), or both")
    p.add_argument("--iters-scale", type=float, default=1.0, help="scale the iteration counts (smaller: quicker, noisier)")
    p.add_argument("--out", default=None, help="HDF5 file for the results (default: results/bench-comm-<time>.h5)")
    p.add_argument("-n", "--ranks", type=int, default=None, help="outside a launcher: start this many ranks with mpiexec")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def _raw_call(op: str, mpi: Any, send: Any, recv: Any, counts: list[int] | None) -> Callable[[], None]:
    from mpi4py import MPI

    if op == "allreduce":
        # in place, as the harness does (IN_PLACE and out-of-place can differ in cost)
        return lambda: mpi.Allreduce(MPI.IN_PLACE, recv, op=MPI.SUM)
    if op == "allgather":
        return lambda: mpi.Allgather(send, recv)
    if op == "reduce_scatter":
        return lambda: mpi.Reduce_scatter(send, recv, recvcounts=counts, op=MPI.SUM)
    if op == "bcast":
        return lambda: mpi.Bcast(send, root=0)
    raise ValueError(op)


def _harness_call(op: str, comm: Any, send: Any) -> Callable[[], Any]:
    if op == "allreduce":
        return lambda: comm.allreduce(send)
    if op == "allgather":
        return lambda: comm.allgather(send)
    if op == "reduce_scatter":
        return lambda: comm.reduce_scatter(send)
    if op == "bcast":
        return lambda: comm.bcast(send)
    raise ValueError(op)


def _time(fn: Callable[[], Any], warmup: int, iters: int, sync: Callable[[], None], barrier: Callable[[], None]) -> float:
    for _ in range(warmup):
        fn()
    sync()
    barrier()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - t0) / iters


def bench_one(op: str, nbytes: int, comm: Any, backend: Any, scale: float = 1.0) -> dict[str, float]:
    """Time the harness call and the raw mpi4py call on the same buffers; stats over ranks."""
    mpi = comm.mpi
    n = comm.size
    xp = backend.xp
    # message size as nccl-tests counts it: the whole buffer (gathered output for allgather)
    if op == "allgather":
        per_rank = max(1, nbytes // 4 // n)
        size = per_rank * 4 * n
    else:
        per_rank = max(1, nbytes // 4)
        size = per_rank * 4
    send = xp.zeros(per_rank, dtype=np.float32)  # zeros: repeated in-place sums stay finite
    counts = None
    if op == "allreduce":
        recv = xp.zeros_like(send)
    elif op == "allgather":
        recv = xp.empty(per_rank * n, dtype=np.float32)
    elif op == "reduce_scatter":
        from hpcsketch.comm.reduce_scatter import block_counts

        counts = block_counts(per_rank, n)
        recv = xp.empty(counts[comm.rank], dtype=np.float32)
    else:
        recv = None
    warmup, iters = iterations(size)
    iters = max(3, int(iters * scale))
    warmup = max(1, int(warmup * scale))
    sync = backend.synchronize
    if backend.is_gpu and comm.staged:
        raw = None  # raw mpi4py cannot take device pointers here; the harness stages
    else:
        raw = _raw_call(op, mpi, send, recv, counts)
    harness = _harness_call(op, comm, send)
    # interleave: raw, harness, raw, harness -- the medians of two pairs cancel drift
    times_raw, times_h = [], []
    for _ in range(2):
        if raw is not None:
            times_raw.append(_time(raw, warmup, iters, sync, mpi.Barrier))
        times_h.append(_time(harness, warmup, iters, sync, mpi.Barrier))
    t_h = min(times_h)
    t_raw = min(times_raw) if times_raw else float("nan")
    row, _ = timing_row(mpi, np.array([t_h, t_raw], dtype=np.float64), size, iters, bus_factor(op, n))
    return row


def timing_row(mpi: Any, local: np.ndarray, size: int, iters: int, factor: float) -> tuple[dict[str, float], np.ndarray]:
    """The table's columns from this rank's seconds per call: ``local[0]`` the harness's, ``local[1]``
    raw mpi4py's, any further entries the caller's. Returns (row, mean over ranks of every entry)."""
    from mpi4py import MPI

    tmin, tmax, tsum = (np.empty_like(local) for _ in range(3))
    mpi.Allreduce(local, tmin, op=MPI.MIN)
    mpi.Allreduce(local, tmax, op=MPI.MAX)
    mpi.Allreduce(local, tsum, op=MPI.SUM)
    tavg = tsum / mpi.Get_size()
    algbw = size / tmax[0] / 1e9 if tmax[0] > 0 else 0.0
    return {
        "bytes": size,
        "iters": iters,
        "min_us": tmin[0] * 1e6,
        "avg_us": tavg[0] * 1e6,
        "max_us": tmax[0] * 1e6,
        "algbw_GBps": algbw,
        "busbw_GBps": algbw * factor,
        "raw_avg_us": tavg[1] * 1e6,
        "raw_max_us": tmax[1] * 1e6,
        "overhead": tavg[0] / tavg[1] if tavg[1] > 0 else float("nan"),
    }, tavg


def sizes_between(lo: int, hi: int) -> list[int]:
    out, s = [], 1
    while s < lo:
        s *= 2
    while s <= hi:
        out.append(s)
        s *= 2
    return out


def run(args: argparse.Namespace) -> int:
    from hpcsketch import launch

    lo, hi = parse_size(args.min_bytes), parse_size(args.max_bytes)
    if lo > hi:
        raise BadInput(f"--min-bytes {args.min_bytes} is larger than --max-bytes {args.max_bytes}", field="--min-bytes")
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    for o in ops:
        if o not in OPS and not o.startswith("neighbor_allgather"):
            raise BadInput(f"unknown collective {o!r}; expected some of {', '.join(OPS)}", field="--ops")
    args.out = output_path(args.out, "comm")
    if args.ranks is not None and not launch.inside_launcher() and args.ranks > 1:
        rank_args = ["bench", "comm", "--ops", args.ops, "--min-bytes", args.min_bytes, "--max-bytes", args.max_bytes,
                     "--buffers", args.buffers, "--iters-scale", str(args.iters_scale)]
        if args.out:
            rank_args += ["--out", args.out]
        if args.quiet:
            rank_args.append("--quiet")
        return launch.spawn(args.ranks, rank_args)
    return _run_ranks(args, ops, sizes_between(lo, hi))


def _run_ranks(args: argparse.Namespace, ops: list[str], sizes: list[int]) -> int:
    from mpi4py import MPI

    from hpcsketch import environment
    from hpcsketch.backend import cupy_module, select_backend
    from hpcsketch.comm.communicator import Communicator

    world = MPI.COMM_WORLD
    rank, n = world.Get_rank(), world.Get_size()
    buffers = ["host", "device"] if args.buffers == "both" else [args.buffers]
    if "device" in buffers and cupy_module() is None:
        if rank == 0:
            print("hpcsketch: error: --buffers device needs CuPy and a GPU; none is available here (use --buffers host)",
                  file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    lrank, lsize = environment.local_rank_and_size(world)
    for kind in buffers:
        backend = select_backend("numpy" if kind == "host" else "cupy", lrank, lsize)
        path = "host"
        if backend.is_gpu:
            backend.cuda_aware_mpi, how = environment.cuda_aware_mpi()
            path = "device (CUDA-aware)" if backend.cuda_aware_mpi else "device (staged through pinned host memory)"
        comm = Communicator(world, backend)
        for op in ops:
            if op.startswith("neighbor_allgather"):
                try:
                    from hpcsketch.bench.neighbors import bench_neighbors
                except ImportError:
                    raise BadInput("neighbour collectives need the topology module, which is not installed", field="--ops") from None

                rows = bench_neighbors(op, sizes, comm, backend, args.iters_scale, quiet=args.quiet)
                for r in rows:
                    results.append({"op": r.pop("op"), "buffers": path, **r})
                continue
            for s in sizes:
                r = bench_one(op, s, comm, backend, args.iters_scale)
                results.append({"op": op, "buffers": path, **r})
                if rank == 0 and not args.quiet:
                    print(f"[bench comm] {op:15s} {path:10s} {_h(r['bytes']):>8s}  avg {r['avg_us']:10.1f} us  "
                          f"busbw {r['busbw_GBps']:7.3f} GB/s  harness/raw {r['overhead']:.3f}", file=sys.stderr, flush=True)
    if rank == 0:
        _print_table(results, n)
        out = args.out
        write_results(out, results, {"world_size": n, "mpi_library": environment.mpi_library(),
                                     "hostnames": sorted(set(world.gather(environment.hostname(), root=0) or []))})
        print(f"wrote {out}")
    else:
        world.gather(environment.hostname(), root=0)
    return 0


def _h(nbytes: float) -> str:
    for unit, m in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes >= m:
            return f"{nbytes / m:g}{unit}"
    return f"{int(nbytes)}B"


def _print_table(results: list[dict[str, Any]], n: int) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"hpcsketch bench comm ({n} ranks); time per call over ranks; busbw as nccl-tests")
    for col in ("op", "buffers", "size", "iters", "min us", "avg us", "max us", "algbw GB/s", "busbw GB/s", "raw avg us", "harness/raw"):
        t.add_column(col, justify="right" if col not in ("op", "buffers") else "left")
    for r in results:
        t.add_row(r["op"], r["buffers"], _h(r["bytes"]), str(r["iters"]), f"{r['min_us']:.1f}", f"{r['avg_us']:.1f}",
                  f"{r['max_us']:.1f}", f"{r['algbw_GBps']:.3f}", f"{r['busbw_GBps']:.3f}", f"{r['raw_avg_us']:.1f}",
                  f"{r['overhead']:.3f}")
    Console(width=160).print(t)


def write_results(path: str, results: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
    """One group per (op, buffers) with a dataset per column."""
    import h5py

    from hpcsketch.tracing.writer import _attr

    create_output(path)
    with h5py.File(path, "w-") as f:
        f.attrs["kind"] = "bench-comm"
        for k, v in attrs.items():
            f.attrs[k] = _attr(v)
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in results:
            groups.setdefault(f"{r['op']}/{r['buffers'].split(' ')[0]}", []).append(r)
        for name, rows in groups.items():
            g = f.create_group(name)
            g.attrs["buffers"] = rows[0]["buffers"]
            for col in rows[0]:
                if col in ("op", "buffers"):
                    continue
                g.create_dataset(col, data=np.array([r[col] for r in rows], dtype=np.float64))


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m hpcsketch.bench.comm")
    add_arguments(p)
    return run(p.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
