"""Launch each MPI test module under ``mpiexec -n P`` with a timeout.

A module lists the world sizes it must pass at with a comment
``# mpi-sizes: 4, 8`` (default 4). Every launch has a timeout, so a deadlock
fails the suite instead of hanging it; on failure the output of rank 0 and
the logs of the other ranks are shown.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
MPI_DIR = HERE / "mpi"
TIMEOUT = float(os.environ.get("HPCSKETCH_MPI_TEST_TIMEOUT", "600"))


def _suites():
    for f in sorted(MPI_DIR.glob("test_*.py")):
        m = re.search(r"#\s*mpi-sizes:\s*([\d,\s]+)", f.read_text())
        sizes = [int(s) for s in m.group(1).replace(" ", "").split(",") if s] if m else [4]
        for n in sizes:
            yield pytest.param(f, n, id=f"{f.stem}-n{n}")


def run_with_timeout(cmd: list[str], env: dict[str, str], timeout: float, cwd: str | None = None) -> tuple[str, int | str]:
    """Run in a new session; on timeout kill the whole process group (mpiexec and every rank)."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return out, proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return out, f"timeout after {timeout:.0f} s (deadlock?)"


def _mpiexec() -> str:
    here = Path(sys.executable).parent
    cand = here / "mpiexec"
    return str(cand) if cand.exists() else (shutil.which("mpiexec") or "mpiexec")


@pytest.mark.timeout(TIMEOUT + 60)
@pytest.mark.parametrize("module,nranks", list(_suites()))
def test_mpi_suite(module: Path, nranks: int, tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    env = dict(os.environ, HPCSKETCH_TEST_LOGDIR=str(logdir), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [_mpiexec(), "-n", str(nranks), sys.executable, "-m", "pytest", "--with-mpi", "-q", "--color=no",
           "-p", "no:cacheprovider", "--rootdir", str(HERE.parent), "-o", "addopts=", "--timeout", str(int(TIMEOUT)),
           str(module)]
    out, rc = run_with_timeout(cmd, env, TIMEOUT)
    if rc != 0:
        logs = ""
        for log in sorted(logdir.glob("rank*.log")):
            logs += f"\n--- {log.name} ---\n" + log.read_text()[-6000:]
        pytest.fail(f"{module.name} on {nranks} ranks: exit {rc}\n--- rank 0 ---\n{out[-8000:]}{logs}", pytrace=False)
    assert re.search(r"\d+ passed", out), out[-4000:]
