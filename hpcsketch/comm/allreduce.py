"""Allreduce: linear payloads (dense gradients, sketches, measurements) summed over ranks."""

from __future__ import annotations

from typing import Any

from mpi4py import MPI

from hpcsketch.comm._buffers import OPS, mpi_type
from hpcsketch.comm.communicator import Communicator, Request


def allreduce(comm: Communicator, buf: Any, op: str = "sum") -> Any:
    """Reduce ``buf`` over all ranks, in place; returns ``buf``."""
    mop = OPS[op]
    flat = buf.reshape(-1)
    with comm.timed("allreduce", buf.nbytes):
        if comm.size == 1:
            return buf
        comm.sync()
        if comm.staged:
            host = comm.stager.to_host(flat)
            comm.mpi.Allreduce(MPI.IN_PLACE, [host, mpi_type(host.dtype)], op=mop)
            comm.stager.to_device(host, flat)
        else:
            comm.mpi.Allreduce(MPI.IN_PLACE, [flat, mpi_type(flat.dtype)], op=mop)
    return buf


def iallreduce(comm: Communicator, buf: Any, op: str = "sum") -> Request:
    """Non-blocking in-place allreduce; ``wait()`` on the result returns ``buf``."""
    flat = buf.reshape(-1)
    if comm.size == 1:
        req = Request(comm, MPI.REQUEST_NULL, buf, op="iallreduce", nbytes=buf.nbytes)
        return req
    comm.sync()
    if comm.staged:
        host = comm.stager.to_host(flat, slot=1)
        r = comm.mpi.Iallreduce(MPI.IN_PLACE, [host, mpi_type(host.dtype)], op=OPS[op])
        return Request(comm, r, buf, finish=lambda: comm.stager.to_device(host, flat), op="iallreduce", nbytes=buf.nbytes)
    r = comm.mpi.Iallreduce(MPI.IN_PLACE, [flat, mpi_type(flat.dtype)], op=OPS[op])
    return Request(comm, r, buf, op="iallreduce", nbytes=buf.nbytes)
