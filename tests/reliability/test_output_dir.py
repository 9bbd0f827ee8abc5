"""The output directory missing, read-only or full: one clear line, exit code 2, nothing already
written lost. Through the real command line, in subprocesses with a timeout.

Root writes anywhere, so the read-only cases run the command as ``nobody``; the interpreter lives
under /root (mode 0700 here), so the child imports what it needs as root and then drops to nobody
before the run starts. "Full" is a real small tmpfs (needs mount rights; skipped without them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from hpcsketch.tracing.reader import read_trace

TIMEOUT = 180

JOB = """
[run]
name = "outdir"
rounds = {rounds}
eval_every = 10
flush_every = 2
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
lr = 0.05
"""

# the child: import everything the run needs, drop to nobody, then run the CLI
AS_NOBODY = textwrap.dedent("""
    import os, sys
    from hpcsketch.cli import build_parser, main
    from hpcsketch.config.job import load_job
    import hpcsketch.tracing.writer, hpcsketch.progress, h5py, shlex, traceback  # noqa: F401
    from hpcsketch.runner import build  # noqa: F401 (registries, MPI)
    from hpcsketch.problems import REGISTRY as P
    from hpcsketch.algorithms import REGISTRY as A
    job = load_job(sys.argv[1])
    P.get(job.problem.kind); A.get(job.algorithm.kind); build_parser()
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    sys.exit(main(["run", *sys.argv[1:]]))
""")


@pytest.fixture
def base():
    """A directory everybody may enter (pytest's tmp_path is under a 0700 directory)."""
    d = Path(tempfile.mkdtemp(prefix="hpcsketch-outdir-"))
    d.chmod(0o755)
    job = d / "job.toml"
    job.write_text(JOB.format(rounds=6))
    job.chmod(0o644)
    yield d
    subprocess.run(["rm", "-rf", str(d)], timeout=60)


def _cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpcsketch", "run", *args, "-q"], capture_output=True, text=True,
                          timeout=TIMEOUT, **kw)


def _one_line(res: subprocess.CompletedProcess, *needles: str) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, (res.returncode, res.stderr)
    assert lines[0].startswith("hpcsketch: error: ") and "Traceback" not in res.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_a_missing_output_directory_is_created(base):
    out = base / "a" / "b" / "c"
    res = _cli([str(base / "job.toml"), "--out", str(out), "--run-id", "m"])
    assert res.returncode == 0, res.stderr
    assert read_trace(out / "outdir-m.h5").status == "completed"


def test_read_only_output_directory(base):
    ro = base / "ro"
    ro.mkdir()
    keep = ro / "earlier.h5"
    keep.write_bytes(b"an earlier run")
    ro.chmod(0o555)
    probe = subprocess.run([sys.executable, "-c", AS_NOBODY.replace("sys.exit(main", "open(sys.argv[2] + '/x', 'w'); (main"),
                            str(base / "job.toml"), str(ro)], capture_output=True, text=True, timeout=TIMEOUT)
    if "PermissionError" not in probe.stderr:
        pytest.skip(f"cannot drop to an unprivileged user here: {probe.stderr[-300:]}")
    for out, needle in ((ro, "not writable"), (ro / "sub", "permission denied")):
        res = subprocess.run([sys.executable, "-c", AS_NOBODY, str(base / "job.toml"), "--out", str(out), "-q"],
                             capture_output=True, text=True, timeout=TIMEOUT)
        _one_line(res, "[run] out", str(out), needle)
    assert sorted(p.name for p in ro.iterdir()) == ["earlier.h5"] and keep.read_bytes() == b"an earlier run"


@pytest.fixture
def small_fs(base):
    """A real file system that fills up: a tmpfs of 8 MiB mounted under ``base``."""
    mnt = base / "fs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True,
                         timeout=30)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], timeout=30)


def _fill(mnt: Path, leave: int) -> None:
    st = os.statvfs(mnt)
    with open(mnt / "filler", "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def test_full_output_file_system_at_start(base, small_fs):
    earlier = small_fs / "out" / "earlier.h5"
    earlier.parent.mkdir()
    earlier.write_bytes(b"an earlier run")
    _fill(small_fs, 256 << 10)
    res = _cli([str(base / "job.toml"), "--out", str(small_fs / "out")])
    _one_line(res, "[run] out", "is full")
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["earlier.h5"]
    assert earlier.read_bytes() == b"an earlier run"


@pytest.mark.parametrize("ranks", [1, 2])
def test_output_file_system_fills_during_the_run(base, small_fs, ranks):
    """The disk fills between two flushes: the run stops at the next one, the trace keeps every row
    flushed before and says why it failed."""
    (base / "job.toml").write_text(JOB.format(rounds=1_000_000))
    trace = small_fs / "out" / "outdir-full.h5"
    args = [sys.executable, "-m", "hpcsketch", "run", str(base / "job.toml"), "--out", str(small_fs / "out"),
            "--run-id", "full", "-q"] + (["-n", str(ranks)] if ranks > 1 else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        before = 0
        while time.monotonic() < deadline and before < 20:
            time.sleep(0.3)
            try:
                before = int(read_trace(trace).metrics["step"][-1])
            except Exception:  # not there yet, or caught mid-flush
                pass
        assert before >= 20, "the run did not get going"
        _fill(small_fs, 1 << 20)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    res = subprocess.CompletedProcess(args, proc.returncode, out, err)
    if ranks == 1:
        _one_line(res, "[run] out", "is full", "rounds up to the last flush are kept")
    else:  # MPI_Abort adds its own line after ours
        assert res.returncode == 2 and err.startswith("hpcsketch: error: [run] out") and "Traceback" not in err, err
    t = read_trace(trace)
    assert t.status == "failed" and "is full" in t.attrs["message"]
    steps = t.metrics["step"]
    assert steps[-1] >= before and list(steps) == list(range(len(steps)))  # every round up to the last flush
