"""The quadratic testbed: generated structure, exact gradients, minimiser, evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from hpcsketch.errors import BadInput
from hpcsketch.problems import REGISTRY
from numeric import fd_grad, host64


def quad(backend, clients=5, seed=0, **opts):
    base = {"kind": "quadratic", "dim": 12}
    return REGISTRY.get("quadratic")({**base, **opts}, {"count": clients}, backend, seed)


def test_gradients_match_finite_differences(backend):
    p = quad(backend)
    x = np.random.default_rng(0).standard_normal(p.dim)
    for c in range(p.num_clients):
        loss, g = p.loss_grad(backend.asarray(x), c, key=1)
        assert abs(float(loss) - p.client_objective(x, c)) < 1e-12
        fd = fd_grad(lambda z: p.client_objective(z, c), x)
        assert np.allclose(host64(backend, g), fd, atol=1e-7)
        assert np.allclose(host64(backend, p.full_grad(backend.asarray(x), c)), fd, atol=1e-7)
    assert np.allclose(host64(backend, p.grad(backend.asarray(x))), fd_grad(p.objective, x), atol=1e-7)


def test_structure_mean_hessian_condition_and_psd(np_backend):
    p = quad(np_backend, clients=6, condition=50.0, hessian_heterogeneity=1.0)
    hs = [p.hessian(c) for c in range(6)]
    assert np.allclose(np.mean(hs, axis=0), p.hessian(), atol=1e-12)
    lam = np.linalg.eigvalsh(p.hessian())
    assert abs(lam.max() - 1) < 1e-12 and abs(lam.max() / lam.min() - 50) < 1e-8
    for h in hs:
        assert np.allclose(h, h.T)
        assert np.linalg.eigvalsh(h).min() > -1e-12
    assert np.allclose(p.diag_hessian(2), np.diag(hs[2]))


def test_hessian_heterogeneity_zero_is_homogeneous_and_grows():
    from hpcsketch.backend import select_backend

    be = select_backend("numpy")

    def spread(h):
        p = quad(be, clients=6, hessian_heterogeneity=h)
        return np.mean([np.linalg.norm(p.hessian(c) - p.hessian()) for c in range(6)])

    assert spread(0.0) == 0.0
    assert 0 < spread(0.2) < spread(0.6) < spread(1.0)


def test_x_star_minimises(backend):
    p = quad(backend, hessian_heterogeneity=0.7, minimizer_heterogeneity=2.0)
    xs = backend.asarray(p.x_star)
    assert np.linalg.norm(host64(backend, p.grad(xs))) < 1e-10
    assert np.linalg.norm(sum(host64(backend, p.full_grad(xs, c)) for c in range(5)) / 5) < 1e-10
    assert abs(p.objective(p.x_star) - p.f_star) < 1e-14
    gen = np.random.default_rng(1)
    for _ in range(5):
        assert p.objective(p.x_star + 1e-3 * gen.standard_normal(p.dim)) > p.f_star
    # not interpolating: the clients' own minimisers differ from x*
    assert np.linalg.norm(host64(backend, p.full_grad(xs, 0))) > 1e-3


def test_interpolation_every_client_minimised_at_zero(np_backend):
    p = quad(np_backend, interpolation=True, hessian_heterogeneity=0.5)
    assert np.array_equal(p.x_star, np.zeros(p.dim)) and p.f_star == 0.0
    for c in range(5):
        assert np.array_equal(p.full_grad(np.zeros(p.dim), c), np.zeros(p.dim))
    assert np.linalg.norm(p.init_params()) > 0.3  # never starts at the solution


def test_minimizer_heterogeneity_spreads_client_minimisers(np_backend):
    def spread(m):
        p = quad(np_backend, hessian_heterogeneity=0.0, minimizer_heterogeneity=m)
        mins = [np.linalg.solve(p.hessian(c), p.full_grad(np.zeros(p.dim), c) * -1) for c in range(5)]
        return np.mean([np.linalg.norm(m_ - p.x_star) for m_ in mins])

    assert spread(0.0) < 1e-8
    assert 0.2 < spread(1.0) < spread(3.0)


def test_noise_is_keyed_and_unbiased(np_backend):
    p = quad(np_backend, noise=0.5)
    x = p.init_params()
    exact = p.full_grad(x, 1)
    a = p.loss_grad(x, 1, 10)[1].copy()
    b = p.loss_grad(x, 1, 10)[1].copy()
    assert np.array_equal(a, b) and not np.allclose(a, exact)
    draws = np.array([p.loss_grad(x, 1, k)[1] - exact for k in range(400)])
    assert abs(draws.std() - 0.5) < 0.03
    assert np.abs(draws.mean(axis=0)).max() < 4 * 0.5 / np.sqrt(400)
    q = quad(np_backend)
    assert np.array_equal(q.loss_grad(x, 1, 3)[1], q.full_grad(x, 1))  # noise 0: deterministic


def test_evaluate_reports_once(np_backend):
    p = quad(np_backend)
    x = p.init_params()
    parts = [p.evaluate(x, i, 3) for i in range(3)]
    assert parts[0]["count"] == 1 and parts[1]["count"] == 0 and parts[2] == {k: 0.0 for k in parts[0]}
    r = parts[0]
    assert abs(r["loss_sum"] - p.objective(x)) < 1e-14
    assert abs(r["gap"] - (p.objective(x) - p.f_star)) < 1e-12 and r["gap"] > 0
    assert abs(r["dist"] - np.linalg.norm(x - p.x_star)) < 1e-14
    assert abs(r["grad_norm"] - np.linalg.norm(p.grad(x))) < 1e-12


def test_seed_dtype_and_limits(np_backend):
    a, b, c = quad(np_backend, seed=1), quad(np_backend, seed=1), quad(np_backend, seed=2)
    assert np.array_equal(a.hessian(3), b.hessian(3)) and not np.allclose(a.hessian(3), c.hessian(3))
    f = quad(np_backend, dtype="float32")
    x = f.init_params()
    assert x.dtype == np.float32 and f.loss_grad(x, 0, 0)[1].dtype == np.float32
    assert f.x_star.dtype == np.float64
    with pytest.raises(BadInput) as err:
        quad(np_backend, clients=100, dim=2000)
    assert err.value.field == "[problem] dim"
    with pytest.raises(BadInput) as err:
        quad(np_backend, hessian_heterogeneity=2.0)
    assert err.value.field == "[problem] hessian_heterogeneity"
