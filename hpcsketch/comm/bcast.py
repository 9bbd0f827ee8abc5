"""Bcast: a buffer from one rank to all (model broadcast, shared operators)."""

from __future__ import annotations

from typing import Any

from hpcsketch.comm._buffers import mpi_type
from hpcsketch.comm.communicator import Communicator


def bcast(comm: Communicator, buf: Any, root: int = 0) -> Any:
    """In place: on return every rank's ``buf`` holds the root's."""
    flat = buf.reshape(-1)
    nbytes = buf.nbytes if comm.rank == root else 0
    with comm.timed("bcast", nbytes):
        if comm.size == 1:
            return buf
        comm.sync()
        if comm.staged:
            host = comm.stager.to_host(flat) if comm.rank == root else comm.stager.host(flat)
            comm.mpi.Bcast([host, mpi_type(host.dtype)], root=root)
            if comm.rank != root:
                comm.stager.to_device(host, flat)
        else:
            comm.mpi.Bcast([flat, mpi_type(flat.dtype)], root=root)
    return buf
