"""Allgather and Allgatherv (blocks of different sizes, empty blocks) against the one-process reference. # mpi-sizes: 4, 3"""

import numpy as np
import pytest

from _comm_helpers import make_comm, rank_data

pytestmark = pytest.mark.mpi(min_size=2)


@pytest.mark.parametrize("n", [1, 1000])
def test_allgather(backend, comm, n):
    c = make_comm(backend)
    buf, _ = rank_data(backend, c.rank, n)
    out = c.allgather(buf)
    for r in range(c.size):
        np.testing.assert_array_equal(backend.asnumpy(out[r]), rank_data(backend, r, n)[1])


@pytest.mark.parametrize("dtype", ["uint8", "float32", "int32"])
def test_allgatherv_ragged(backend, comm, dtype):
    c = make_comm(backend)
    sizes = [(37 * r + 11) % 50 for r in range(c.size)]  # includes an empty block when size allows
    sizes[-1] = 0
    buf, _ = rank_data(backend, c.rank, sizes[c.rank], "float32" if dtype == "float32" else "int64")
    buf = buf.astype(dtype)
    out, counts = c.allgatherv(buf)
    assert counts == sizes
    ref = np.concatenate([rank_data(backend, r, sizes[r], "float32" if dtype == "float32" else "int64")[1].astype(dtype) for r in range(c.size)])
    np.testing.assert_array_equal(backend.asnumpy(out), ref)
    # bytes: this rank's own block (plus the 8-byte count exchange)
    assert c.stats.by_op["allgatherv"].bytes == buf.nbytes
