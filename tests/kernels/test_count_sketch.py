import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hpcsketch.kernels.count_sketch import (
    cs_accumulate, cs_accumulate_sparse, cs_estimate, cs_heavy_hitters, cs_l2_estimate, cs_merge, cs_sketch, cs_zero_cells,
)
from hpcsketch.kernels.hashing import buckets_signs, sketch_hash


def _reference(x, h, cols, start=0):
    b, s = buckets_signs(h, np.arange(start, start + x.size), cols, np.float64)
    t = np.zeros((h.rows, cols))
    for r in range(h.rows):
        np.add.at(t[r], b[r], s[r] * x)
    return t


@settings(max_examples=15, deadline=None)
@given(d=st.integers(1, 3000), cols=st.integers(1, 300), rows=st.integers(1, 7), seed=st.integers(0, 2**31))
def test_linear_and_matches_reference(d, cols, rows, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(d), rng.standard_normal(d)
    h = sketch_hash(seed, rows)
    sa, sb = cs_sketch(a, h, cols, np.float64), cs_sketch(b, h, cols, np.float64)
    np.testing.assert_allclose(cs_sketch(a + b, h, cols, np.float64), cs_merge(sa, sb), atol=1e-9)
    np.testing.assert_allclose(sa, _reference(a, h, cols), atol=1e-9)


def test_offset_runs_cross_16bit_boundary():
    h = sketch_hash(3, 5)
    x = np.random.default_rng(0).standard_normal(5000)
    t = np.zeros((5, 97))
    cs_accumulate(t, x, h, start=65536 - 2000)
    np.testing.assert_allclose(t, _reference(x, h, 97, start=65536 - 2000), atol=1e-9)


def test_hash_distribution():
    h = sketch_hash(9, 4)
    b, s = buckets_signs(h, np.arange(1 << 16), 64)
    counts = np.stack([np.bincount(b[r], minlength=64) for r in range(4)])
    expected = (1 << 16) / 64
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=1)
    assert (chi2 < 63 + 6 * np.sqrt(2 * 63)).all()  # 6 sigma of chi^2(63)
    assert (np.abs(s.mean(axis=1)) < 6 / np.sqrt(1 << 16)).all()


def test_estimates_heavy_hitters_and_zero_cells(backend):
    xp = backend.xp
    d, cols = 20000, 2000
    rng = np.random.default_rng(1)
    x = 0.01 * rng.standard_normal(d)
    heavy = rng.choice(d, 10, replace=False)
    x[heavy] = 10 * (1 + rng.random(10))
    h = sketch_hash(5, 5, xp)
    t = cs_sketch(xp.asarray(x), h, cols, xp.float64)
    med = backend.asnumpy(cs_estimate(t, h, d))
    assert np.abs(med[heavy] - x[heavy]).max() < 0.5
    mean_all = cs_estimate(t, h, d, how="mean")
    mean_idx = cs_estimate(t, h, d, how="mean", idx=xp.arange(d))
    assert float(xp.abs(mean_all - mean_idx).max()) < 1e-9
    assert float(xp.abs(cs_estimate(t, h, d, idx=xp.arange(d)) - xp.asarray(med)).max()) < 1e-9
    idx, vals = cs_heavy_hitters(t, h, d, 10)
    assert set(backend.asnumpy(idx).tolist()) == set(heavy.tolist())
    assert abs(cs_l2_estimate(t) - np.linalg.norm(x)) < 0.2 * np.linalg.norm(x)
    # the sketch of the sparse part, subtracted, leaves the sketch of the rest
    rest = cs_accumulate_sparse(t.copy(), xp.asarray(heavy), -xp.asarray(x[heavy]), h)
    x2 = x.copy()
    x2[heavy] = 0
    assert float(xp.abs(rest - cs_sketch(xp.asarray(x2), h, cols, xp.float64)).max()) < 1e-9
    z = cs_zero_cells(t.copy(), h, xp.asarray(heavy))
    b, _ = buckets_signs(h, xp.asarray(heavy), cols)
    assert float(xp.abs(z[xp.arange(5)[:, None], b]).max()) == 0.0


@pytest.mark.gpu
def test_numpy_cupy_agree():
    from hpcsketch.backend import cupy_module

    cp = cupy_module()
    if cp is None:
        pytest.skip("no GPU")
    x = np.random.default_rng(0).standard_normal(300000).astype(np.float32)
    h = sketch_hash(2, 5)
    b_np, s_np = buckets_signs(h, np.arange(300000), 777)
    b_cp, s_cp = buckets_signs(h.to(cp), cp.arange(300000), 777)
    assert (cp.asnumpy(b_cp) == b_np).all() and (cp.asnumpy(s_cp) == s_np).all()
    t_np = cs_sketch(x, h, 777)
    t_cp = cs_sketch(cp.asarray(x), h.to(cp), 777)
    np.testing.assert_allclose(cp.asnumpy(t_cp), t_np, atol=1e-3)
    np.testing.assert_allclose(cp.asnumpy(cs_estimate(t_cp, h.to(cp), 300000)), cs_estimate(t_np, h, 300000), atol=1e-3)


@pytest.mark.parametrize("k", range(1, 33))
def test_median_network_selects_the_middle(k):
    from hpcsketch.kernels._cs_cpu import median_network

    net = median_network(k)
    assert all(0 <= a < b < k for a, b in net)
    rng = np.random.default_rng(k)
    v = rng.integers(-3, 4, size=(k, 4000)).astype(np.float64)  # many ties
    v[:, :100] = rng.standard_normal((k, 100))
    w = v.copy()
    for a, b in net:
        lo, hi = np.minimum(w[a], w[b]), np.maximum(w[a], w[b])
        w[a], w[b] = lo, hi
    mid = w[k // 2] if k % 2 else 0.5 * (w[k // 2 - 1] + w[k // 2])
    np.testing.assert_array_equal(mid, np.median(v, axis=0))


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_estimates_match_the_array_path(rows, dtype):
    d, cols = 70000, 500  # crosses a 2^16 run boundary
    x = np.random.default_rng(rows).standard_normal(d).astype(dtype)
    h = sketch_hash(11 + rows, rows)
    t = cs_sketch(x, h, cols, dtype)
    np.testing.assert_allclose(t, _reference(x.astype(np.float64), h, cols), rtol=1e-4 if dtype == np.float32 else 1e-9,
                               atol=1e-3 if dtype == np.float32 else 1e-9)
    for how in ("median", "mean"):
        fast = cs_estimate(t, h, d, how=how)
        ref = cs_estimate(t, h, d, how=how, idx=np.arange(d))  # buckets_signs + np.median / mean
        assert fast.dtype == t.dtype
        np.testing.assert_allclose(fast, ref, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("rows,start", [(1, 0), (5, 0), (5, 65536 - 3000), (8, 123)])
def test_accumulate_bitwise_as_a_plain_loop(rows, start):
    # the kernel runs row by row; every cell must still sum its terms in increasing j
    x = np.random.default_rng(rows).standard_normal(140000).astype(np.float32)
    h = sketch_hash(21 + rows, rows)
    cols = 1500
    b, s = buckets_signs(h, np.arange(start, start + x.size), cols, np.float32)
    expected = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        np.add.at(expected[r], b[r], s[r] * x)  # unbuffered: in index order, in float32
    np.testing.assert_array_equal(cs_accumulate(np.zeros((rows, cols), np.float32), x, h, start=start), expected)
    # accumulating adds to what the table holds
    t = cs_accumulate(np.ones((rows, cols), np.float32), x, h, start=start)
    assert np.abs((t - 1) - expected).max() < 1e-4
