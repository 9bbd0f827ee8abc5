"""Bcast from every root. # mpi-sizes: 4, 3"""

import numpy as np
import pytest

from _comm_helpers import make_comm, rank_data

pytestmark = pytest.mark.mpi(min_size=2)


def test_bcast_every_root(backend, comm):
    c = make_comm(backend)
    for root in range(c.size):
        buf, _ = rank_data(backend, c.rank, 513)
        c.bcast(buf, root=root)
        np.testing.assert_array_equal(backend.asnumpy(buf), rank_data(backend, root, 513)[1])
    # only the root's send counts as bytes handed to MPI
    assert c.stats.by_op["bcast"].bytes == buf.nbytes
