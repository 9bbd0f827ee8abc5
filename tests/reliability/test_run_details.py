"""Small guarantees of a run's trace and messages: one flush per time interval, an honest summary
of a diverged run, a resume hint that works as printed, and nothing created by ``--resume``."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from hpcsketch.tracing.reader import read_trace

TIMEOUT = 180

JOB = """
[run]
name = "details"
rounds = {rounds}
eval_every = 10
flush_every = 100000
flush_seconds = {flush_seconds}
progress = false
[problem]
kind = "mnist1d"
model = "logreg"
batch_size = 16
samples = 400
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = {lr}
"""


def _run(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpcsketch", "run", *args, "-q"], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd)


def _job(tmp_path: Path, rounds: int = 60, flush_seconds: float = 5.0, lr: float = 0.1) -> Path:
    p = tmp_path / "details.toml"
    p.write_text(JOB.format(rounds=rounds, flush_seconds=flush_seconds, lr=lr))
    return p


def test_a_time_based_flush_happens_once_per_interval(tmp_path):
    res = _run(tmp_path, str(_job(tmp_path, rounds=300, flush_seconds=0.05)), "--out", str(tmp_path / "out"), "-n", "2")
    assert res.returncode == 0, res.stderr
    trace = next((tmp_path / "out").glob("*.h5"))
    with h5py.File(trace, "r") as f:
        steps = f["memory/step"][()]
    assert len(steps) > 3, steps  # several time-based flushes happened
    # flushes at consecutive rounds were a request repeated while the first was under way
    assert np.all(np.diff(steps[:-1]) > 1), steps


DIVERGING = """
[run]
name = "div"
rounds = 80
eval_every = 10
progress = false
[problem]
kind = "least_squares"
dim = 32
rows = 20
batch_size = 4
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 100000.0
"""


def test_a_diverged_run_reports_its_last_values_not_an_early_finite_one(tmp_path):
    """Evaluations overflow (inf, then NaN) rounds before the model itself does: final_* must be the
    last evaluation's values, not each metric's last finite one (a mix of rounds 0, 20 and 50 before)."""
    job = tmp_path / "div.toml"
    job.write_text(DIVERGING)
    res = _run(tmp_path, str(job), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    t = read_trace(next((tmp_path / "out").glob("*.h5")))
    assert t.status == "diverged"
    last_eval = np.flatnonzero(~np.isnan(t.metrics["eval_seconds"]))[-1]  # rows with an evaluation
    assert t.metrics["step"][last_eval] > 10
    for k in ("eval_loss", "eval_gap"):
        final, want = t.summary[f"final_{k}"], t.metrics[k][last_eval]
        assert (math.isnan(final) and math.isnan(want)) or final == want, (k, final, want, t.metrics[k])
    final, want = t.summary["final_loss"], t.metrics["loss"][-1]
    assert (math.isnan(final) and math.isnan(want)) or final == want


def test_the_best_accuracy_is_of_a_trained_model(tmp_path):
    res = _run(tmp_path, str(_job(tmp_path, rounds=20)), "--out", str(tmp_path / "out"),
               "--inject-fault", "rank=0,round=5,kind=nan")
    assert res.returncode == 0, res.stderr
    t = read_trace(next((tmp_path / "out").glob("*.h5")))
    assert t.status == "diverged"
    assert not np.isnan(t.metrics["eval_accuracy"][0])  # the untrained model was evaluated ...
    assert math.isnan(t.summary["best_eval_accuracy"])  # ... and is no one's best


def test_the_resume_hint_works_as_printed_and_resume_creates_nothing_else(tmp_path):
    out = tmp_path / "out"
    res = _run(tmp_path, str(_job(tmp_path, rounds=40)), "--out", str(out), "-n", "2",
               "--inject-fault", "rank=1,round=20,kind=term")
    assert res.returncode == 3, res.stderr
    trace = next(out.glob("*.h5"))
    message = read_trace(trace).attrs["message"]
    hint = message.split("continue with: ", 1)[1]
    argv = hint.split()
    assert argv[:3] == ["hpcsketch", "run", "--resume"] and argv[-2:] == ["-n", "2"], hint
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = _run(tmp_path, *argv[2:], cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert read_trace(trace).status == "completed"
    assert list(elsewhere.iterdir()) == []  # no empty results/ where the command ran
