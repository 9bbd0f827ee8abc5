"""How ranks end (hpcsketch.shutdown): a finished job must never be reported as killed.

MPICH 5 tells its process manager that a rank finished from a C exit hook; a rank
that skipped it (``os._exit``) made Hydra SIGKILL the ranks still alive, so a
completed run ended "Killed (signal 9)" now and then (it failed CI once). The
launches below end every rank with no work after ``MPI_Finalize``, where that
race is at its widest: through ``os._exit`` it was lost in about 6 of 10 launches
on this machine, so 12 clean launches in a row would not happen by luck.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from hpcsketch.launch import find_mpiexec
from tests.test_mpi_suites import run_with_timeout

LAUNCHES = 12
RANK = """
import sys
from mpi4py import MPI
from hpcsketch.shutdown import finalize_and_exit
print(f"rank {MPI.COMM_WORLD.Get_rank()} done", flush=False)  # left in Python's buffer on purpose
finalize_and_exit(int(sys.argv[1]))
"""


def _launch(code: int) -> tuple[str, int | str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return run_with_timeout([find_mpiexec(), "-n", "4", sys.executable, "-c", RANK, str(code)], env, timeout=120)


def test_ranks_that_finish_are_never_killed_by_the_process_manager():
    for i in range(LAUNCHES):
        out, rc = _launch(0)
        assert rc == 0, f"launch {i + 1}: exit {rc}\n{out}"
        # each rank's buffered line arrived (the C exit flushed it); lines may interleave
        assert sorted(re.findall(r"rank (\d) done", out)) == ["0", "1", "2", "3"], out


@pytest.mark.parametrize("code", [2, 3])
def test_the_exit_code_is_kept(code):
    out, rc = _launch(code)
    assert rc == code, out


def test_without_mpi_the_process_still_exits_with_its_code():
    res = subprocess.run([sys.executable, "-c", "from hpcsketch.shutdown import finalize_and_exit; print('x', end=''); "
                          "finalize_and_exit(5)"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 5 and res.stdout == "x"


def test_an_error_on_one_rank_ends_every_rank_instead_of_hanging():
    """An exception that escapes a command on one rank (here rank 1, while the others wait in a
    Barrier) aborts the job, as under ``python -m mpi4py``; the timeout turns a hang into a failure."""
    rank_code = ("import hpcsketch.__main__ as entry\n"
                 "from mpi4py import MPI\n"
                 "def main():\n"
                 "    if MPI.COMM_WORLD.Get_rank() == 1:\n"
                 "        raise ZeroDivisionError('one rank only')\n"
                 "    MPI.COMM_WORLD.Barrier()\n"
                 "    return 0\n"
                 "entry.main = main\n"
                 "entry.run_and_exit()\n")
    out, rc = run_with_timeout([find_mpiexec(), "-n", "4", sys.executable, "-c", rank_code], dict(os.environ), timeout=120)
    assert isinstance(rc, int) and rc != 0, out
    assert "ZeroDivisionError: one rank only" in out
