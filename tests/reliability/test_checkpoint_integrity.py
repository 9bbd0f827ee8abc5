"""Checkpoints are atomic, bounded in size and verified before a resume loads anything.

A checkpoint is a file of its own beside the trace (``NAME.h5.ckpt-STEP``), written to
a temporary file, fsynced and renamed; every dataset and the runner state carry a
SHA-256, and the trace records the checkpoint's step, file name and the file's SHA-256.
Before, /checkpoint inside the trace was deleted and re-created: a SIGKILL in the
middle left none, HDF5 never reused the freed space (300 checkpoints: 11.4 MB), and a
tampered or corrupt checkpoint resumed silently. Real files, real ranks, real SIGKILL.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcsketch.errors import BadInput
from hpcsketch.tracing.reader import read_checkpoint, read_trace
from hpcsketch.tracing.writer import TraceWriter

TIMEOUT = 180

JOB = """
[run]
name = "ck"
rounds = {rounds}
eval_every = 10
checkpoint_every = {every}
progress = false
[problem]
kind = "quadratic"
dim = {dim}
[clients]
count = 2
[algorithm]
kind = "psgd"
lr = 0.05
"""


def _job(tmp_path: Path, rounds: int, every: int = 1, dim: int = 64, name: str = "ck.toml") -> Path:
    p = tmp_path / name
    p.write_text(JOB.format(rounds=rounds, every=every, dim=dim))
    return p


def _cli(args: list[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """``hpcsketch run ARGS -q``; on a timeout every process of its session (mpiexec, ranks) is killed."""
    cmd = [sys.executable, "-m", "hpcsketch", "run", *args, "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _ckpt_dataset(trace: Path, rank: int, name: str) -> tuple[Path, str]:
    """The file and HDF5 path of one checkpointed array, wherever this version keeps it."""
    with h5py.File(trace, "r", locking=False) as f:
        ck = f.attrs.get("checkpoint_file")
    if ck:
        return trace.parent / (ck.decode() if isinstance(ck, bytes) else ck), f"rank{rank}/{name}"
    return trace, f"checkpoint/rank{rank}/{name}"


def _state(step: int, n: int = 20_000) -> list[dict[str, np.ndarray]]:
    return [{"x": np.full(n, float(step)), "m": np.full(n, -float(step))},
            {"x": np.full(n, step + 0.5), "m": np.full(n, -step - 0.5)}]


def _check_whole(path: Path) -> int:
    """The trace's checkpoint verifies and is exactly what was written at its step."""
    t = read_trace(path)
    step = int(t.attrs["checkpoint_step"])
    for r in (0, 1):
        ck = read_checkpoint(path, r)
        assert ck.step == step and ck.runner_state["step"] == step and ck.world_size == 2
        want = _state(step)[r]
        assert sorted(ck.state) == ["m", "x"]
        for k in want:
            np.testing.assert_array_equal(ck.state[k], want[k])
    return step


def _writer_child(path: Path, start: int) -> None:
    """In a forked child: resume the trace at ``start`` and checkpoint every round until killed."""
    try:
        w = TraceWriter.reopen(path, start)
        step = start
        while True:
            step += 1
            w.append([{"step": step, "loss": 1.0 / step}], {"total": np.ones((1, 2))}, np.array([step]))
            w.write_checkpoint(step, {"step": step}, _state(step))
    finally:
        os._exit(1)


@pytest.mark.slow
def test_sigkill_at_any_moment_of_checkpointing_leaves_a_whole_checkpoint(tmp_path):
    """Rank 0's writer checkpoints every round and is SIGKILLed at random moments, 30 times, each
    time resumed from what it left: the trace always holds a checkpoint that verifies and equals
    what was written at its step, and the checkpoint files do not pile up."""
    path = tmp_path / "kill.h5"
    w = TraceWriter(path)
    w.create({"run_id": "kill", "writer_host": "elsewhere", "writer_pid": 1}, {"world_size": 2})
    w.append([{"step": 0, "loss": 1.0}])
    w.write_checkpoint(0, {"step": 0}, _state(0))
    rng = random.Random(1234)
    step, advanced = 0, 0
    for _ in range(30):
        pid = os.fork()
        if pid == 0:
            _writer_child(path, step)
        time.sleep(rng.uniform(0.05, 0.35))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        new = _check_whole(path)
        assert new >= step
        advanced += new > step
        step = new
        t = read_trace(path)
        assert list(t.metrics["step"]) == list(range(len(t.metrics["step"])))  # whole flushes only
        assert len(list(tmp_path.glob("kill.h5.ckpt*"))) <= 2
    assert advanced >= 20  # the kills did land among checkpoints, not before the first one


@pytest.mark.slow
def test_a_run_killed_while_checkpointing_every_round_resumes(tmp_path):
    """The same through the real CLI: 2 ranks, checkpoint_every = 1, rank 0 SIGKILLed at a random
    round; --resume completes the run with every round."""
    rounds = 100
    job = _job(tmp_path, rounds=rounds, dim=256)  # (the quadratic set-up is O(dim^3))
    out = tmp_path / "out"
    trace = out / "ck-k.h5"
    proc = subprocess.Popen([sys.executable, "-m", "hpcsketch", "run", str(job), "-n", "2", "--out", str(out),
                             "--run-id", "k", "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if int(read_trace(trace).attrs.get("checkpoint_step", 0)) > 5:
                    break
            except BadInput:
                pass
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 0.3))
        os.kill(int(read_trace(trace).attrs["writer_pid"]), signal.SIGKILL)
        text, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode not in (0, 2, 3), text
    step = int(read_trace(trace).attrs["checkpoint_step"])
    assert 5 < step < rounds and read_checkpoint(trace, 1).step == step
    res = _cli(["--resume", str(trace), "-n", "2"])
    assert res.returncode == 0, res.stdout + res.stderr
    t = read_trace(trace)
    assert t.status == "completed" and list(t.metrics["step"]) == list(range(rounds + 1))


@pytest.mark.slow
def test_the_trace_stays_small_however_many_checkpoints_a_run_writes(tmp_path):
    """checkpoint_every = 1: 300 rounds leave a trace about the size of 30 rounds' (before: 11.4 MB,
    every checkpoint's space leaked inside the trace), and one checkpoint file of one model."""
    sizes = {}
    for rounds in (30, 300):
        job = _job(tmp_path, rounds=rounds, name=f"ck{rounds}.toml")
        res = _cli([str(job), "--out", str(tmp_path / f"o{rounds}"), "--run-id", "s"])
        assert res.returncode == 0, res.stdout + res.stderr
        trace = tmp_path / f"o{rounds}" / "ck-s.h5"
        sizes[rounds] = trace.stat().st_size
        assert read_trace(trace).status == "completed"
        others = sorted(p.name for p in trace.parent.iterdir() if p != trace)
        assert len(others) <= 1 and all(".ckpt" in n for n in others), others
    assert sizes[300] < sizes[30] + (256 << 10), sizes


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A 1-rank run stopped by SIGTERM at round 5: a trace with a checkpoint to tamper with."""
    d = tmp_path_factory.mktemp("interrupted")
    job = _job(d, rounds=40, every=0, dim=512)  # the model x: 4 KiB
    res = _cli([str(job), "--out", str(d / "out"), "--run-id", "t", "--inject-fault", "rank=0,round=5,kind=term"])
    assert res.returncode == 3, res.stdout + res.stderr
    return d / "out"


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "out"
    shutil.copytree(src, dst)
    return dst / "ck-t.h5"


def _refused(trace: Path, *needles: str) -> str:
    before = trace.read_bytes()
    files = sorted(p.name for p in trace.parent.iterdir())
    res = _cli(["--resume", str(trace)])
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, (res.returncode, res.stdout, res.stderr)
    assert lines[0].startswith("hpcsketch: error: ") and "Traceback" not in res.stderr + res.stdout
    for n in needles:
        assert n in lines[0], lines[0]
    assert trace.read_bytes() == before  # the refused resume changed nothing
    assert sorted(p.name for p in trace.parent.iterdir()) == files
    return lines[0]


def test_scaled_weights_in_the_checkpoint_are_refused(interrupted, tmp_path):
    trace = _copy(interrupted, tmp_path)
    file, ds = _ckpt_dataset(trace, 0, "x")
    with h5py.File(file, "a", locking=False) as f:
        f[ds][...] = f[ds][()] * 1.5
    _refused(trace, "checkpoint")


def test_a_4kib_corruption_of_the_checkpoint_is_refused(interrupted, tmp_path):
    trace = _copy(interrupted, tmp_path)
    file, ds = _ckpt_dataset(trace, 0, "x")
    with h5py.File(file, "r", locking=False) as f:
        offset = f[ds].id.get_offset()
    assert offset is not None
    with open(file, "r+b") as fh:  # a bad sector in the middle of the model: 4 KiB of garbage
        fh.seek(offset)
        fh.write(np.random.default_rng(0).bytes(4096))
    _refused(trace, "checkpoint")


def test_another_runs_checkpoint_is_refused(tmp_path):
    """Every array, the runner state and the trace's record of the file are checked before anything
    is loaded; a checkpoint swapped in from another run of the same job is refused."""
    paths = []
    for name, value in (("a", 1.0), ("b", 2.0)):
        d = tmp_path / name
        d.mkdir()
        p = d / "run.h5"
        w = TraceWriter(p)
        w.create({"run_id": name, "writer_host": "elsewhere", "writer_pid": 1}, {})
        w.append([{"step": 0, "loss": 1.0}])
        w.write_checkpoint(7, {"step": 7}, [{"x": np.full(8, value)}])
        paths.append(p)
    assert read_checkpoint(paths[0], 0).state["x"][0] == 1.0
    ck = read_trace(paths[0]).attrs["checkpoint_file"]
    shutil.copyfile(paths[1].parent / read_trace(paths[1]).attrs["checkpoint_file"], paths[0].parent / ck)
    with pytest.raises(BadInput, match="checkpoint"):
        read_checkpoint(paths[0], 0)
    (paths[0].parent / ck).unlink()
    with pytest.raises(BadInput, match="missing"):
        read_checkpoint(paths[0], 0)


def test_a_checkpoint_inside_an_old_trace_still_resumes(tmp_path):
    """Schema 1 kept the checkpoint in /checkpoint inside the trace: still read (it carries no
    checksums to verify); resuming moves the run to checkpoint files."""
    p = tmp_path / "old.h5"
    w = TraceWriter(p)
    w.create({"run_id": "old", "writer_host": "elsewhere", "writer_pid": 1}, {})
    w.append([{"step": s, "loss": 1.0} for s in range(4)])
    w.finish("interrupted")
    with h5py.File(p, "a") as f:  # what schema 1 wrote
        f.attrs["schema_version"] = 1
        for k in ("checkpoint_file", "checkpoint_sha256"):
            if k in f.attrs:
                del f.attrs[k]
        g = f.create_group("checkpoint")
        g.attrs.update({"step": 3, "world_size": 1, "runner_state": '{"step": 3}', "written": "then"})
        g.create_group("rank0").create_dataset("x", data=np.arange(5.0))
        f.attrs["checkpoint_step"] = 3
    ck = read_checkpoint(p, 0)
    assert ck.step == 3 and ck.runner_state == {"step": 3} and list(ck.state["x"]) == list(range(5))
    w2 = TraceWriter.reopen(p, 3)
    w2.write_checkpoint(4, {"step": 4}, [{"x": np.zeros(5)}])
    w2.finish("interrupted")
    assert read_checkpoint(p, 0).step == 4
    with h5py.File(p, "r") as f:
        assert "checkpoint" not in f
