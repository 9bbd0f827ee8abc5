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


def test_object_collectives_count_their_pickles(np_backend, comm):
    """bcast_object and allgather_object count the pickle mpi4py hands to MPI (they counted 0 bytes)."""
    import pickle

    c = make_comm(np_backend)
    obj = {"rank": c.rank, "payload": list(range(50 * (c.rank + 1)))}
    size = len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    with c.category("setup"):
        got = c.allgather_object(obj)
        c.bcast_object(obj, root=1)
    assert [g["rank"] for g in got] == list(range(c.size))
    assert c.stats.by_op["allgather_object"].bytes == size
    assert c.stats.by_op["bcast_object"].bytes == (size if c.rank == 1 else 0)
    assert c.stats.take("setup").bytes == c.stats.by_op["allgather_object"].bytes + c.stats.by_op["bcast_object"].bytes
