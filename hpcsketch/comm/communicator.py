"""The comm layer: everything above talks to MPI only through a Communicator.

Every call is timed and counted (bytes this rank handed to MPI) under the
current category. CuPy buffers have their stream synchronised before MPI
reads them; when MPI is not CUDA-aware they are staged through pinned host
memory. Each collective lives in its own module (allreduce.py, allgather.py,
...) in the manner of mpi4jax.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from mpi4py import MPI

from hpcsketch.backend import Backend
from hpcsketch.comm._buffers import Stager
from hpcsketch.comm.stats import CommStats


class Communicator:
    def __init__(self, mpi_comm: MPI.Comm, backend: Backend, stats: CommStats | None = None):
        self.mpi = mpi_comm
        self.backend = backend
        self.rank = mpi_comm.Get_rank()
        self.size = mpi_comm.Get_size()
        self.stats = stats if stats is not None else CommStats()
        self.stager = Stager()
        self._category = "train"
        self.gpu = backend.is_gpu
        #: device buffers go through pinned host memory (GPU run, MPI not CUDA-aware)
        self.staged = backend.is_gpu and not backend.cuda_aware_mpi


    # -- accounting ---------------------------------------------------------------------
    @contextlib.contextmanager
    def category(self, name: str) -> Iterator[None]:
        prev, self._category = self._category, name
        try:
            yield
        finally:
            self._category = prev

    def record(self, op: str, nbytes: int, seconds: float) -> None:
        """Count one call under the current category (the collective modules report through this)."""
        self.stats.record(self._category, op, nbytes, seconds)

    @contextlib.contextmanager
    def timed(self, op: str, nbytes: int) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.record(op, nbytes, time.perf_counter() - t0)

    def sync(self) -> None:
        """A CuPy buffer must be ready before MPI reads it."""
        if self.gpu:
            self.backend.synchronize()

    # -- collectives (each in its own module) -------------------------------------------
    def allreduce(self, buf: Any, op: str = "sum") -> Any:
        from hpcsketch.comm.allreduce import allreduce

        return allreduce(self, buf, op)

    def iallreduce(self, buf: Any, op: str = "sum") -> "Request":
        from hpcsketch.comm.allreduce import iallreduce

        return iallreduce(self, buf, op)

    def allgather(self, buf: Any) -> Any:
        from hpcsketch.comm.allgather import allgather

        return allgather(self, buf)

    def allgatherv(self, buf: Any) -> tuple[Any, list[int]]:
        from hpcsketch.comm.allgather import allgatherv

        return allgatherv(self, buf)

    def bcast(self, buf: Any, root: int = 0) -> Any:
        from hpcsketch.comm.bcast import bcast

        return bcast(self, buf, root)

    def reduce_scatter(self, buf: Any, op: str = "sum") -> Any:
        from hpcsketch.comm.reduce_scatter import reduce_scatter

        return reduce_scatter(self, buf, op)

    # -- small Python objects (control plane, trace gathering) --------------------------
    # the bytes of an object collective are its pickle, what mpi4py hands to MPI (this rank's part)
    def gather_object(self, obj: Any, root: int = 0) -> list[Any] | None:
        with self.timed("gather_object", _pickled_nbytes(obj)):
            return self.mpi.gather(obj, root=root)

    def bcast_object(self, obj: Any, root: int = 0) -> Any:
        with self.timed("bcast_object", _pickled_nbytes(obj) if self.rank == root else 0):
            return self.mpi.bcast(obj, root=root)

    def allgather_object(self, obj: Any) -> list[Any]:
        with self.timed("allgather_object", _pickled_nbytes(obj)):
            return self.mpi.allgather(obj)

    def barrier(self) -> None:
        with self.timed("barrier", 0):
            self.mpi.Barrier()


def _pickled_nbytes(obj: Any) -> int:
    import pickle

    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


class Request:
    """A pending non-blocking collective; ``wait()`` returns the result buffer."""

    def __init__(self, comm: Communicator, req: MPI.Request, result: Any, finish: Any = None, op: str = "", nbytes: int = 0):
        self.comm = comm
        self.req = req
        self.result = result
        self._finish = finish
        self._op = op
        self._nbytes = nbytes
        self.done = False

    def test(self) -> bool:
        if not self.done and self.req.Test():
            self._complete(0.0)
        return self.done

    def wait(self) -> Any:
        if not self.done:
            t0 = time.perf_counter()
            self.req.Wait()
            self._complete(time.perf_counter() - t0)
        return self.result

    def _complete(self, seconds: float) -> None:
        self.done = True
        if self._finish is not None:
            self._finish()
        self.comm.record(self._op, self._nbytes, seconds)
