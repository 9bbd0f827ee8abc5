"""Opening an HDF5 file while another process holds its HDF5 file lock.

hpcsketch's own writer takes no lock on a trace: it never opens the published
file (it replaces it whole at every flush, ``tracing.writer``), so a reader never
waits for it and it never waits for readers. Readers still open under HDF5's
shared lock, and wait here, for files that something else edits in place (a run
of an older hpcsketch, a user's ``h5py.File(trace, "a")``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import h5py


def open_waiting(path: str | os.PathLike[str], mode: str, wait_seconds: float, **kwargs: Any) -> h5py.File:
    """``h5py.File(path, mode, **kwargs)``, retried while the lock is held elsewhere.

    Retries every 2-20 ms: short, because a reader polling in a loop leaves only
    short gaps between its reads. BlockingIOError once ``wait_seconds`` have passed.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.002
    while True:
        try:
            return h5py.File(path, mode, **kwargs)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(0.02, delay * 2)
