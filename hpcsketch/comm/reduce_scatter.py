"""Reduce_scatter: each rank gets the sum of one block (the first half of a ring allreduce)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.comm._buffers import OPS, mpi_type
from hpcsketch.comm.communicator import Communicator


def block_counts(n: int, size: int) -> list[int]:
    """Sizes of ``size`` contiguous blocks of ``n`` elements, differing by at most one."""
    base, extra = divmod(n, size)
    return [base + (1 if r < extra else 0) for r in range(size)]


def reduce_scatter(comm: Communicator, buf: Any, op: str = "sum") -> Any:
    """Sum ``buf`` over ranks and return this rank's block (see :func:`block_counts`)."""
    xp = comm.backend.xp
    flat = buf.reshape(-1)
    counts = block_counts(flat.size, comm.size)
    out = xp.empty(counts[comm.rank], dtype=flat.dtype)
    with comm.timed("reduce_scatter", flat.nbytes):
        if comm.size == 1:
            out[...] = flat
            return out
        comm.sync()
        t = mpi_type(flat.dtype)
        if comm.staged:
            send = comm.stager.to_host(flat)
            recv = np.empty(out.size, dtype=flat.dtype)
            comm.mpi.Reduce_scatter([send, t], [recv, t], recvcounts=counts, op=OPS[op])
            out.set(recv)
        else:
            comm.mpi.Reduce_scatter([flat, t], [out, t], recvcounts=counts, op=OPS[op])
    return out
