"""Neighbour collectives on a distributed-graph communicator (decentralized topologies).

A :class:`NeighborComm` is built collectively from this rank's in-neighbours
(``sources``) and out-neighbours (``destinations``) with
``Create_dist_graph_adjacent`` over the Communicator's MPI communicator, without
reordering, so graph node i is rank i. ``neighbor_allgather(buf)`` hands ``buf``
to every out-neighbour and returns one block per in-neighbour, in the order of
``sources``.

Calls are timed and counted on the parent Communicator's stats under its current
category. Bytes are what this rank actually sends: the send buffer times the
out-degree. CuPy buffers have their stream synchronised first and are staged
through pinned host memory when MPI is not CUDA-aware, as for every collective.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from mpi4py import MPI

from hpcsketch.comm._buffers import mpi_type
from hpcsketch.comm.communicator import Communicator, Request

#: pinned staging slots of the non-blocking call (0 and 1 belong to the blocking calls and iallreduce)
_ISLOT_SEND = 2


class NeighborComm:
    def __init__(self, comm: Communicator, sources: Sequence[int], destinations: Sequence[int]):
        self.comm = comm
        self.backend = comm.backend
        self.sources = [int(s) for s in sources]
        self.destinations = [int(d) for d in destinations]
        self.indegree = len(self.sources)
        self.outdegree = len(self.destinations)
        # collective over comm.mpi: every rank must build its NeighborComm at the same point
        self.mpi = comm.mpi.Create_dist_graph_adjacent(self.sources, self.destinations, reorder=False)

    def free(self) -> None:
        if self.mpi != MPI.COMM_NULL:
            self.mpi.Free()

    def _out(self, buf: Any) -> Any:
        return self.backend.xp.empty((self.indegree,) + tuple(buf.shape), dtype=buf.dtype)

    def neighbor_allgather(self, buf: Any) -> Any:
        """Array of shape (indegree, *buf.shape): row k is ``sources[k]``'s ``buf``."""
        comm = self.comm
        out = self._out(buf)
        with comm.timed("neighbor_allgather", buf.nbytes * self.outdegree):
            if self.indegree == 0 and self.outdegree == 0:
                return out
            comm.sync()
            t = mpi_type(buf.dtype)
            flat = buf.reshape(-1)
            if comm.staged:
                send = comm.stager.to_host(flat)
                recv = np.empty(out.size, dtype=buf.dtype)
                self.mpi.Neighbor_allgather([send, t], [recv, t])
                out.reshape(-1).set(recv)
            else:
                self.mpi.Neighbor_allgather([flat, t], [out.reshape(-1), t])
        return out

    def neighbor_allgatherv(self, buf: Any) -> tuple[Any, list[int]]:
        """Blocks of different sizes: (concatenation of the in-neighbours' 1-D ``buf``, their sizes).

        The sizes travel first in a small neighbour allgather, counted too.
        """
        comm = self.comm
        flat = buf.reshape(-1)
        size = np.array([flat.size], dtype=np.int64)
        counts = np.empty(self.indegree, dtype=np.int64)
        with comm.timed("neighbor_allgather", size.nbytes * self.outdegree):
            if self.indegree or self.outdegree:
                self.mpi.Neighbor_allgather(size, counts)
        displs = np.zeros(self.indegree, dtype=np.int64)
        np.cumsum(counts[:-1], out=displs[1:])
        out = self.backend.xp.empty(int(counts.sum()), dtype=flat.dtype)
        with comm.timed("neighbor_allgatherv", flat.nbytes * self.outdegree):
            if self.indegree or self.outdegree:
                comm.sync()
                t = mpi_type(flat.dtype)
                if comm.staged:
                    send = comm.stager.to_host(flat) if flat.size else np.empty(0, flat.dtype)
                    recv = np.empty(out.size, dtype=flat.dtype)
                    self.mpi.Neighbor_allgatherv([send, t], [recv, (counts, displs), t])
                    out.set(recv)
                else:
                    self.mpi.Neighbor_allgatherv([flat, t], [out, (counts, displs), t])
        return out, [int(c) for c in counts]

    def ineighbor_allgather(self, buf: Any) -> Request:
        """Non-blocking :meth:`neighbor_allgather`; ``wait()`` returns the (indegree, *shape) array.

        ``buf`` must not change until the request completes (MPI may still be reading it).
        Time is recorded at ``wait``/``test`` completion (the part not hidden behind compute).
        """
        comm = self.comm
        out = self._out(buf)
        nbytes = buf.nbytes * self.outdegree
        if self.indegree == 0 and self.outdegree == 0:
            return Request(comm, MPI.REQUEST_NULL, out, op="ineighbor_allgather", nbytes=nbytes)
        comm.sync()
        t = mpi_type(buf.dtype)
        flat = buf.reshape(-1)
        if comm.staged:
            send = comm.stager.to_host(flat, slot=_ISLOT_SEND)
            recv = np.empty(out.size, dtype=buf.dtype)
            r = self.mpi.Ineighbor_allgather([send, t], [recv, t])
            return Request(comm, r, out, finish=lambda: out.reshape(-1).set(recv), op="ineighbor_allgather", nbytes=nbytes)
        r = self.mpi.Ineighbor_allgather([flat, t], [out.reshape(-1), t])
        return Request(comm, r, out, op="ineighbor_allgather", nbytes=nbytes)
