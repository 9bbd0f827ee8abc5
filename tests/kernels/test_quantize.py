import numpy as np
from hypothesis import given, settings, strategies as st

from hpcsketch.kernels.quantize import (
    pack_bits, pack_uint, qsgd_decode, qsgd_encode, qsgd_nbytes, sign_decode, sign_encode, sign_nbytes, uniform, unpack_bits,
    unpack_uint,
)
from hpcsketch.kernels.randk import randk, randk_indices, scatter


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 200), bits=st.integers(1, 12), seed=st.integers(0, 2**31))
def test_bit_packing_roundtrip(n, bits, seed):
    rng = np.random.default_rng(seed)
    b = rng.random(n) < 0.5
    p = pack_bits(b)
    assert p.dtype == np.uint8 and p.size == (n + 7) // 8
    assert (unpack_bits(p, n) == b).all()
    v = rng.integers(0, 1 << bits, n)
    pv = pack_uint(v, bits)
    assert pv.size == bits * ((n + 7) // 8)
    assert (unpack_uint(pv, n, bits) == v).all()


def test_qsgd_payload_and_levels(backend):
    xp = backend.xp
    x = xp.asarray(np.random.default_rng(0).standard_normal(1001).astype(np.float32))
    p = qsgd_encode(x, 7, uniform(1001, 1, xp))
    assert p.dtype == xp.uint8 and p.size == qsgd_nbytes(1001, 7) == 4 + 126 * (1 + 3)
    y = qsgd_decode(p, 1001, 7)
    norm = float(xp.linalg.norm(x))
    lv = backend.asnumpy(xp.abs(y)) * 7 / norm
    assert np.allclose(lv, np.round(lv), atol=1e-3) and lv.max() <= 7 + 1e-3
    assert (backend.asnumpy(xp.sign(y))[lv > 0.5] == backend.asnumpy(xp.sign(x))[lv > 0.5]).all()
    zero = qsgd_decode(qsgd_encode(xp.zeros(10, dtype=xp.float32), 4, uniform(10, 0, xp)), 10, 4)
    assert float(xp.abs(zero).max()) == 0.0


def test_sign(backend):
    xp = backend.xp
    x = xp.asarray(np.array([1.0, -2.0, 0.0, 4.0, -1.0], np.float32))
    p = sign_encode(x)
    assert p.size == sign_nbytes(5) == 5
    np.testing.assert_allclose(backend.asnumpy(sign_decode(p, 5)), [1.6, -1.6, 1.6, 1.6, -1.6], rtol=1e-6)


def test_randk_indices_and_scatter(backend):
    xp = backend.xp
    idx = randk_indices(100, 10, 3, xp)
    assert len(set(backend.asnumpy(idx).tolist())) == 10
    assert (backend.asnumpy(idx) == randk_indices(100, 10, 3)).all()
    x = xp.arange(100, dtype=xp.float32)
    i, v = randk(x, 10, 3)
    assert float(xp.abs(v - x[i] * 10).max()) == 0
    assert float(scatter(i, v, 100).sum()) == float(v.sum())


def test_qsgd_fused_encoder_matches_the_array_expression():
    # the one-pass CPU encoder against the level/sign/plane expression it replaces
    rng = np.random.default_rng(5)
    for n in (1, 9, 64, 1023, 1025, 70001):
        for s in (1, 7, 16, 255):
            x = rng.standard_normal(n).astype(np.float32)
            x[rng.random(n) < 0.1] = 0
            x[0] = 1.5  # a non-zero norm (the zero vector has its own branch)
            u = uniform(n, n + s)
            norm = np.linalg.norm(x)
            lv = np.minimum(np.floor(np.abs(x) * (s / norm) + u), s).astype(np.uint32)
            bits = int(s).bit_length()
            expected = np.concatenate([np.float32(norm).reshape(1).view(np.uint8), pack_bits(x < 0), pack_uint(lv, bits)])
            np.testing.assert_array_equal(qsgd_encode(x, s, u), expected)
