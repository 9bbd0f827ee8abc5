"""The torch problems' Hessian-vector products: against finite differences of float64 gradients, against
the Hessian built column by column (and its eigh), and against the objective's definition."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from hpcsketch.backend import select_backend
from hpcsketch.hessian.hvp import DistributedHVP
from hpcsketch.hessian.lanczos import lanczos
from hpcsketch.hessian.measure import Settings, measure
from hpcsketch.hessian.slq import rademacher
from hpcsketch.problems import REGISTRY

DIRICHLET = {"count": 5, "participation": 1.0, "partition": "dirichlet", "alpha": 0.5, "shards": 2}


def mnist1d(model: str = "mlp", samples: int = 400, clients=DIRICHLET, **opts):
    return REGISTRY.get("mnist1d")({"model": model, "samples": samples, **opts}, clients, select_backend("numpy"), 0)


def _objective64(p, data=1.0):
    """f(x) = mean_i (client i's mean loss), in float64 on a copy of the model, from its definition."""
    model = copy.deepcopy(p.model).double().eval()
    names = [n for n, _ in model.named_parameters()]
    shapes = [q.shape for _, q in model.named_parameters()]
    sizes = [q.numel() for _, q in model.named_parameters()]
    clients = [c for c in range(p.num_clients) if p.client_sizes()[c] > 0]

    def f(x: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, x.split(sizes), shapes)}
        total = 0.0
        for c in clients:
            inputs, targets = p.client_data(c)
            out = torch.func.functional_call(model, params, (inputs.double(),))
            total = total + torch.nn.functional.cross_entropy(out, targets)
        return total / len(clients)

    return f


def _grad64(f, x: np.ndarray) -> np.ndarray:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(f(t), t)
    return g.numpy()


def test_hvp_matches_finite_differences_of_gradients_on_a_smooth_net():
    p = mnist1d(hidden=24)
    # ReLU has kinks where finite differences of the gradient jump; tanh has none (no parameters change)
    for i, m in enumerate(p.model):
        if isinstance(m, torch.nn.ReLU):
            p.model[i] = torch.nn.Tanh()
    f = _objective64(p)
    x = p.init_params().astype(np.float64) + 0.05 * np.random.default_rng(0).standard_normal(p.dim)
    v = np.random.default_rng(1).standard_normal(p.dim)
    eps = 1e-4
    fd = (_grad64(f, x + eps * v) - _grad64(f, x - eps * v)) / (2 * eps)
    hv = np.asarray(p.hvp(x.astype(np.float32), v.astype(np.float32)), dtype=np.float64)
    assert np.linalg.norm(hv - fd) <= 1e-4 * np.linalg.norm(fd)
    assert np.linalg.norm(fd) > 0


def test_hvp_is_the_objective_mean_over_clients_of_client_means():
    p = mnist1d("cnn")
    assert len(set(p.client_sizes())) > 1  # unequal clients: a plain mean over samples would differ
    f = _objective64(p)
    x = p.init_params()
    v = rademacher(p.dim, 0, 0)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(f(t), t, create_graph=True)
    (ref,) = torch.autograd.grad(g, t, grad_outputs=torch.tensor(v))
    hv = np.asarray(p.hvp(x, v.astype(np.float32), batch=97), dtype=np.float64)
    np.testing.assert_allclose(hv, ref.numpy(), rtol=1e-4, atol=1e-5 * np.abs(ref.numpy()).max())


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_parts_and_batches_add_up_to_the_same_product(model):
    p = mnist1d(model)
    x, v = p.init_params(), rademacher(p.dim, 0, 0).astype(np.float32)
    whole = np.asarray(p.hvp(x, v, batch=0), dtype=np.float64)
    for nparts, batch in ((1, 64), (3, 64), (4, 50)):
        total = sum(np.asarray(p.hvp(x, v, r, nparts, batch=batch), dtype=np.float64) for r in range(nparts))
        np.testing.assert_allclose(total, whole, rtol=1e-4, atol=1e-6 * np.abs(whole).max())


def test_data_subsample_keeps_a_share_of_every_client_fixed_by_the_seed():
    p = mnist1d()
    idx, w = p._hessian_samples(0.25)
    sizes = p.client_sizes()
    kept = [math.ceil(0.25 * m) for m in sizes if m > 0]
    assert len(idx) == sum(kept) and abs(float(w.sum()) - 1.0) < 1e-5
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    owner = np.searchsorted(offsets, idx.numpy(), side="right") - 1
    assert list(np.bincount(owner, minlength=len(sizes))[sizes > 0]) == kept
    again = mnist1d()._hessian_samples(0.25)[0]
    np.testing.assert_array_equal(idx.numpy(), again.numpy())
    # a count per client larger than every client is all the data
    assert p._hessian_samples(int(sizes.max()) + 5)[0] is None
    x, v = p.init_params(), rademacher(p.dim, 0, 0).astype(np.float32)
    assert not np.allclose(p.hvp(x, v, data=0.25), p.hvp(x, v))


def test_hvp_leaves_training_untouched():
    p = mnist1d(clients={**DIRICHLET, "partition": "iid"})
    x = p.init_params()
    loss_a, g_a = p.loss_grad(x, 0, 123)
    g_a = g_a.copy()
    p.hvp(x, rademacher(p.dim, 0, 0).astype(np.float32))
    loss_b, g_b = p.loss_grad(x, 0, 123)
    assert float(loss_a) == float(loss_b)
    np.testing.assert_array_equal(g_a, g_b)
    assert p.flat.views_intact()


def test_lanczos_and_slq_match_the_hessian_built_column_by_column():
    p = mnist1d(hidden=20, samples=300)  # d = 1,470
    x = p.init_params()
    op = DistributedHVP(p, None, x, batch=0)
    d = p.dim
    cols = [np.asarray(op(e), dtype=np.float64) for e in np.eye(d, dtype=np.float32)]
    h = np.stack(cols, axis=1)
    assert op.count == d
    asym = np.abs(h - h.T).max()
    assert asym <= 1e-5 * np.abs(h).max()  # float32 autograd: symmetric to rounding
    lam = np.linalg.eigvalsh(0.5 * (h + h.T))
    noise = 1e-5 * np.abs(lam).max()  # float32 HVPs against a float64 eigh
    # top eigenvalues: Ritz values within their residual bounds of eigenvalues, the largest converged
    tri = lanczos(op, rademacher(d, 0, 0).astype(np.float32), 80)
    theta, bounds = tri.ritz()
    for t, b in zip(theta[:5], bounds[:5]):
        assert np.min(np.abs(lam - t)) <= b + noise
    assert abs(theta[0] - lam[-1]) <= max(bounds[0], noise)
    assert bounds[0] <= 1e-3 * lam[-1]
    # the measurement: kappa against the exact sum |lambda| / lambda_max
    probes = 8
    m = measure(p, None, x, Settings(lanczos_steps=80, probes=probes, top=5, batch=0), seed=0, step=0)
    exact = np.abs(lam).sum()
    # five standard deviations of the probe mean (Rademacher: variance at most 2 ||H||_F^2 per probe)
    assert abs(m.trace_norm - exact) <= 5 * math.sqrt(2 * np.sum(lam ** 2) / probes)
    assert m.kappa == pytest.approx(m.trace_norm / m.lambda_max)
    assert m.lambda_max == pytest.approx(lam[-1], rel=1e-3)
    assert m.lambda_min >= lam[0] - noise  # a Gauss node never leaves the spectrum's hull
    # the CDF of the measured spectrum against the exact one (CMS bound + 5 probe std)
    t = np.linspace(lam[0], lam[-1], 101)
    below = (lam[None, :] <= t[:, None]).sum(axis=1)
    from hpcsketch.hessian.slq import slq

    quad = slq(op, (rademacher(d, 0, 0, i).astype(np.float32) for i in range(probes)), 80)
    bound = np.mean([w.max() for w in quad.weights]) + 5 * np.sqrt(2 * np.minimum(below, d - below)) / d / math.sqrt(probes)
    assert (np.abs(quad.cdf(t) - below / d) <= bound + 1e-4).all()
