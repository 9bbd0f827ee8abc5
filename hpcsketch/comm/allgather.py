"""Allgather(v): non-linear payloads (sparse index/value buffers, packed quantized bits)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcsketch.comm._buffers import mpi_type
from hpcsketch.comm.communicator import Communicator


def allgather(comm: Communicator, buf: Any) -> Any:
    """Equal-size blocks: returns an array of shape (size, *buf.shape)."""
    xp = comm.backend.xp
    out = xp.empty((comm.size,) + tuple(buf.shape), dtype=buf.dtype)
    with comm.timed("allgather", buf.nbytes):
        if comm.size == 1:
            out[0] = buf
            return out
        comm.sync()
        flat = buf.reshape(-1)
        if comm.staged:
            send = comm.stager.to_host(flat)
            recv = np.empty(out.size, dtype=buf.dtype)
            comm.mpi.Allgather([send, mpi_type(send.dtype)], [recv, mpi_type(recv.dtype)])
            out.reshape(-1).set(recv)
        else:
            comm.mpi.Allgather([flat, mpi_type(flat.dtype)], [out.reshape(-1), mpi_type(out.dtype)])
    return out


def allgatherv(comm: Communicator, buf: Any) -> tuple[Any, list[int]]:
    """Blocks of different sizes: returns (concatenation of every rank's 1-D ``buf``, counts).

    The counts are exchanged first (one small Allgather, counted too), as any
    Allgatherv user must.
    """
    xp = comm.backend.xp
    flat = buf.reshape(-1)
    if comm.size == 1:
        with comm.timed("allgatherv", flat.nbytes):
            return flat.copy(), [int(flat.size)]
    counts_local = np.array([flat.size], dtype=np.int64)
    counts = np.empty(comm.size, dtype=np.int64)
    with comm.timed("allgather", counts_local.nbytes):
        comm.mpi.Allgather(counts_local, counts)
    displs = np.zeros(comm.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=displs[1:])
    total = int(counts.sum())
    out = xp.empty(total, dtype=flat.dtype)
    t = mpi_type(flat.dtype)
    with comm.timed("allgatherv", flat.nbytes):
        comm.sync()
        if comm.staged:
            send = comm.stager.to_host(flat) if flat.size else np.empty(0, flat.dtype)
            recv = np.empty(total, dtype=flat.dtype)
            comm.mpi.Allgatherv([send, t], [recv, (counts, displs), t])
            out.set(recv)
        else:
            comm.mpi.Allgatherv([flat, t], [out, (counts, displs), t])
    return out, [int(c) for c in counts]
