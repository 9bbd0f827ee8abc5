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
_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def _record(signum: int, frame: Any) -> None:
    EARLY.append(signum)


def record_early() -> None:
    """Record SIGTERM and SIGUSR1 instead of dying of them, until a handler takes over."""
    for s in _SIGNALS:
        try:
            signal.signal(s, _record)
        except (ValueError, OSError):  # not the main thread, or not allowed here
            pass


def take_early() -> int:
    """The first signal recorded so far (0 if none), and forget them."""
    sig = EARLY[0] if EARLY else 0
    EARLY.clear()
    return sig
