import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.linalg import hadamard

from hpcsketch.kernels.fwht import fwht, next_pow2


@settings(max_examples=25, deadline=None)
@given(m=st.integers(0, 11), rows=st.integers(1, 3), seed=st.integers(0, 2**31), dtype=st.sampled_from(["float32", "float64"]))
def test_matches_hadamard(m, rows, seed, dtype):
    n = 1 << m
    x = np.random.default_rng(seed).standard_normal((rows, n)).astype(dtype)
    ref = x.astype(np.float64) @ hadamard(n)
    tol = 1e-4 * np.sqrt(n) if dtype == "float32" else 1e-10 * n
    np.testing.assert_allclose(fwht(x), ref, atol=tol)


@pytest.mark.parametrize("m", [4, 13, 14, 17, 20])
def test_self_inverse_blocked_sizes(backend, m):
    # 2^14 and up exercise the column phase (block + strided strips)
    xp = backend.xp
    x = xp.asarray(np.random.default_rng(m).standard_normal(1 << m))
    y = fwht(x, normalized=True)
    assert float(xp.abs(fwht(y, normalized=True) - x).max()) < 1e-10
    assert abs(float(xp.linalg.norm(y)) - float(xp.linalg.norm(x))) < 1e-8 * float(xp.linalg.norm(x))


def test_large_against_numpy_reference():
    n = 1 << 16
    x = np.random.default_rng(0).standard_normal(n)
    ref = x.copy()
    h = 1
    while h < n:  # plain reshape butterflies
        v = ref.reshape(-1, 2, h)
        ref = np.stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]], axis=1).reshape(n)
        h *= 2
    np.testing.assert_allclose(fwht(x), ref, atol=1e-9 * n)


def test_inplace_batched_and_padding(backend):
    xp = backend.xp
    x = xp.asarray(np.random.default_rng(1).standard_normal((2, 3, 64)).astype(np.float32))
    expect = fwht(x)
    out = fwht(x, inplace=True)
    assert out is x
    assert float(xp.abs(out - expect).max()) == 0.0
    z = xp.asarray(np.arange(5.0))
    padded = fwht(z)
    assert padded.shape == (8,)
    np.testing.assert_allclose(backend.asnumpy(padded), np.r_[np.arange(5.0), 0, 0, 0] @ hadamard(8))
    with pytest.raises(ValueError):
        fwht(z, inplace=True)
    assert next_pow2(5) == 8 and next_pow2(8) == 8 and next_pow2(1) == 1


@pytest.mark.gpu
def test_numpy_cupy_agree():
    cp = pytest.importorskip("cupy")
    from hpcsketch.backend import cupy_module

    if cupy_module() is None:
        pytest.skip("no GPU")
    for m in (3, 12, 13, 18, 22):
        x = np.random.default_rng(m).standard_normal((2, 1 << m)).astype(np.float32)
        np.testing.assert_allclose(cp.asnumpy(fwht(cp.asarray(x), normalized=True)), fwht(x, normalized=True), atol=1e-4)
