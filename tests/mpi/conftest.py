"""Under ``mpiexec -n P python -m pytest --with-mpi tests/mpi/...``:

* only rank 0 prints; ranks 1.. write to ``$HPCSKETCH_TEST_LOGDIR/rank<r>.log``
  (the outer launcher shows those logs when a suite fails);
* a failed test on any rank calls ``MPI_Abort`` so the other ranks, possibly
  blocked in a collective, do not hang.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

import pytest

# the MPI modules import their helpers (_comm_helpers) by plain name
sys.path.insert(0, str(pathlib.Path(__file__).parent))


def _world():
    from mpi4py import MPI

    return MPI.COMM_WORLD


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("with_mpi", default=False):
        return
    comm = _world()
    if comm.Get_size() > 1 and comm.Get_rank() != 0:
        logdir = os.environ.get("HPCSKETCH_TEST_LOGDIR") or tempfile.gettempdir()
        os.makedirs(logdir, exist_ok=True)
        fd = os.open(os.path.join(logdir, f"rank{comm.Get_rank()}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    rep = outcome.get_result()
    if not item.config.getoption("with_mpi", default=False) or not rep.failed:
        return
    comm = _world()
    if comm.Get_size() == 1:
        return
    sys.stderr.write(f"\n[rank {comm.Get_rank()}] FAILED {item.nodeid} ({rep.when})\n{rep.longreprtext}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    comm.Abort(1)


@pytest.fixture
def comm():
    return _world()


@pytest.fixture
def shared_tmp(comm, tmp_path_factory):
    """A directory every rank sees (rank 0 makes it)."""
    path = str(tmp_path_factory.mktemp("shared")) if comm.Get_rank() == 0 else None
    return comm.bcast(path, root=0)
