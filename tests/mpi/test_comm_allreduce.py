"""Allreduce through the comm layer equals the one-process sum; bytes are counted. # mpi-sizes: 4, 3"""

import numpy as np
import pytest

from _comm_helpers import make_comm, rank_data

pytestmark = pytest.mark.mpi(min_size=2)


@pytest.mark.parametrize("n", [1, 7, 4096, 100_003])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_allreduce_sum_equals_reference(backend, comm, n, dtype):
    c = make_comm(backend)
    buf, _ = rank_data(backend, c.rank, n, dtype)
    ref = sum(rank_data(backend, r, n, dtype)[1].astype(np.float64) for r in range(c.size))
    out = c.allreduce(buf)
    assert out is buf
    got = backend.asnumpy(out).astype(np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-4 if dtype == "float32" else 1e-9)
    assert c.stats.total["train"].bytes == buf.nbytes and c.stats.total["train"].calls == 1


def test_allreduce_max_and_2d(backend, comm):
    c = make_comm(backend)
    buf = backend.xp.full((3, 5), float(c.rank), dtype="float32")
    c.allreduce(buf, op="max")
    assert float(buf.min()) == c.size - 1


def test_iallreduce_completes(backend, comm):
    c = make_comm(backend)
    buf = backend.xp.ones(1000, dtype="float64") * (c.rank + 1)
    req = c.iallreduce(buf)
    out = req.wait()
    assert float(out[0]) == c.size * (c.size + 1) / 2


def test_category_keeps_traffic_apart(backend, comm):
    c = make_comm(backend)
    with c.category("eval"):
        c.allreduce(backend.xp.ones(10, dtype="float32"))
    c.allreduce(backend.xp.ones(3, dtype="float32"))
    assert c.stats.take("train").bytes == 12
    assert c.stats.take("eval").bytes == 40
    assert c.stats.take("train").bytes == 0
