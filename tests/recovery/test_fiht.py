import numpy as np
import pytest

from hpcsketch.compressors.count_sketch import CountSketch
from hpcsketch.compressors.subsampled_dct import SubsampledDCT
from hpcsketch.compressors.subsampled_wht import SubsampledWHT
from hpcsketch.recovery.fiht import fiht
from hpcsketch.recovery.heavy_hitters import heavy_hitters
from hpcsketch.recovery.transpose import transpose_desketch


def _sparse(d, k, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros(d)
    x[rng.choice(d, k, replace=False)] = rng.standard_normal(k)
    return x


@pytest.mark.parametrize("cls", [SubsampledWHT, SubsampledDCT])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_recovery_of_sparse(backend, cls, seed):
    d, k = 4096, 40
    q = int(4 * k * np.log(d) / np.log(4))  # O(K log d) measurements (~ 6K here)
    op = cls(d, {"ratio": d / q}, backend, seed=seed, dtype="float64")
    x = _sparse(d, k, seed)
    res = fiht(op, op.forward(backend.asarray(x)), k)
    xh = backend.asnumpy(res.x)
    assert np.linalg.norm(xh - x) <= 1e-6 * np.linalg.norm(x)
    assert res.stopped == "tiny" and res.iterations <= 25 and len(res.residuals) == res.iterations


def test_approximately_sparse_close_to_best_k_term(np_backend):
    d, k = 1 << 14, 100
    rng = np.random.default_rng(3)
    x = _sparse(d, k, 3) * 10 + 0.01 * rng.standard_normal(d)
    op = SubsampledWHT(d, {"ratio": d / (12 * k)}, np_backend, seed=3, dtype="float64")
    res = fiht(op, op.forward(x), k)
    best = np.sort(np.abs(x))[:-k]
    best_err = np.linalg.norm(best)  # error of the best K-term approximation
    assert np.linalg.norm(res.x - x) <= 3 * best_err
    assert res.stopped in ("tiny", "stalled")


def test_stopping_rule_and_max_iter(np_backend):
    d, k = 1024, 10
    op = SubsampledWHT(d, {"ratio": 8}, np_backend, seed=0, dtype="float64")
    noise = np.random.default_rng(0).standard_normal(d)
    res = fiht(op, op.forward(noise), k, max_iter=25)
    assert res.stopped == "stalled"
    last = res.residuals[-4:]
    assert (max(last) - min(last)) / max(last) < 1e-2
    res = fiht(op, op.forward(noise), k, max_iter=3, spread=-1)
    assert res.iterations == 3 and res.stopped == "max_iter"


def test_transpose_and_heavy_hitters(np_backend):
    d = 2000
    x = np.zeros(d, np.float32)
    x[[3, 500, 1999]] = [4, -6, 8]
    cs = CountSketch(d, {"cols": 100, "rows": 5}, np_backend, seed=0)
    t = cs.compress(x)
    np.testing.assert_allclose(heavy_hitters(cs, t, 3), x, atol=1e-5)
    op = SubsampledWHT(2048, {"ratio": 1}, np_backend, seed=0)
    x = np.r_[x, np.zeros(48, np.float32)]
    np.testing.assert_allclose(transpose_desketch(op, op.forward(x)), x, atol=1e-5)  # Q = d': Phi orthogonal
    np.testing.assert_allclose(transpose_desketch(cs, t), cs.decompress(t))


class _PlainOperator:
    """Only forward(x) and adjoint(y): FIHT's fallbacks (new arrays, dense masked copies)."""

    def __init__(self, op):
        self.op = op

    def forward(self, x):
        return self.op.forward(x)

    def adjoint(self, y):
        return self.op.adjoint(y)


@pytest.mark.parametrize("signs", [True, False])
def test_fast_products_match_a_plain_operator(np_backend, signs):
    d, k = 1 << 15, 80
    op = SubsampledWHT(d, {"ratio": d / (10 * k), "signs": signs}, np_backend, seed=4, dtype="float64")
    x = _sparse(d, k, 4)
    z = op.forward(x)
    fast, plain = fiht(op, z, k, max_iter=6, spread=-1), fiht(_PlainOperator(op), z, k, max_iter=6, spread=-1)
    assert fast.iterations == plain.iterations == 6
    np.testing.assert_allclose(fast.x, plain.x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.residuals, plain.residuals, rtol=1e-6)
