"""``python -m hpcsketch`` (what the launcher starts on every rank) and the ``hpcsketch`` command."""

import os
import sys

from hpcsketch.signals import record_early

record_early()  # before the heavy imports: a time-limit warning during start-up is not lost

from hpcsketch.cli import main  # noqa: E402


def run_and_exit() -> None:
    """Run the CLI, finalize MPI, and leave without C++ static destructors.

    torch, LLVM (numba) and MPI each run native code at interpreter shutdown; a
    thread pool destroyed in the wrong order there occasionally aborts the process
    ("terminate called without an active exception") after a run has finished and
    its trace is closed, which would turn a success into exit code 134. Everything
    of ours is flushed and closed by now, so skip that shutdown.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        mpi.Finalize()
    os._exit(int(code or 0))


if __name__ == "__main__":
    run_and_exit()
