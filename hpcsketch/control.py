"""The control word: how every rank agrees, without a barrier, on the round at which to stop,
to end a diverged run, or to flush.

Each round every rank contributes its flags (a stop signal arrived, its model is no
longer finite, rank 0's flush interval is up) to a non-blocking MAX-allreduce on a
communicator of its own (it never matches the method's collectives), and reads the
result of the previous round's reduction. The word rides along with the method's
traffic; all ranks see the same flags at the same round.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

STOP, DIVERGED, FLUSH = 0, 1, 2


class ControlWord:
    def __init__(self, world: MPI.Comm):
        self.comm = world.Dup()
        self.local = np.zeros(3, dtype=np.int32)
        #: what every rank agreed on, one round late
        self.seen = np.zeros(3, dtype=np.int32)
        self._recv = np.zeros(3, dtype=np.int32)
        self._req: MPI.Request | None = None

    def raise_flag(self, flag: int) -> None:
        self.local[flag] = 1

    def exchange(self) -> None:
        """Take the previous round's agreement and start this round's reduction. A flush request
        is sent once; stop and divergence stay raised."""
        if self._req is not None:
            self._req.Wait()
            self.seen[:] = self._recv
        self._recv = np.zeros(3, dtype=np.int32)
        self._req = self.comm.Iallreduce(self.local.copy(), self._recv, op=MPI.MAX)
        self.local[FLUSH] = 0

    @property
    def stop(self) -> bool:
        return bool(self.seen[STOP])

    @property
    def diverged(self) -> bool:
        return bool(self.seen[DIVERGED])

    @property
    def flush(self) -> bool:
        return bool(self.seen[FLUSH])

    def close(self) -> None:
        if self._req is not None:
            self._req.Wait()
            self._req = None
        self.comm.Free()
