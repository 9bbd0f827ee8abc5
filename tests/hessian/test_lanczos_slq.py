"""Lanczos and SLQ against exact eigendecompositions (float64 operators: the quadratics and explicit matrices).

Tolerances are not tuned: Ritz values must lie within their own residual bounds of
an eigenvalue, SLQ's CDF within the Chebyshev-Markov-Stieltjes bound (the largest
quadrature weight) plus five standard deviations of the Rademacher probe average,
and trace estimates within five probe standard deviations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpcsketch.backend import select_backend
from hpcsketch.hessian.hvp import DistributedHVP
from hpcsketch.hessian.lanczos import lanczos, top_eigenvalues
from hpcsketch.hessian.measure import Settings, measure
from hpcsketch.hessian.slq import density_grid, rademacher, slq, smoothed_density
from hpcsketch.problems import REGISTRY

CLIENTS = {"count": 6, "participation": 1.0, "partition": "iid", "alpha": 0.5, "shards": 2}


def quadratic(dim: int = 120, **opts) -> object:
    return REGISTRY.get("quadratic")({"dim": dim, "condition": 50.0, "hessian_heterogeneity": 0.7, **opts}, CLIENTS,
                                     select_backend("numpy"), 3)


def column_by_column(op, dim: int) -> np.ndarray:
    """The operator's matrix, one HVP per column."""
    e = np.zeros(dim)
    cols = []
    for j in range(dim):
        e[j] = 1.0
        cols.append(np.array(op(e.copy()), dtype=np.float64))
        e[j] = 0.0
    return np.stack(cols, axis=1)


def indefinite(dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric matrix with a known spectrum: a few large outliers over a bulk on both sides of 0."""
    gen = np.random.default_rng(seed)
    lam = np.concatenate([[40.0, 25.0, 12.0, -8.0], gen.normal(0.0, 0.5, dim - 4)])
    q, _ = np.linalg.qr(gen.standard_normal((dim, dim)))
    return (q * lam) @ q.T, np.sort(lam)


def test_quadratic_hvp_is_its_hessian_column_by_column():
    p = quadratic()
    h = column_by_column(DistributedHVP(p, None, p.init_params()), p.dim)
    np.testing.assert_allclose(h, p.hessian(), rtol=1e-12, atol=1e-14)
    # parts over client blocks add up to the whole, for any number of parts
    v = rademacher(p.dim, 0, 1)
    for nparts in (2, 4, 7):
        total = sum(p.hvp(p.init_params(), v, r, nparts) for r in range(nparts))
        np.testing.assert_allclose(total, p.hessian() @ v, rtol=1e-12)


def test_least_squares_hvp_is_its_hessian():
    p = REGISTRY.get("least_squares")({"dim": 30, "rows": 20, "heterogeneity": 0.5}, CLIENTS, select_backend("numpy"), 1)
    h = column_by_column(DistributedHVP(p, None, p.init_params()), p.dim)
    np.testing.assert_allclose(h, p.hessian(), rtol=1e-12, atol=1e-14)


def test_ritz_values_match_eigh_within_their_residual_bounds():
    p = quadratic(dim=150)
    lam = np.linalg.eigvalsh(p.hessian())[::-1]
    values, bounds = top_eigenvalues(DistributedHVP(p, None, p.init_params()), rademacher(p.dim, 0, 0), 60, 8)
    for v, b in zip(values, bounds):
        assert np.min(np.abs(lam - v)) <= b + 1e-12 * lam[0]
    # the top ones have converged: they are the top eigenvalues
    np.testing.assert_allclose(values[:5], lam[:5], rtol=1e-9)
    assert bounds[0] < 1e-9


def test_indefinite_operator_top_and_bottom():
    a, lam = indefinite(300)
    tri = lanczos(lambda v: a @ v, rademacher(300, 0, 0), 80)
    theta, bounds = tri.ritz()
    np.testing.assert_allclose(theta[:3], lam[::-1][:3], rtol=1e-10)
    assert abs(theta[-1] - lam[0]) < 1e-8  # the isolated negative outlier converges from below too
    assert (bounds[:3] < 1e-8).all()


def test_full_lanczos_recovers_every_eigenvalue():
    a, lam = indefinite(60, seed=2)
    tri = lanczos(lambda v: a @ v, rademacher(60, 0, 0), 500)  # capped at d
    assert tri.steps == 60
    np.testing.assert_allclose(np.sort(tri.ritz()[0]), lam, atol=1e-9)


def test_invariant_subspace_stops_early_with_exact_quadrature():
    # five distinct eigenvalues: the Krylov space of any start vector has dimension 5
    d = 200
    lam = np.repeat([-1.0, 0.5, 2.0, 3.0, 10.0], d // 5)
    v = rademacher(d, 0, 0)
    tri = lanczos(lambda u: lam * u, v, 50)
    assert tri.steps == 5
    nodes, weights = tri.quadrature()
    np.testing.assert_allclose(nodes, [-1.0, 0.5, 2.0, 3.0, 10.0], atol=1e-10)
    # weights are the probe's mass on each eigenspace
    mass = [float(np.sum(v[lam == x] ** 2) / d) for x in (-1.0, 0.5, 2.0, 3.0, 10.0)]
    np.testing.assert_allclose(weights, mass, atol=1e-12)


def _cdf_bound(lam: np.ndarray, t: np.ndarray, quad, probes: int) -> np.ndarray:
    """Chebyshev-Markov-Stieltjes (largest weight, per probe) + 5 probe standard deviations."""
    d = len(lam)
    below = (lam[None, :] <= t[:, None]).sum(axis=1)
    std = np.sqrt(2.0 * np.minimum(below, d - below)) / d / math.sqrt(probes)
    cms = np.mean([w.max() for w in quad.weights])
    return cms + 5 * std + 1e-12


@pytest.mark.parametrize("steps", [30, 80])
def test_slq_cdf_matches_the_exact_eigenvalue_distribution(steps):
    a, lam = indefinite(400, seed=1)
    probes = 20
    quad = slq(lambda v: a @ v, (rademacher(400, 7, i) for i in range(probes)), steps)
    t = np.linspace(lam[0] - 1, lam[-1] + 1, 301)
    exact = (lam[None, :] <= t[:, None]).mean(axis=1)
    err = np.abs(quad.cdf(t) - exact)
    assert (err <= _cdf_bound(lam, t, quad, probes)).all(), float(err.max())


def test_slq_smoothed_density_with_full_quadrature_is_off_only_by_probe_noise():
    a, lam = indefinite(120, seed=4)
    probes = 16
    quad = slq(lambda v: a @ v, (rademacher(120, 5, i) for i in range(probes)), 120)
    grid, sigma = density_grid(lam[0], lam[-1], 200, 0.02)
    exact = smoothed_density(lam, np.full(len(lam), 1.0 / len(lam)), grid, sigma)
    est = quad.density(grid, sigma)
    # Var of v^T g(H) v / d for a Rademacher v is at most 2 ||g(H)||_F^2 / d^2, g the kernel at t
    kern = np.exp(-0.5 * ((grid[:, None] - lam[None, :]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    std = np.sqrt(2.0 * (kern ** 2).sum(axis=1)) / len(lam) / math.sqrt(probes)
    assert (np.abs(est - exact) <= 5 * std + 1e-12).all()
    assert abs(np.trapezoid(est, grid) - 1.0) < 1e-3  # a density


def test_trace_norm_of_a_psd_quadratic_is_hutchinson_and_near_exact():
    p = quadratic(dim=200)
    lam = np.linalg.eigvalsh(p.hessian())
    probes = 12
    s = Settings(lanczos_steps=40, probes=probes, top=5)
    m = measure(p, None, p.init_params(), s, seed=11, step=4)
    # |t| = t on a PSD spectrum, a polynomial Gauss quadrature integrates exactly
    hutch = np.mean([v @ (p.hessian() @ v) for v in (rademacher(p.dim, 11, 4, i) for i in range(probes))])
    assert m.trace_norm == pytest.approx(hutch, rel=1e-10)
    std = math.sqrt(2 * np.sum(lam ** 2) / probes)
    assert abs(m.trace_norm - lam.sum()) <= 5 * std
    assert m.kappa == pytest.approx(m.trace_norm / lam[-1], rel=1e-9)
    assert m.hvps == probes * 40
    np.testing.assert_allclose(m.eigenvalues[:3], lam[::-1][:3], rtol=1e-9)
    for v, b in zip(m.eigenvalues, m.residuals):
        assert np.min(np.abs(lam - v)) <= b + 1e-12


def test_trace_norm_of_an_indefinite_operator():
    a, lam = indefinite(300, seed=3)
    probes = 30
    quad = slq(lambda v: a @ v, (rademacher(300, 2, i) for i in range(probes)), 300)  # exact quadrature
    est, stderr = quad.trace_norm()
    absval = np.abs(lam)
    assert abs(est - absval.sum()) <= 5 * math.sqrt(2 * np.sum(absval ** 2) / probes)
    assert 0 < stderr < np.sum(absval)


def test_probes_depend_on_seed_and_round_only():
    p = quadratic()
    s = Settings(lanczos_steps=10, probes=2, top=3)
    a = measure(p, None, p.init_params(), s, seed=0, step=5)
    b = measure(p, None, p.init_params(), s, seed=0, step=5)
    c = measure(p, None, p.init_params(), s, seed=0, step=6)
    assert a.trace_norm == b.trace_norm and a.trace_norm != c.trace_norm
    np.testing.assert_array_equal(a.density, b.density)


def test_a_non_finite_model_gives_a_nan_measurement_not_an_error():
    p = REGISTRY.get("mnist1d")({"model": "logreg", "samples": 200}, CLIENTS, select_backend("numpy"), 0)
    x = p.init_params()
    x[0] = np.nan
    m = measure(p, None, x, Settings(lanczos_steps=5, probes=1, top=2, grid=16), seed=0, step=0)
    assert math.isnan(m.kappa) and np.isnan(m.density).all() and m.hvps >= 1
