"""Reduce_scatter returns this rank's block of the sum (blocks differ by at most one). # mpi-sizes: 4, 3"""

import numpy as np
import pytest

from _comm_helpers import make_comm, rank_data
from hpcsketch.comm.reduce_scatter import block_counts

pytestmark = pytest.mark.mpi(min_size=2)


@pytest.mark.parametrize("n", [5, 1001])
def test_reduce_scatter(backend, comm, n):
    c = make_comm(backend)
    buf, _ = rank_data(backend, c.rank, n, "float64")
    ref = sum(rank_data(backend, r, n, "float64")[1] for r in range(c.size))
    counts = block_counts(n, c.size)
    lo = sum(counts[: c.rank])
    out = c.reduce_scatter(buf)
    np.testing.assert_allclose(backend.asnumpy(out), ref[lo : lo + counts[c.rank]], rtol=1e-12)
