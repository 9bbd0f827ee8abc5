"""The CIFAR-10 problem on a small folder in the real binary format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from hpcsketch.data import datasets
from hpcsketch.errors import BadInput
from hpcsketch.problems import REGISTRY


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    gen = np.random.default_rng(0)
    img = lambda n: gen.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    root = tmp_path_factory.mktemp("data") / "cifar-10-batches-bin"
    return datasets.write_cifar_dir(root, img(40), np.arange(40) % 10, img(12), np.arange(12) % 10)


def make(backend, path, **extra):
    opts = {"kind": "cifar10", "model": "cs_resnet", "batch_size": 4, "data_path": str(path), **extra}
    return REGISTRY.get("cifar10")(opts, {"count": 4, "partition": "shards", "shards": 1}, backend, 0)


def test_cs_resnet_on_cifar_is_keyed_through_dropout_and_augmentation(np_backend, cifar_dir):
    p = make(np_backend, cifar_dir)
    assert p.dim == 668_426 and list(p.client_sizes()) == [10, 10, 10, 10]
    x0 = p.init_params()
    a = p.loss_grad(x0, 1, 7)[1].copy()
    b = p.loss_grad(x0, 1, 7)[1].copy()
    c = p.loss_grad(x0, 1, 8)[1].copy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    r = p.evaluate(x0, 0, 2)
    s = p.evaluate(x0, 1, 2)
    assert r["count"] + s["count"] == 12


def test_batches_are_standardised_per_channel(np_backend, cifar_dir):
    p = make(np_backend, cifar_dir, augment=False, batch_size=0)
    inputs, _ = p.batch(0, 1)
    ds = datasets.cifar10(cifar_dir)
    first = p.x_train[:10].numpy().astype(np.float64)
    expect = (first - ds.mean) / ds.std
    assert np.allclose(inputs.numpy(), expect, atol=1e-4)


def test_augmentation_is_a_crop_of_the_padded_image_maybe_flipped(np_backend, cifar_dir):
    p = make(np_backend, cifar_dir)
    x = torch.randn(16, 3, 32, 32)
    out = p.augment(x, key=5)
    padded = F.pad(x, (4, 4, 4, 4))
    seen = set()
    for i in range(16):
        hits = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if torch.equal(out[i], (lambda c: c.flip(-1) if flip else c)(padded[i, :, dy : dy + 32, dx : dx + 32]))
        ]
        assert hits, f"image {i} is no crop of its padded input"
        seen.update(hits)
    assert len({h[2] for h in seen}) == 2 and len(seen) > 8  # both flips, varied offsets
    assert torch.equal(p.augment(x, key=5), out) and not torch.equal(p.augment(x, key=6), out)


def test_data_path_is_required(np_backend):
    with pytest.raises(BadInput) as err:
        REGISTRY.get("cifar10")({"kind": "cifar10", "model": "resnet18"}, {"count": 2}, np_backend, 0)
    assert err.value.field == "[problem] data_path"
    assert "[problem] data_path" in str(err.value)


def test_bad_data_path_names_it(np_backend, tmp_path):
    with pytest.raises(BadInput) as err:
        make(np_backend, tmp_path / "missing")
    assert str(tmp_path / "missing") in str(err.value)
