"""Client partitions: coverage, non-empty clients, skew, the CS-SGD shards case, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpcsketch.data import partition as part
from hpcsketch.errors import BadInput


def _labels(n: int, classes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, classes, size=n)


def _check_cover(parts: list[np.ndarray], n_items: int, n_clients: int) -> None:
    assert len(parts) == n_clients
    assert all(len(p) > 0 for p in parts)
    allidx = np.concatenate(parts)
    assert len(allidx) == n_items
    assert np.array_equal(np.sort(allidx), np.arange(n_items))


@settings(max_examples=15, deadline=None)
@given(
    n_items=st.integers(20, 400),
    frac=st.floats(0.01, 1.0),
    classes=st.integers(1, 10),
    scheme=st.sampled_from(["iid", "dirichlet", "shards"]),
    alpha=st.sampled_from([0.01, 0.3, 5.0]),
    seed=st.integers(0, 2**31),
)
def test_every_index_once_and_no_empty_client(n_items, frac, classes, scheme, alpha, seed):
    labels = _labels(n_items, classes, seed)
    shards = 2
    n = max(1, int(frac * n_items) // (shards if scheme == "shards" else 1))
    parts = part.partition(labels, {"count": n, "partition": scheme, "alpha": alpha, "shards": shards}, seed)
    _check_cover(parts, n_items, n)


def test_dirichlet_repairs_empty_clients():
    # 300 clients over 400 samples at alpha 0.01: a raw draw leaves many clients empty.
    labels = _labels(400, 10)
    parts = part.dirichlet(labels, 300, 0.01, seed=3)
    _check_cover(parts, 400, 300)


def test_dirichlet_skew_grows_as_alpha_shrinks():
    labels = np.repeat(np.arange(10), 300)
    skew = [part.label_skew(labels, part.dirichlet(labels, 20, a, seed=1)) for a in (100.0, 1.0, 0.05)]
    assert skew[0] < 0.15  # near iid
    assert skew[0] < skew[1] < skew[2]
    assert skew[2] > 0.6  # most clients hold one or two classes
    iid_skew = part.label_skew(labels, part.iid(len(labels), 20, seed=1))
    assert iid_skew < 0.15


def test_cs_sgd_noniid_shards_10000_clients_of_5_single_class_images():
    labels = np.random.default_rng(7).permutation(np.repeat(np.arange(10), 5000))  # CIFAR-10 train labels' shape
    parts = part.partition(labels, {"count": 10000, "partition": "shards", "shards": 1}, seed=0)
    _check_cover(parts, 50000, 10000)
    sizes = np.array([len(p) for p in parts])
    assert (sizes == 5).all()
    assert all(len(np.unique(labels[p])) == 1 for p in parts)
    # every class is spread over 1000 clients
    per_class = np.bincount([labels[p[0]] for p in parts], minlength=10)
    assert (per_class == 1000).all()


def test_shards_two_per_client_hold_at_most_two_classes():
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 100))
    parts = part.shards(labels, 50, 2, seed=4)
    _check_cover(parts, 1000, 50)
    assert max(len(np.unique(labels[p])) for p in parts) <= 2
    assert len({len(np.unique(labels[p])) for p in parts}) >= 1


@pytest.mark.parametrize("scheme", ["iid", "dirichlet", "shards"])
def test_deterministic_in_seed(scheme):
    labels = _labels(500, 10)
    opts = {"count": 25, "partition": scheme, "alpha": 0.5, "shards": 2}
    a = part.partition(labels, opts, 11)
    b = part.partition(labels, opts, 11)
    c = part.partition(labels, opts, 12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize(
    "opts, field",
    [
        ({"count": 101, "partition": "iid"}, "[clients] count"),
        ({"count": 0, "partition": "iid"}, "[clients] count"),
        ({"count": 60, "partition": "shards", "shards": 2}, "[clients] count"),
        ({"count": 10, "partition": "shards", "shards": 0}, "[clients] shards"),
        ({"count": 10, "partition": "dirichlet", "alpha": 0.0}, "[clients] alpha"),
        ({"count": 10, "partition": "bogus"}, "[clients] partition"),
    ],
)
def test_bad_client_options(opts, field):
    with pytest.raises(BadInput) as err:
        part.partition(_labels(100, 10), opts, 0)
    assert err.value.field == field
    assert "\n" not in str(err.value)
