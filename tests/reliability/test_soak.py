"""Soak: thousands of short rounds of least squares on 8 ranks through the real CLI. Memory per rank
stays flat, rounds do not slow down as the trace grows, and the trace is complete and readable.

Sized to run in the normal suite (about a minute here); HPCSKETCH_SOAK_ROUNDS makes it longer. The
bounds compare the run with itself (late window against early window), never with a wall-clock
constant, and are generous: the machine is shared and 8 ranks oversubscribe its cores.
"""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from hpcsketch.tracing.reader import read_trace

ROUNDS = int(os.environ.get("HPCSKETCH_SOAK_ROUNDS", "2000"))
RANKS = 8
FLUSH = 25

JOB = f"""
[run]
name = "soak"
rounds = {ROUNDS}
eval_every = 500
flush_every = {FLUSH}
diagnostics_every = 0
progress = false
[problem]
kind = "least_squares"
dim = 16
rows = 8
batch_size = 4
[clients]
count = {RANKS}
[algorithm]
kind = "psgd"
lr = 0.05
"""


@pytest.mark.soak
def test_soak_memory_round_time_and_trace(tmp_path):
    job = tmp_path / "soak.toml"
    job.write_text(JOB)
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "-n", str(RANKS), "--out", str(tmp_path),
                          "--run-id", "soak", "-q"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    path = tmp_path / "soak-soak.h5"
    t = read_trace(path)
    assert t.status == "completed" and t.attrs["rounds_done"] == ROUNDS
    # complete: one row per round plus the initial evaluation, in order, finite losses
    steps = t.metrics["step"]
    np.testing.assert_array_equal(steps, np.arange(ROUNDS + 1))
    assert np.isfinite(t.metrics["loss"][1:]).all()
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["timing/step"][()], np.arange(1, ROUNDS + 1))
        total = f["timing/total"][()]  # (rounds, ranks): seconds of each round on each rank
        rss = f["memory/rss_mb"][()]  # (flushes, ranks)
        mem_steps = f["memory/step"][()]
    assert total.shape == (ROUNDS, RANKS) and rss.shape[1] == RANKS
    assert len(mem_steps) >= ROUNDS // FLUSH  # every flush recorded memory

    # memory per rank: the last fifth of the flushes against the second fifth (the first one warms up)
    w = len(rss) // 5
    early, late = np.median(rss[w:2 * w], axis=0), np.median(rss[-w:], axis=0)
    growth = late - early
    print(f"rss per rank early {np.round(early, 1)} MB, late {np.round(late, 1)} MB, growth {np.round(growth, 2)} MB")
    assert (growth < 0.05 * early + 10).all(), growth

    # round time: the median over ranks and rounds of a window, last against first (after warm-up);
    # and the wall time per round from the trace's clock, which also pays for the flushes
    w = ROUNDS // 5
    first, last = np.median(total[50:50 + w]), np.median(total[-w:])
    wall = np.diff(t.metrics["time"][1:])
    wall_first, wall_last = wall[50:50 + w].mean(), wall[-w:].mean()
    print(f"median round time first {1e3 * first:.3f} ms, last {1e3 * last:.3f} ms, ratio {last / first:.2f}; "
          f"mean wall per round incl. flushes {1e3 * wall_first:.3f} -> {1e3 * wall_last:.3f} ms, "
          f"ratio {wall_last / wall_first:.2f}")
    assert last / first < 3.0 and wall_last / wall_first < 3.0
