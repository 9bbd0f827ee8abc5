"""Bcast: a buffer from one rank to all (model broadcast, shared operators)."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from hpcsketch.comm.communicator import Communicator


def bcast(comm: Communicator, buf: Any, root: int = 0) -> Any:
    """In place: on return every rank's ``buf`` holds the root's."""
    t0 = perf_counter()
    if comm.size > 1:
        if comm.staged:
            comm.sync()
            flat = buf.reshape(-1)
            host = comm.stager.to_host(flat) if comm.rank == root else comm.stager.host(flat)
            comm.mpi.Bcast(host, root=root)
            if comm.rank != root:
                comm.stager.to_device(host, flat)
        else:
            comm.sync()
            comm.mpi.Bcast(buf, root=root)
    comm.record("bcast", buf.nbytes if comm.rank == root else 0, perf_counter() - t0)
    return buf
