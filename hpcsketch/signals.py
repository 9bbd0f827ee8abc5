"""Signals that arrive before a run is ready for them.

A Slurm warning (SIGUSR1) or a SIGTERM can arrive while ranks are still
importing torch or building the problem. The default action would kill the
rank and leave the run ``failed``; instead the command line records them from
its first line, and the runner (or the launcher parent) acts on them as soon as
it installs its own handlers.
"""

from __future__ import annotations

import signal
from typing import Any

EARLY: list[int] = []
_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP)


def install(sig: int, handler: Any) -> Any:
    """``signal.signal`` that keeps system calls restartable (SA_RESTART); returns the old handler.

    Python makes a signal with a handler interrupt system calls (EINTR). Python code
    retries (PEP 475), but C libraries need not: a Slurm warning that lands in
    MPI_Init under srun made MPICH/UCX abort the rank with a garbled address
    exchange. The Python handler still runs at the next bytecode.
    """
    old = signal.signal(sig, handler)
    try:
        signal.siginterrupt(sig, False)
    except (ValueError, OSError):
        pass
    return old


def _record(signum: int, frame: Any) -> None:
    EARLY.append(signum)


def record_early() -> None:
    """Record SIGTERM, SIGUSR1 and SIGHUP instead of dying of them, until a handler takes over."""
    for s in _SIGNALS:
        try:
            install(s, _record)
        except (ValueError, OSError):  # not the main thread, or not allowed here
            pass


def take_early() -> int:
    """The first signal recorded so far (0 if none), and forget them."""
    sig = EARLY[0] if EARLY else 0
    EARLY.clear()
    return sig
