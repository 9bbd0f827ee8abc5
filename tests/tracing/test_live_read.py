"""Reading a live run's trace while its writer flushes: every read sees a whole flush.

Readers used to open without HDF5's lock and could land in the middle of a flush
(h5py "addr overflow" errors in a test, and once a segfault inside HDF5). Then the
writer flushed in place under HDF5's exclusive lock and readers took the shared one,
so each waited for the other (a reader holding the file for 30 s failed the run).
Now the writer edits a private working copy and replaces the trace whole at every
flush: a reader opens a file nobody writes. Readers keep HDF5's shared lock only for
files something else edits in place (the second test). Long-held and polling readers
against real runs: tests/reliability/test_trace_publish.py.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from hpcsketch.tracing.reader import read_trace

WRITER = """
import sys, time
import numpy as np
from hpcsketch.tracing.writer import TraceWriter
w = TraceWriter(sys.argv[1])
w.create({"run_id": "live", "writer_host": "elsewhere", "writer_pid": 1}, {"world_size": 4})
print("created", flush=True)
step, t_end = 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < t_end:
    rows = [{"step": s, "loss": 1.0 / s, "bytes_mpi": 8.0, **({"late_metric": 1.0} if s > 200 else {})}
            for s in range(step + 1, step + 6)]
    steps = np.arange(step + 1, step + 6)
    w.append(rows, {"total": np.ones((5, 4)), "compute": np.full((5, 4), 0.5)}, steps)
    step += 5
    time.sleep(0.02)  # a real run flushes every few seconds; back-to-back flushes would starve readers
w.finish("completed")
print("steps", step, flush=True)
"""


def test_reads_during_flushes_are_whole(tmp_path):
    path = tmp_path / "live.h5"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "4"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "created"
        seen, reads = 0, 0
        while proc.poll() is None:
            t = read_trace(path)  # must never raise: no half-written flush is visible
            n = len(t.metrics.get("step", []))
            assert n >= seen and n % 5 == 0, (n, seen)  # whole flushes only, never fewer rows than before
            assert t.timing.get("total", np.zeros((0, 4))).shape[0] == n
            seen, reads = n, reads + 1
            time.sleep(0.01)  # a poller (watch, a notebook) reads again and again
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    final = read_trace(path)
    assert final.status == "completed" and len(final.metrics["step"]) == int(out.split()[-1])
    assert reads >= 5 and 0 < seen  # the reads really overlapped the writing
    assert int(out.split()[-1]) >= 100  # and the writer was not starved by them (about 150 flushes unloaded)


def test_a_reader_waits_out_a_writer_that_holds_the_file(tmp_path):
    """Not hpcsketch's writer (it never opens the trace it publishes): another program editing
    the file in place, e.g. h5py.File(trace, "a") in a notebook."""
    from hpcsketch.tracing.writer import TraceWriter

    path = tmp_path / "held.h5"
    w = TraceWriter(path)
    w.create({"run_id": "held", "writer_host": "elsewhere", "writer_pid": 1}, {})
    holder = subprocess.Popen([sys.executable, "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'a'); "
                               "print('held', flush=True); time.sleep(3.0); f.close()", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        t = read_trace(path)
        assert t.attrs["run_id"] == "held" and time.monotonic() - t0 > 0.5  # it waited for the lock
    finally:
        holder.wait(timeout=30)
