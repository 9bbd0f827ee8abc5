"""Benchmarks: ``hpcsketch bench kernels | comm | overhead``."""

from __future__ import annotations

import os
import time

from hpcsketch.errors import BadInput


def output_path(out: str | None, kind: str) -> str:
    """Where a benchmark writes: ``out``, or ``results/bench-<kind>-<time>.h5``. Checked before
    any timing runs, so an existing file (never overwritten) costs the user nothing."""
    path = out or os.path.join("results", f"bench-{kind}-{time.strftime('%Y%m%d-%H%M%S')}.h5")
    if os.path.exists(path):
        raise BadInput(f"{path!r} exists; benchmark results are never overwritten (choose another --out)", field="--out")
    return path


def create_output(path: str) -> None:
    """Just before writing: the directory exists (or one clear line), and the file still does not."""
    from hpcsketch.tracing.writer import prepare_out_dir

    prepare_out_dir(os.path.dirname(path) or ".")
    output_path(path, "")
