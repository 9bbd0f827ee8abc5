"""How an hpcsketch process ends: MPI finalized, the MPI library's exit hooks run, no Python teardown.

Two failures meet here.

* Python's own interpreter teardown with torch, numba (LLVM) and MPI loaded
  occasionally aborted a finished run ("terminate called without an active
  exception", exit code 134): so the process skips it.
* ``os._exit`` skips too much. MPICH 5 sends PMI ``finalize`` to its process
  manager from a C exit hook, not from ``MPI_Finalize``; a rank that leaves
  through ``_exit`` never sends it, and Hydra, seeing a rank gone without it,
  SIGKILLs every rank still alive, even ranks a few microseconds from their own
  clean exit: a completed run then ends "Killed (signal 9)". Measured here:
  ``MPI.Finalize(); os._exit(0)`` on 4 ranks ended killed in 9 of 15 launches;
  ``MPI.Finalize(); libc exit(0)`` in 0 of 15 (tests/test_shutdown.py).

So after ``MPI_Finalize`` the process leaves through the C library's ``exit``:
C exit hooks (MPICH's PMI finalize, stdio flush) run, the Python interpreter is
not torn down. A process that never initialised MPI (the launcher parent, a
one-line ``validate``) keeps ``os._exit``.
"""

from __future__ import annotations

import ctypes
import os
import sys


def abort_world(code: int) -> None:
    """``python -m mpi4py`` semantics: an error on one rank ends every rank (MPI_Abort), not a hang."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized() and mpi.COMM_WORLD.Get_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        mpi.COMM_WORLD.Abort(code)


def finalize_and_exit(code: int) -> None:
    """Flush Python's streams, finalize MPI if this process initialised it, and exit with ``code``."""
    code = int(code or 0)
    sys.stdout.flush()
    sys.stderr.flush()
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized():
        if not mpi.Is_finalized():
            mpi.Finalize()
        try:
            ctypes.CDLL(None).exit(code)  # does not return
        except (OSError, AttributeError):  # no C library symbols visible: fall through
            pass
    os._exit(code)
