"""``hpcsketch bench comm`` against a plain mpi4py loop written here. # mpi-sizes: 4

The benchmark's table must be internally consistent (min <= avg <= max over ranks,
algbw = bytes / slowest rank's time, busbw = algbw x nccl-tests' factor) and its
times must agree, within the noise of a shared machine, with the simplest loop a
user would time by hand on the same message.
"""

import time

import numpy as np
import pytest
from mpi4py import MPI

from _comm_helpers import make_comm

from hpcsketch.bench.comm import bench_one

pytestmark = pytest.mark.mpi(min_size=2)

FACTORS = {"allreduce": lambda n: 2 * (n - 1) / n, "allgather": lambda n: (n - 1) / n,
           "reduce_scatter": lambda n: (n - 1) / n, "bcast": lambda n: 1.0}


@pytest.mark.parametrize("op", sorted(FACTORS))
def test_rows_follow_nccl_tests_definitions(np_backend, comm, op):
    c = make_comm(np_backend)
    row = bench_one(op, 1 << 16, c, np_backend, scale=0.05)
    assert row["bytes"] == 1 << 16  # a multiple of 4 x ranks: no rounding
    assert 0 < row["min_us"] <= row["avg_us"] <= row["max_us"]
    assert row["algbw_GBps"] == pytest.approx(row["bytes"] / (row["max_us"] * 1e-6) / 1e9)
    assert row["busbw_GBps"] == pytest.approx(row["algbw_GBps"] * FACTORS[op](c.size))
    assert row["overhead"] == pytest.approx(row["avg_us"] / row["raw_avg_us"])
    # every rank holds the same row (stats are reduced over ranks)
    rows = comm.allgather(row)
    assert all(r == rows[0] for r in rows)


def _plain_allreduce_us(comm, nbytes: int, iters: int) -> float:
    buf = np.zeros(nbytes // 4, dtype=np.float32)
    for _ in range(max(2, iters // 10)):
        comm.Allreduce(MPI.IN_PLACE, buf)
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(iters):
        comm.Allreduce(MPI.IN_PLACE, buf)
    t = (time.perf_counter() - t0) / iters
    return comm.allreduce(t, op=MPI.SUM) / comm.Get_size() * 1e6


def test_times_agree_with_a_plain_mpi4py_loop(np_backend, comm):
    # 1 MiB: bandwidth-bound, so oversubscribed ranks on a busy machine still give
    # comparable numbers; interleaved, best of three each, a generous factor
    c = make_comm(np_backend)
    nbytes = 1 << 20
    plain, raw, harness = [], [], []
    for _ in range(3):
        plain.append(_plain_allreduce_us(comm, nbytes, 40))
        row = bench_one("allreduce", nbytes, c, np_backend, scale=0.15)
        raw.append(row["raw_avg_us"])
        harness.append(row["avg_us"])
    p, r, h = min(plain), min(raw), min(harness)
    assert 1 / 4 < r / p < 4, (raw, plain)
    assert 1 / 4 < h / p < 4, (harness, plain)
