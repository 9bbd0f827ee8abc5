"""The trace writer keeps its promises: never overwrite, consistent between flushes, readable status."""

import h5py
import numpy as np
import pytest

from hpcsketch.errors import BadInput
from hpcsketch.tracing.reader import read_trace
from hpcsketch.tracing.schema import SCHEMA_VERSION
from hpcsketch.tracing.writer import TraceWriter, mark_status, prepare_out_dir


def _write(path, rows=3):
    w = TraceWriter(path)
    w.create({"run_id": "r1", "writer_host": "elsewhere", "writer_pid": 1}, {"world_size": 2, "hostnames": ["a", "b"]})
    w.append([{"step": 0, "eval_loss": 2.0}])
    w.append([{"step": s, "loss": 1.0 / s, "bytes_mpi": 8.0} for s in range(1, rows + 1)],
             {"total": np.ones((rows, 2)), "compute": np.full((rows, 2), 0.5)}, np.arange(1, rows + 1))
    return w


def test_round_trip(tmp_path):
    p = tmp_path / "t.h5"
    w = _write(p)
    w.append([{"step": 4, "loss": 0.1, "grad_sparsity": 0.5}], {"total": np.ones((1, 2))}, np.array([4]))
    w.finish("completed", summary={"final_loss": 0.1})
    t = read_trace(p)
    assert t.status == "completed" and t.attrs["schema_version"] == SCHEMA_VERSION
    np.testing.assert_array_equal(t.metrics["step"], [0, 1, 2, 3, 4])
    assert np.isnan(t.metrics["loss"][0]) and t.metrics["loss"][4] == pytest.approx(0.1)
    # a metric that appears late is NaN before it appeared
    assert np.isnan(t.metrics["grad_sparsity"][:4]).all() and t.metrics["grad_sparsity"][4] == 0.5
    assert t.timing["total"].shape == (4, 2) and t.timing["communicate"].shape == (4, 2)
    np.testing.assert_array_equal(t.timing["step"], [1, 2, 3, 4])
    assert t.env["hostnames"] == ["a", "b"] and t.summary["final_loss"] == pytest.approx(0.1)
    assert t.attrs["rounds_done"] == 4


def test_never_overwrites(tmp_path):
    p = tmp_path / "t.h5"
    _write(p)
    before = p.read_bytes()
    with pytest.raises(BadInput, match="never overwritten"):
        TraceWriter(p).create({}, {})
    assert p.read_bytes() == before
    TraceWriter(p).create({"run_id": "new"}, {}, force=True)
    assert read_trace(p).attrs["run_id"] == "new"


def test_readable_while_running_and_marked_by_launcher(tmp_path):
    p = tmp_path / "t.h5"
    _write(p)
    t = read_trace(p)  # the writer holds no handle between flushes
    assert t.attrs["status"] == "running" and len(t.metrics["step"]) == 4
    assert mark_status(p, "failed", "rank died")
    assert read_trace(p).status == "failed"
    assert not mark_status(p, "failed", "again")  # only a running trace is changed


def test_dead_writer_reads_as_failed(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    p = tmp_path / "t.h5"
    w = TraceWriter(p)
    w.create({"writer_host": socket.gethostname(), "writer_pid": int(dead)}, {})
    assert read_trace(p).status == "failed"
    w2 = TraceWriter(tmp_path / "u.h5")
    w2.create({"writer_host": socket.gethostname(), "writer_pid": os.getpid()}, {})
    assert read_trace(tmp_path / "u.h5").status == "running"


def test_refuses_newer_schema_and_garbage(tmp_path):
    p = tmp_path / "t.h5"
    _write(p)
    with h5py.File(p, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(BadInput, match="newer than this hpcsketch reads"):
        read_trace(p)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(BadInput, match="not an HDF5 file"):
        read_trace(junk)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(BadInput, match="not an hpcsketch trace"):
        read_trace(other)
    with pytest.raises(BadInput, match="no such file"):
        read_trace(tmp_path / "missing.h5")


def test_truncated_file_is_reported(tmp_path):
    p = tmp_path / "t.h5"
    _write(p, rows=200)
    data = p.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput):
        read_trace(cut)


def test_out_dir_errors(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(BadInput, match="not a directory"):
        prepare_out_dir(f)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os_access_write(ro):
            pytest.skip("running as a user that can write anywhere (root)")
        with pytest.raises(BadInput, match="not writable|permission"):
            prepare_out_dir(ro / "sub")
    finally:
        ro.chmod(0o700)


def os_access_write(p):
    import os

    return os.access(p, os.W_OK)


def test_flushes_do_not_grow_the_file_beyond_their_rows(tmp_path):
    """Re-creating a string attribute (the heartbeat, at every flush) left 4 KiB of dead global heap
    in the file each time (HDF5 does not reuse it once the file is closed): 300 flushes grew a small
    trace by 1.1 MB. Attributes are now modified in place."""
    p = tmp_path / "t.h5"
    w = TraceWriter(p)
    w.create({"run_id": "r", "writer_host": "elsewhere", "writer_pid": 1, "job": "x" * 5000}, {})
    for s in range(300):
        w.append([{"step": s, "loss": 1.0}], {"total": np.ones((1, 2))}, np.array([s]), memory=(s, np.ones(2)),
                 heartbeat_attrs={"note": f"flush {s}"})
        if s == 29:
            early = p.stat().st_size
    w.finish("completed", "done")
    assert p.stat().st_size < early + (64 << 10), (early, p.stat().st_size)
    t = read_trace(p)
    assert t.attrs["note"] == "flush 299" and t.attrs["message"] == "done" and len(t.metrics["step"]) == 300
