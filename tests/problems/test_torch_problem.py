"""The generic torch classification problem: gradients, keys, buffers, evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpcsketch.data.datasets import Dataset
from hpcsketch.errors import BadInput
from hpcsketch.problems import REGISTRY
from hpcsketch.problems.torch_problem import TorchClassification, same_buffer
from numeric import host64


class Tiny(TorchClassification):
    kind = "tiny"
    models = ("logreg", "mlp")
    eval_batch = 7

    def load_dataset(self) -> Dataset:
        gen = np.random.default_rng(0)
        x = gen.standard_normal((60, 6)).astype(np.float32)
        y = gen.integers(0, 3, size=60)
        return Dataset("tiny", x[:40], y[:40], x[40:], y[40:], 3)


def tiny(backend, model="logreg", batch_size=8, clients=4, partition="iid", seed=0) -> Tiny:
    return Tiny({"kind": "tiny", "model": model, "batch_size": batch_size}, {"count": clients, "partition": partition, "alpha": 0.5}, backend, seed)


@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_gradient_matches_finite_differences(backend, model):
    p = tiny(backend, model)
    x0 = p.init_params()
    loss, g = p.loss_grad(x0, 1, key=42)
    g = host64(backend, g).copy()
    gen = np.random.default_rng(1)
    for _ in range(3):
        v = gen.standard_normal(p.dim)
        v /= np.linalg.norm(v)
        h = 1e-2
        # the same key: the same minibatch on both sides
        up = float(p.loss_grad(x0 + backend.asarray(h * v, dtype=p.dtype), 1, 42)[0])
        down = float(p.loss_grad(x0 - backend.asarray(h * v, dtype=p.dtype), 1, 42)[0])
        fd = (up - down) / (2 * h)
        assert abs(fd - g @ v) < 2e-3 * max(1.0, abs(fd)), (fd, g @ v)


def test_gradient_is_autograd_of_batch_loss_and_hvp_works(np_backend):
    p = tiny(np_backend, "logreg")
    x0 = p.init_params()
    _, g = p.loss_grad(x0, 2, key=9)
    inputs, targets = p.batch(2, 9)
    params = torch.from_numpy(np.asarray(x0)).clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(p.batch_loss(params, inputs, targets), params)
    assert np.allclose(g, auto.numpy(), atol=1e-6)

    # Hessian-vector product (double backward) against a difference of gradients
    v = torch.from_numpy(np.random.default_rng(3).standard_normal(p.dim).astype(np.float32))
    (grad,) = torch.autograd.grad(p.batch_loss(params, inputs, targets), params, create_graph=True)
    (hvp,) = torch.autograd.grad(grad @ v, params)
    h = 1e-2
    g_up = p.loss_grad(x0 + h * v.numpy(), 2, 9)[1].copy()
    g_down = p.loss_grad(x0 - h * v.numpy(), 2, 9)[1].copy()
    fd = (g_up - g_down) / (2 * h)
    assert np.linalg.norm(fd - hvp.numpy()) < 1e-2 * max(1.0, float(np.linalg.norm(fd)))
    assert float(np.linalg.norm(fd)) > 0


def test_full_batch_is_deterministic_and_uses_the_whole_client(backend):
    full = tiny(backend, "mlp", batch_size=0)
    big = tiny(backend, "mlp", batch_size=10_000)
    x0 = full.init_params()
    for c in range(4):
        a = host64(backend, full.loss_grad(x0, c, key=1)[1]).copy()
        b = host64(backend, full.loss_grad(x0, c, key=2)[1]).copy()
        d = host64(backend, big.loss_grad(x0, c, key=3)[1]).copy()
        assert np.array_equal(a, b) and np.array_equal(a, d)
        inputs, _ = full.batch(c, 5)
        assert len(inputs) == full.client_sizes()[c]


def test_minibatches_are_keyed_and_come_from_the_client(np_backend):
    p = tiny(np_backend, "mlp", batch_size=4, partition="dirichlet")
    x0 = p.init_params()
    g1 = p.loss_grad(x0, 3, key=100)[1].copy()
    g2 = p.loss_grad(x0, 3, key=100)[1].copy()
    g3 = p.loss_grad(x0, 3, key=101)[1].copy()
    assert np.array_equal(g1, g2) and not np.array_equal(g1, g3)
    sizes = p.client_sizes()
    assert sizes.sum() == 40
    start = int(sizes[:3].sum())
    own = p.x_train[start : start + sizes[3]]
    inputs, targets = p.batch(3, 77)
    assert len(inputs) == min(4, sizes[3])
    for row in inputs:
        assert bool((own == row).all(dim=1).any())
    # another instance draws the same batch for the same key (no state carried)
    q = tiny(np_backend, "mlp", batch_size=4, partition="dirichlet")
    assert torch.equal(q.batch(3, 77)[0], inputs)


def test_x_is_copied_in_only_when_it_is_not_the_buffer(np_backend):
    p = tiny(np_backend, "mlp")
    buf_ptr = p.flat.params.data_ptr()
    x_other = p.init_params() + 0.25
    _, g = p.loss_grad(x_other, 0, 1)
    assert np.array_equal(p.params, x_other)  # copied in
    assert same_buffer(g, np_backend.from_torch(p.flat.grads))  # the gradient is the flat buffer
    p.params[:] -= 0.1 * g  # an algorithm stepping on the live buffer
    expect = p.params.copy()
    p.loss_grad(p.params, 0, 2)
    assert np.array_equal(p.params, expect)
    assert p.flat.params.data_ptr() == buf_ptr and p.flat.views_intact()


def test_evaluate_parts_sum_to_the_whole(backend):
    p = tiny(backend, "mlp")
    x0 = p.init_params()
    whole = p.evaluate(x0)
    assert whole["count"] == 20
    for nparts in (2, 3, 5):
        parts = [p.evaluate(x0, i, nparts) for i in range(nparts)]
        assert sum(r["count"] for r in parts) == 20
        assert sum(r["correct"] for r in parts) == whole["correct"]
        assert abs(sum(r["loss_sum"] for r in parts) - whole["loss_sum"]) < 1e-4
    with pytest.raises(ValueError):
        p.evaluate(x0, 3, 3)


def test_init_is_deterministic_in_the_seed_and_leaves_torch_rng_alone(np_backend):
    torch.manual_seed(123)
    expect = torch.rand(3)
    torch.manual_seed(123)
    a = tiny(np_backend, "mlp", seed=5).init_params()
    assert torch.equal(torch.rand(3), expect)
    b = tiny(np_backend, "mlp", seed=5).init_params()
    c = tiny(np_backend, "mlp", seed=6).init_params()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == (6 * 100 + 100 + 100 * 100 + 100 + 100 * 3 + 3,)


def test_bad_model_and_batch_size():
    from hpcsketch.backend import select_backend

    be = select_backend("numpy")
    with pytest.raises(BadInput) as err:
        tiny(be, "resnet18")
    assert err.value.field == "[problem] model" and "'logreg'" in str(err.value)
    with pytest.raises(BadInput) as err:
        tiny(be, "mlp", batch_size=-1)
    assert err.value.field == "[problem] batch_size"


def test_breast_cancer_logreg_learns(np_backend):
    p = REGISTRY.get("breast_cancer")({"kind": "breast_cancer", "model": "logreg", "batch_size": 0}, {"count": 1}, np_backend, 0)
    x = p.init_params()
    for step in range(150):
        _, g = p.loss_grad(x, 0, step)
        x -= 0.5 * g
    r = p.evaluate(x)
    assert r["correct"] / r["count"] > 0.93


def test_mnist1d_problem(np_backend):
    p = REGISTRY.get("mnist1d")({"kind": "mnist1d", "model": "cnn", "batch_size": 16, "samples": 300}, {"count": 6}, np_backend, 0)
    assert p.dim == 5_210 and p.client_sizes().sum() == 240
    loss, g = p.loss_grad(p.init_params(), 5, 3)
    assert np.isfinite(float(loss)) and np.linalg.norm(g) > 0
    assert p.evaluate(p.params)["count"] == 60
    assert p.describe()["model"] == "cnn"
    with pytest.raises(BadInput) as err:
        REGISTRY.get("mnist1d")({"kind": "mnist1d", "samples": 1.5}, {"count": 6}, np_backend, 0)
    assert err.value.field == "[problem] samples"


def test_mnist1d_mlp_width_and_dense_layers(np_backend):
    def make(**opts):
        return REGISTRY.get("mnist1d")({"kind": "mnist1d", "batch_size": 16, "samples": 300, **opts}, {"count": 2}, np_backend, 0)

    default = make(model="mlp")
    assert default.dim == 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10  # [problem] hidden defaults to 100
    p = make(model="mlp", hidden=24)
    layers = p.dense_layers()
    assert [(l.out_features, l.in_features) for l in layers] == [(24, 40), (24, 24), (10, 24)]
    # the offsets address the parameters in the flat vector
    params = dict(p.model.named_parameters())
    flat = torch.from_numpy(np.asarray(p.params))
    for layer, name in zip(layers, ("1", "3", "5")):
        w = flat[layer.weight_offset : layer.weight_offset + layer.out_features * layer.in_features]
        b = flat[layer.bias_offset : layer.bias_offset + layer.out_features]
        torch.testing.assert_close(w.view(layer.out_features, layer.in_features), params[f"{name}.weight"].detach())
        torch.testing.assert_close(b, params[f"{name}.bias"].detach())
    with pytest.raises(ValueError, match="chain of fully connected"):
        make(model="cnn").dense_layers()
    with pytest.raises(BadInput) as err:
        make(model="mlp", hidden=0)
    assert err.value.field == "[problem] hidden"


@pytest.mark.parametrize("n", [5, 40, 2048, 2049, 50_000])
def test_sampler_draws_distinct_positions_from_the_key(n):
    from hpcsketch.problems.torch_problem import Sampler

    s, t = Sampler(), Sampler()
    k = min(n, 32)
    a = s.sample(2**62 + 17, n, k)
    assert a.dtype == torch.int64 and len(a) == k and len(set(a.tolist())) == k
    assert 0 <= int(a.min()) and int(a.max()) < n
    assert torch.equal(t.sample(2**62 + 17, n, k), a)  # a function of the key, not of the sampler's past
    if n > k:
        assert not torch.equal(s.sample(2**62 + 18, n, k), a)
