"""The progress line shows the latest round's loss and the latest evaluation, with rounds/s and an
ETA, between flushes too (it used to repeat the last flushed round's loss for many rounds)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np

from hpcsketch.tracing.reader import read_trace

JOB = """
[run]
name = "prog"
rounds = 200
eval_every = 50
flush_every = 100000
flush_seconds = 1000
[problem]
kind = "least_squares"
dim = 32
rows = 20
batch_size = 4
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.05
"""

LINE = re.compile(r"^\[prog\] round (\d+)/200  loss (\S+)  eval (\S+) @(\d+)  [\d.]+ rounds/s(  ETA \d+:\d\d)?$")


def test_progress_lines_show_this_rounds_loss_and_the_latest_evaluation(tmp_path):
    job = tmp_path / "prog.toml"
    job.write_text(JOB)
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "HPCSKETCH_TTY": "0"})
    assert res.returncode == 0, res.stderr
    t = read_trace(next((tmp_path / "out").glob("*.h5")))
    loss = dict(zip(t.metrics["step"].tolist(), t.metrics["loss"].tolist()))
    evals = {int(s): v for s, v in zip(t.metrics["step"], t.metrics["eval_loss"]) if not np.isnan(v)}
    lines = [m for m in map(LINE.match, res.stderr.splitlines()) if m]
    assert len(lines) >= 9, res.stderr  # one per 10 % of the rounds
    for m in lines:
        step, shown, shown_eval, eval_step = int(m[1]), float(m[2]), float(m[3]), int(m[4])
        assert shown == float(f"{loss[step]:.4g}"), (step, shown, loss[step])  # this round's, not a flushed one
        assert eval_step == max(s for s in evals if s <= step)  # the latest evaluation
        assert shown_eval == float(f"{evals[eval_step]:.4g}")
        assert (m[5] is not None) == (step < 200)  # the time left, while there is some
