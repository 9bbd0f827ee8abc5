"""Where a run's trace goes and what its run id looks like (no MPI, no torch: the launcher uses it)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def new_run_id() -> str:
    """Time to the second and 24 random bits: unique across a sweep's ranks and array tasks."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()


def trace_path_for(job: Any, run_id: str, out: str | None = None) -> Path:
    """``OUT/NAME-RUNID.h5`` for a job (or one sweep point of it)."""
    return Path(out or job.run.out) / f"{job.name}-{run_id}.h5"
