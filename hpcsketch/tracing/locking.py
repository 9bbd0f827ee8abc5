"""Opening a trace while another process holds its HDF5 file lock.

A live run's writer holds the exclusive lock for the milliseconds of a flush;
readers (``hpcsketch analyze``, a user's script) hold the shared lock for the
milliseconds of a read. Each side waits the other out instead of failing (or,
for a lock-free reader, instead of reading half a flush).
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
