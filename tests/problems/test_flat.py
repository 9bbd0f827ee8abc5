"""Flat parameter and gradient buffers: views, no copies, gradients land in place."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from hpcsketch.problems.flat import FlatParams
from hpcsketch.problems.models import build


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))


def test_parameters_and_grads_are_views_of_the_flat_buffers(np_backend):
    model = _tiny()
    ref = copy.deepcopy(model)
    flat = FlatParams(model)
    assert flat.dim == sum(p.numel() for p in ref.parameters())
    assert flat.views_intact()
    base, item = flat.params.data_ptr(), flat.params.element_size()
    off = 0
    for p, q in zip(model.parameters(), ref.parameters()):
        assert p.data_ptr() == base + off * item
        assert torch.equal(p, q)  # values carried over
        off += p.numel()

    x = np_backend.from_torch(flat.params)
    g = np_backend.from_torch(flat.grads)
    assert x.ctypes.data == base and g.ctypes.data == flat.grads.data_ptr()  # no copy
    x[:] = 0.5  # writing the array writes the model
    assert all(bool((p == 0.5).all()) for p in model.parameters())


def test_backward_accumulates_into_the_flat_gradient():
    model = _tiny()
    ref = copy.deepcopy(model)
    flat = FlatParams(model)
    ptrs = [p.grad.data_ptr() for p in model.parameters()]
    inp, tgt = torch.randn(7, 5), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    for _ in range(2):  # twice: zeroing keeps the views, the second pass does not add up
        flat.zero_grad()
        F.cross_entropy(model(inp), tgt).backward()
    assert [p.grad.data_ptr() for p in model.parameters()] == ptrs
    assert flat.views_intact()
    F.cross_entropy(ref(inp), tgt).backward()
    expect = torch.cat([q.grad.reshape(-1) for q in ref.parameters()])
    assert torch.allclose(flat.grads, expect, atol=1e-7)
    assert flat.grads.abs().sum() > 0


def test_setting_grads_to_none_is_detected():
    model = _tiny()
    flat = FlatParams(model)
    model.zero_grad(set_to_none=True)
    assert not flat.views_intact()


def test_unflatten_names_and_shapes():
    model = _tiny()
    flat = FlatParams(model)
    parts = flat.unflatten(flat.params)
    for (name, p), (n2, t) in zip(model.named_parameters(), parts.items()):
        assert name == n2 and t.shape == p.shape and t.data_ptr() == p.data_ptr()


def test_models_with_buffers_are_refused():
    with pytest.raises(ValueError, match="track_running_stats"):
        FlatParams(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))


def test_cs_resnet_flattens_whole():
    model = build("cs_resnet", (3, 32, 32), 10)
    flat = FlatParams(model)
    assert flat.dim == 668_426
    flat.zero_grad()
    F.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([1, 2])).backward()
    assert flat.views_intact()
    assert np.count_nonzero(flat.grads.numpy()) > 600_000
