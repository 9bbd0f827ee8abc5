import numpy as np
import pytest

from hpcsketch.clients import ClientLayout


@pytest.mark.parametrize("n,P", [(8, 4), (10, 4), (100, 3), (4, 4), (1, 1)])
def test_blocks_cover_clients_once(n, P):
    seen = np.concatenate([ClientLayout(n, P, r).local for r in range(P)])
    np.testing.assert_array_equal(seen, np.arange(n))
    sizes = [len(ClientLayout(n, P, r).local) for r in range(P)]
    assert max(sizes) - min(sizes) <= 1
    for c in range(n):
        assert ClientLayout(n, P, 0).owner(c) == next(r for r in range(P) if ClientLayout(n, P, r).is_local(c))


def test_sampling_independent_of_rank_count():
    a = ClientLayout(100, 1, 0, participation=0.1, seed=3)
    b = ClientLayout(100, 4, 2, participation=0.1, seed=3)
    for t in range(10):
        s = a.sample(t)
        np.testing.assert_array_equal(s, b.sample(t))
        assert len(s) == 10 and len(set(s)) == 10 and np.all(np.diff(s) > 0)
    parts = np.concatenate([ClientLayout(100, 4, r, 0.1, 3).local_of(a.sample(5)) for r in range(4)])
    np.testing.assert_array_equal(parts, a.sample(5))
    assert not np.array_equal(a.sample(0), a.sample(1))


def test_too_few_clients():
    with pytest.raises(ValueError):
        ClientLayout(3, 4, 0)
