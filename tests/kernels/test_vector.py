import numpy as np
import pytest

from hpcsketch.kernels.topk import hard_threshold, hard_threshold_support, topk
from hpcsketch.kernels.vector import (
    axpy, axpy_masked_at, diff_dots, expand_scaled, extrapolate_at, gather_scaled, load_at, multiply_into, residual,
    restrict_at, union_sorted, zero_at,
)


def _strided(a):
    """The same values in a non-contiguous view: the helpers then take their array
    expression (the path CuPy runs) instead of the numba kernel."""
    b = np.empty(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    b[..., ::2] = a
    return b[..., ::2]


def _sparse(rng, n, dtype, density=0.05):
    x = rng.standard_normal(n).astype(dtype)
    x[rng.random(n) > density] = 0
    return x, np.flatnonzero(x).astype(np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_updates_equal_their_numpy_expressions(dtype):
    rng = np.random.default_rng(0)
    n = 5000
    g, s = _sparse(rng, n, dtype)
    gp, sp = _sparse(rng, n, dtype)
    r = rng.standard_normal(n).astype(dtype)
    a = 0.3183098861837907
    for host in (True, False):
        wrap = (lambda v: v) if host else _strided
        out = wrap(np.zeros(n, dtype))
        np.testing.assert_array_equal(axpy(out, wrap(g), a, wrap(r)), g + a * r)
        u = union_sorted(s, sp) if host else union_sorted(_strided(s), _strided(sp))
        np.testing.assert_array_equal(u, np.union1d(s, sp))
        w = wrap(np.zeros(n, dtype))
        extrapolate_at(w, u, wrap(g), wrap(gp), a)
        np.testing.assert_array_equal(w, g + a * (g - gp))
        zero_at(w, u)
        assert not w.any()
        kept, sq = restrict_at(u, wrap(g), wrap(r))
        np.testing.assert_array_equal(kept, s)
        assert sq == pytest.approx(float(np.sum(r[s].astype(np.float64) ** 2)), rel=1e-6)
        h = wrap(g.copy())
        axpy_masked_at(h, u, a, wrap(r))
        np.testing.assert_array_equal(h, g + a * np.where(g != 0, r, 0))
        v = wrap(np.empty(n, dtype))
        cv, vv = diff_dots(v, wrap(g), wrap(gp), wrap(r))
        np.testing.assert_array_equal(v, g - gp)
        assert cv == pytest.approx(float(np.dot(r.astype(np.float64), (g - gp).astype(np.float64))), rel=1e-6)
        assert vv == pytest.approx(float(np.sum((g - gp).astype(np.float64) ** 2)), rel=1e-6)
        res = wrap(np.empty(n, dtype))
        sq = residual(res, wrap(r), wrap(g), a, wrap(gp))
        np.testing.assert_array_equal(res, r - (g + a * gp))
        assert sq == pytest.approx(float(np.sum((r - (g + a * gp)).astype(np.float64) ** 2)), rel=1e-6)
        residual(res, wrap(r), wrap(g))
        np.testing.assert_array_equal(res, r - g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sensing_helpers(dtype):
    rng = np.random.default_rng(1)
    n, q = 4096, 500
    rows = np.sort(rng.choice(n, q, replace=False)).astype(np.int64)
    y = rng.standard_normal(q).astype(dtype)
    src = rng.standard_normal(n).astype(dtype)
    out = np.full(n, np.nan, dtype)
    expected = np.zeros(n, dtype)
    expected[rows] = y * 1.7
    np.testing.assert_array_equal(expand_scaled(out, rows, y, 1.7), expected)
    np.testing.assert_array_equal(gather_scaled(np.empty(q, dtype), src, rows, 1.7), src[rows] * 1.7)
    signs = (1 - 2 * rng.integers(0, 2, n)).astype(np.int8)
    np.testing.assert_array_equal(multiply_into(np.empty(n, dtype), src, signs), src * signs.astype(dtype))
    loaded = load_at(np.full(n, np.nan, dtype), rows, src, signs)
    expected = np.zeros(n, dtype)
    expected[rows] = src[rows] * signs[rows]
    np.testing.assert_array_equal(loaded, expected)


@pytest.mark.parametrize("n,k", [(1 << 17, 1310), (1 << 16, 5), (50000, 100), (1000, 10)])
@pytest.mark.parametrize("ties", [False, True])
def test_hard_threshold_support(n, k, ties):
    rng = np.random.default_rng(n + k)
    if ties:
        x, y = rng.integers(-4, 5, n).astype(np.float32), rng.integers(-2, 3, n).astype(np.float32)
    else:
        x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    a = 0.37
    u = x + a * y
    idx = topk(u, k)
    expected = np.zeros(n, np.float32)
    expected[idx] = u[idx]
    for out_zero in (False, True):
        out = np.zeros(n, np.float32) if out_zero else np.full(n, np.nan, np.float32)
        kept = hard_threshold_support(out, x, k, a=a, y=y, out_zero=out_zero)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(kept, np.sort(idx))
    out = np.full(n, np.nan, np.float32)
    kept = hard_threshold_support(_strided(out), _strided(x), k, a=a, y=_strided(y))  # the array path
    np.testing.assert_array_equal(kept, np.sort(idx))
    np.testing.assert_array_equal(hard_threshold(x, k), hard_threshold(_strided(x), k))
    inplace = x.copy()
    assert hard_threshold(inplace, k, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, hard_threshold(x, k))
