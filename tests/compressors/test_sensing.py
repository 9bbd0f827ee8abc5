import numpy as np
import pytest

from hpcsketch.compressors.count_sketch import CountSketch
from hpcsketch.compressors.gaussian import GaussianSketch
from hpcsketch.compressors.perm_q import PermQ
from hpcsketch.compressors.subsampled_dct import SubsampledDCT
from hpcsketch.compressors.subsampled_wht import SubsampledWHT
from hpcsketch.errors import BadInput


@pytest.mark.parametrize("cls,d", [(SubsampledWHT, 100), (SubsampledWHT, 128), (SubsampledDCT, 100)])
@pytest.mark.parametrize("signs", [False, True])
def test_phi_rows_orthogonal_scaled_and_adjoint(backend, cls, d, signs):
    xp = backend.xp
    op = cls(d, {"ratio": 4, "signs": signs}, backend, seed=1, dtype="float64")
    q, dp = op.q, op.padded
    # dense Phi over the padded space, built column by column through forward (test only)
    phi = backend.asnumpy(op.forward(xp.eye(d)).T)  # (q, d)
    if dp == d:
        np.testing.assert_allclose(phi @ phi.T, (dp / q) * np.eye(q), atol=1e-9)
    y = xp.asarray(np.random.default_rng(0).standard_normal(q))
    np.testing.assert_allclose(backend.asnumpy(op.adjoint(y)), phi.T @ backend.asnumpy(y), atol=1e-9)


def test_phi_transpose_phi_identity_in_expectation(np_backend):
    d, trials = 64, 3000
    acc = np.zeros((d, d))
    op = SubsampledWHT(d, {"ratio": 4}, np_backend, seed=0, dtype="float64")
    for t in range(trials):
        op.resample(t)
        phi = op.forward(np.eye(d)).T
        acc += phi.T @ phi
    acc /= trials
    # each entry of Phi^T Phi has variance <= (d/q)^2 / q ... bound by 6 standard errors
    assert np.abs(acc - np.eye(d)).max() < 6 * (d / op.q) / np.sqrt(trials)


def test_gaussian_and_refusal(np_backend):
    g = GaussianSketch(300, {"ratio": 3}, np_backend, seed=0, dtype="float64")
    assert g.matrix.shape == (100, 300)
    assert abs(np.mean(np.sum(g.matrix**2, axis=0)) - 1) < 0.05  # diag(R^T R) ~ 1
    with pytest.raises(BadInput, match=r"\[compressor\] kind"):
        GaussianSketch(1 << 20, {"ratio": 2}, np_backend, seed=0)


def test_perm_q_blocks(np_backend):
    d, n = 103, 5
    p = PermQ(d, {"blocks": n}, np_backend, seed=4)
    blocks = [p.block(i) for i in range(n)]
    assert sorted(np.concatenate(blocks).tolist()) == list(range(d))
    assert sorted(len(b) for b in blocks) == [20, 20, 21, 21, 21]
    x = np.random.default_rng(0).standard_normal(d).astype(np.float32)
    payloads = []
    for i in range(n):
        p.set_client(i)
        payloads.append(p.compress(x))
        assert np.allclose(p.decompress(payloads[-1])[blocks[i]], n * x[blocks[i]])
    np.testing.assert_allclose(p.assemble(payloads), x, rtol=1e-6)
    with pytest.raises(BadInput):
        PermQ(3, {"blocks": 4}, np_backend, seed=0)


def test_count_sketch_compressor(np_backend):
    d = 5000
    c = CountSketch(d, {"ratio": 5, "rows": 5}, np_backend, seed=2)
    assert c.cols == 200 and c.payload_nbytes() == 5 * 200 * 4
    c2 = CountSketch(d, {"cols": 300, "rows": 3}, np_backend, seed=2)
    assert c2.compress(np.ones(d, np.float32)).shape == (3, 300)
    x = np.zeros(d, np.float32)
    x[[10, 20, 30]] = [5, -7, 9]
    t = c.compress(x)
    idx, vals = c.heavy_hitters(t, 3)
    assert sorted(idx.tolist()) == [10, 20, 30]
    np.testing.assert_allclose(c.sketch_sparse(np.array([10, 20, 30]), np.array([5.0, -7, 9])), t, atol=1e-6)
    assert abs(c.l2_estimate(t) - np.linalg.norm(x)) < 1e-4
