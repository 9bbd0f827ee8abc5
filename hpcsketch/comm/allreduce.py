"""Allreduce: linear payloads (dense gradients, sketches, measurements) summed over ranks."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from mpi4py import MPI

from hpcsketch.comm._buffers import OPS
from hpcsketch.comm.communicator import Communicator, Request


def allreduce(comm: Communicator, buf: Any, op: str = "sum") -> Any:
    """Reduce ``buf`` over all ranks, in place; returns ``buf``."""
    t0 = perf_counter()
    if comm.size > 1:
        if comm.gpu:
            comm.sync()
            if comm.staged:
                flat = buf.reshape(-1)
                host = comm.stager.to_host(flat)
                comm.mpi.Allreduce(MPI.IN_PLACE, host, op=OPS[op])
                comm.stager.to_device(host, flat)
            else:
                comm.mpi.Allreduce(MPI.IN_PLACE, buf, op=OPS[op])
        else:
            comm.mpi.Allreduce(MPI.IN_PLACE, buf, op=OPS[op])
    comm.record("allreduce", buf.nbytes, perf_counter() - t0)
    return buf


def iallreduce(comm: Communicator, buf: Any, op: str = "sum") -> Request:
    """Non-blocking in-place allreduce; ``wait()`` on the result returns ``buf``."""
    if comm.size == 1:
        return Request(comm, MPI.REQUEST_NULL, buf, op="iallreduce", nbytes=buf.nbytes)
    comm.sync()
    if comm.staged:
        flat = buf.reshape(-1)
        host = comm.stager.to_host(flat, slot=1)
        r = comm.mpi.Iallreduce(MPI.IN_PLACE, host, op=OPS[op])
        return Request(comm, r, buf, finish=lambda: comm.stager.to_device(host, flat), op="iallreduce", nbytes=buf.nbytes)
    r = comm.mpi.Iallreduce(MPI.IN_PLACE, buf, op=OPS[op])
    return Request(comm, r, buf, op="iallreduce", nbytes=buf.nbytes)
