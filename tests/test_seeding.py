import numpy as np

from hpcsketch import seeding


def test_streams_are_deterministic_and_distinct():
    assert seeding.derive(0, "batch", 3, 7) == seeding.derive(0, "batch", 3, 7)
    keys = {seeding.derive(0, "batch", t, c) for t in range(20) for c in range(20)}
    assert len(keys) == 400
    assert seeding.derive(0, "a") != seeding.derive(1, "a")
    assert seeding.derive(0, "a") != seeding.derive(0, "b")
    a = seeding.rng(5, "x", 1).standard_normal(4)
    b = seeding.rng(5, "x", 1).standard_normal(4)
    np.testing.assert_array_equal(a, b)
    assert 0 <= seeding.derive(2**63, "big") < 2**63
