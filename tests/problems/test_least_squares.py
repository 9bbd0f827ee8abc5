"""Federated least squares: minibatch and full gradients, the stacked lstsq minimiser."""

from __future__ import annotations

import numpy as np

from hpcsketch.problems import REGISTRY
from numeric import fd_grad, host64


def ls(backend, clients=4, batch_size=0, seed=0, **opts):
    base = {"kind": "least_squares", "dim": 8, "rows": 20, "batch_size": batch_size}
    return REGISTRY.get("least_squares")({**base, **opts}, {"count": clients}, backend, seed)


def test_full_gradient_matches_finite_differences_and_is_deterministic(backend):
    p = ls(backend, heterogeneity=0.5)
    x = np.random.default_rng(0).standard_normal(p.dim)
    for c in range(4):
        loss, g = p.loss_grad(backend.asarray(x), c, key=5)
        assert abs(float(loss) - p.client_objective(x, c)) < 1e-12
        assert np.allclose(host64(backend, g), fd_grad(lambda z: p.client_objective(z, c), x), atol=1e-6)
        g2 = p.loss_grad(backend.asarray(x), c, key=6)[1]
        assert np.array_equal(host64(backend, g), host64(backend, g2))
    mean = sum(host64(backend, p.full_grad(backend.asarray(x), c)) for c in range(4)) / 4
    assert np.allclose(mean, host64(backend, p.grad(backend.asarray(x))), atol=1e-12)
    assert np.allclose(mean, fd_grad(p.objective, x), atol=1e-6)


def test_minibatch_gradient_is_the_gradient_of_its_loss(np_backend):
    p = ls(np_backend, batch_size=5)
    x = p.init_params()
    loss, g = p.loss_grad(x, 2, key=11)
    g = g.copy()
    fd = fd_grad(lambda z: float(p.loss_grad(z, 2, 11)[0]), x)
    assert np.allclose(g, fd, atol=1e-6)
    assert not np.allclose(g, p.loss_grad(x, 2, 12)[1])  # another key, other rows
    assert not np.allclose(g, p.full_grad(x, 2))
    # averaged over keys, minibatch gradients are unbiased
    avg = np.mean([p.loss_grad(x, 2, k)[1] for k in range(3000)], axis=0)
    assert np.linalg.norm(avg - p.full_grad(x, 2)) < 0.05 * np.linalg.norm(p.full_grad(x, 2))


def test_x_star_is_the_stacked_least_squares_solution(backend):
    p = ls(backend, heterogeneity=1.0, noise=0.3)
    assert np.linalg.norm(host64(backend, p.grad(backend.asarray(p.x_star)))) < 1e-10
    assert abs(p.objective(p.x_star) - p.f_star) < 1e-15
    x = np.random.default_rng(2).standard_normal(p.dim)
    r = p.evaluate(x)
    assert abs(r["gap"] - (p.objective(x) - p.f_star)) < 1e-10
    assert r["count"] == 1 and p.evaluate(x, 1, 2)["count"] == 0
    assert np.allclose(np.mean([host64(backend, p.hessian(c)) for c in range(4)], axis=0), host64(backend, p.hessian()),
                       atol=1e-12)
    assert np.allclose(host64(backend, p.diag_hessian(1)), np.diag(host64(backend, p.hessian(1))))


def test_consistent_system_and_heterogeneity(np_backend):
    p = ls(np_backend, noise=0.0, heterogeneity=0.0)
    assert p.f_star < 1e-20

    def spread(h):
        q = ls(np_backend, noise=0.0, heterogeneity=h)
        sols = [np.linalg.solve(q.hessian(c), -q.full_grad(np.zeros(q.dim), c)) for c in range(4)]
        return np.mean([np.linalg.norm(s - q.x_star) for s in sols])

    assert spread(0.0) < 1e-8 < spread(0.5) < spread(2.0)
    assert np.array_equal(p.client_sizes(), [20] * 4)
