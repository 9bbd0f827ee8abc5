"""Fixtures: directories of traces written by ``_fake_traces``."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from _fake_traces import CORRUPT, NEWER, SCALING, SWEEP, Spec, write_trace

from hpcsketch.tracing.schema import SCHEMA_VERSION


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sweep")
    sub = d / "nested"  # directories are searched recursively
    sub.mkdir()
    for i, spec in enumerate(SWEEP):
        write_trace((sub if i % 2 else d) / f"{spec.run_id}.h5", spec)
    (d / CORRUPT).write_bytes(b"\x89HDF\r\n" + b"garbage" * 200)
    newer = write_trace(d / NEWER, Spec("from-the-future"))
    with h5py.File(newer, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    (d / "notes.txt").write_text("not a trace, and not *.h5: not read")
    return d


@pytest.fixture(scope="session")
def scaling_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("scaling")
    for spec in SCALING:
        write_trace(d / f"{spec.run_id}.h5", spec)
    # another configuration at one size only: not a scaling study
    write_trace(d / "other.h5", Spec("cs-P2", ratio=5, lr=0.05))
    return d


@pytest.fixture(scope="session")
def sweep_results(sweep_dir: Path):
    from hpcsketch.analysis.load import load

    return load([sweep_dir])
