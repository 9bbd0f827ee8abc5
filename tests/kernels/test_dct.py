import numpy as np

from hpcsketch.kernels.dct import dct, idct


def test_orthonormal(backend):
    xp = backend.xp
    n = 48
    eye = xp.eye(n)
    m = dct(eye)  # rows: the transform of each basis vector
    assert float(xp.abs(m @ m.T - eye).max()) < 1e-12
    x = xp.asarray(np.random.default_rng(0).standard_normal((3, n)))
    assert float(xp.abs(idct(dct(x)) - x).max()) < 1e-12
    # adjoint: <dct x, y> = <x, idct y>
    y = xp.asarray(np.random.default_rng(1).standard_normal((3, n)))
    assert abs(float(xp.vdot(dct(x), y)) - float(xp.vdot(x, idct(y)))) < 1e-10
