"""Faults on 4 ranks through the real CLI: a rank that raises or is killed, NaN, signals,
checkpoints and resume. Every launch has a timeout, so a hang fails the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hpcsketch.errors import BadInput
from hpcsketch.tracing.reader import read_trace

JOB = """
[run]
name = "faults"
rounds = 40
eval_every = 10
flush_every = 4
progress = false
[problem]
kind = "least_squares"
dim = 32
rows = 20
batch_size = 4
[clients]
count = 8
participation = 0.5
[algorithm]
kind = "{algorithm}"
lr = 0.05
{extra}
[compressor]
kind = "{compressor}"
k = 0.25
"""

TIMEOUT = 240


def _job(tmp_path: Path, algorithm: str = "ef_sgd", compressor: str = "topk", extra: str = "") -> Path:
    p = tmp_path / f"{algorithm}.toml"
    p.write_text(JOB.format(algorithm=algorithm, compressor=compressor, extra=extra))
    return p


def _run(args: list[str], tmp_path: Path, timeout: float = TIMEOUT) -> tuple[int, str, float]:
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", *args, "--out", str(tmp_path / "out"), "-q"],
                         capture_output=True, text=True, timeout=timeout, start_new_session=True)
    return res.returncode, res.stdout + res.stderr, time.monotonic() - t0


def _trace(tmp_path: Path, name: str = "faults") -> Path:
    found = sorted((tmp_path / "out").glob(f"{name}*.h5"), key=os.path.getmtime)
    assert found, list((tmp_path / "out").glob("*"))
    return found[-1]


def _same_results(a, b) -> None:
    """Two traces record the same run: every metric but wall-clock ones, to the bit."""
    skip = {"time", "eval_seconds"}
    assert sorted(set(a.metrics) - skip) == sorted(set(b.metrics) - skip)
    for k in a.metrics:
        if k not in skip:
            np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)


@pytest.mark.parametrize("rank", [0, 2])
def test_a_rank_that_raises_fails_the_run_fast_and_marks_the_trace(tmp_path, rank):
    code, out, secs = _run([str(_job(tmp_path)), "-n", "4", "--inject-fault", f"rank={rank},round=10,kind=raise"], tmp_path)
    assert code == 1, out
    assert f"injected fault on rank {rank}" in out
    t = read_trace(_trace(tmp_path))
    assert t.status == "failed" and f"rank {rank}" in t.attrs["message"], t.attrs["message"]
    # rounds up to the last flush are kept (flush_every = 4: rounds 1..8 at least)
    assert t.metrics["step"][-1] >= 8 and np.isfinite(t.metrics["loss"][1:]).all()


def test_a_killed_rank_fails_the_run_and_the_launcher_marks_the_trace(tmp_path):
    code, out, secs = _run([str(_job(tmp_path)), "-n", "4", "--inject-fault", "rank=1,round=10,kind=kill"], tmp_path)
    assert code == 1, out  # MPICH reports 9 or 137 for a killed rank; the launcher says failure: 1
    assert "signal 9" in out and "SIGKILL" in out, out
    t = read_trace(_trace(tmp_path))
    assert t.status == "failed" and "exit code" in t.attrs["message"], t.attrs["message"]
    assert t.metrics["step"][-1] >= 8


def test_nan_ends_the_run_as_diverged_with_a_clean_exit(tmp_path):
    code, out, secs = _run([str(_job(tmp_path)), "-n", "4", "--inject-fault", "rank=3,round=12,kind=nan"], tmp_path)
    assert code == 0, out
    t = read_trace(_trace(tmp_path))
    assert t.status == "diverged" and "NaN" in t.attrs["message"]
    assert t.metrics["step"][-1] < 40  # it stopped early


def test_interrupt_checkpoint_and_resume_equal_an_uninterrupted_run(tmp_path):
    job = _job(tmp_path, "ef_sgd", "topk")
    code, out, _ = _run([str(job), "-n", "4"], tmp_path)
    assert code == 0, out
    whole = read_trace(_trace(tmp_path))
    (tmp_path / "out").rename(tmp_path / "whole")
    # a signal on one rank stops every rank at the same round, with a checkpoint
    code, out, _ = _run([str(job), "-n", "4", "--inject-fault", "rank=2,round=13,kind=term"], tmp_path)
    assert code == 3, out
    path = _trace(tmp_path)
    t = read_trace(path)
    assert t.status == "interrupted" and "--resume" in t.attrs["message"]
    stopped = int(t.attrs["checkpoint_step"])
    assert 13 <= stopped < 40 and t.metrics["step"][-1] == stopped
    code, out, _ = _run(["--resume", str(path), "-n", "4"], tmp_path)
    assert code == 0, out
    resumed = read_trace(path)
    assert resumed.status == "completed" and resumed.attrs["resumed"] == 1
    _same_results(resumed, whole)
    # refusing to resume what is finished: one line, exit 2
    code, out, _ = _run(["--resume", str(path), "-n", "4"], tmp_path)
    assert code == 2 and "nothing to resume" in out and len(out.strip().splitlines()) == 1, out


def test_killed_run_resumes_from_its_last_periodic_checkpoint(tmp_path):
    job = _job(tmp_path, "scaffold", "none", "local_steps = 2")
    code, out, _ = _run([str(job), "-n", "4"], tmp_path)
    assert code == 0, out
    whole = read_trace(_trace(tmp_path))
    (tmp_path / "out").rename(tmp_path / "whole")
    code, out, _ = _run([str(job), "-n", "4", "--set", "run.checkpoint_every=10",
                         "--inject-fault", "rank=1,round=27,kind=kill"], tmp_path)
    assert code not in (0, 2, 3), out
    path = _trace(tmp_path)
    t = read_trace(path)
    assert t.status == "failed" and int(t.attrs["checkpoint_step"]) == 20
    assert t.metrics["step"][-1] > 20  # rows after the checkpoint exist ...
    code, out, _ = _run(["--resume", str(path), "-n", "4"], tmp_path)
    assert code == 0, out
    resumed = read_trace(path)  # ... and were replaced by the resumed run's
    _same_results(resumed, whole)


def test_resume_on_another_rank_count_is_refused(tmp_path):
    code, out, _ = _run([str(_job(tmp_path)), "-n", "4", "--inject-fault", "rank=0,round=5,kind=term"], tmp_path)
    assert code == 3, out
    code, out, _ = _run(["--resume", str(_trace(tmp_path)), "-n", "2"], tmp_path)
    assert code == 2 and "resume it on 4" in out, out


def test_sigterm_to_the_launcher_interrupts_cleanly(tmp_path):
    """What Slurm does at a time limit or on scancel: SIGTERM to the job's processes."""
    job = _job(tmp_path, "psgd", "none")
    proc = subprocess.Popen([sys.executable, "-m", "hpcsketch", "run", str(job), "-n", "4", "--out", str(tmp_path / "out"),
                             "-q", "--set", "run.rounds=100000", "--set", "run.eval_every=0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the ranks are running rounds
            found = list((tmp_path / "out").glob("faults*.h5"))
            try:  # reading a live trace (it may be caught mid-write: then try again)
                if found and read_trace(found[0]).attrs.get("rounds_done", 0) > 8:
                    break
            except BadInput:
                pass
            time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 60
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 3, out
    t = read_trace(_trace(tmp_path))
    assert t.status == "interrupted" and int(t.attrs["checkpoint_step"]) == t.metrics["step"][-1]


def test_a_warning_during_start_up_is_not_lost(tmp_path):
    """Slurm's warning can come while ranks still import torch: the run must end interrupted, not killed."""
    job = _job(tmp_path, "psgd", "none")
    proc = subprocess.Popen([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(tmp_path / "out"), "-q",
                             "--set", "run.rounds=100000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)  # well inside start-up (imports, data), before the first round
        proc.send_signal(signal.SIGUSR1)
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out
    t = read_trace(_trace(tmp_path))
    assert t.status == "interrupted" and t.attrs["checkpoint_step"] < 50
