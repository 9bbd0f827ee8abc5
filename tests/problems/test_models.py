"""Model shapes and sizes; BatchNorm without running statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hpcsketch.problems import models


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_cs_resnet_has_the_papers_668426_parameters():
    m = models.build("cs_resnet", (3, 32, 32), 10)
    assert _count(m) == 668_426
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    assert len(bns) == 16
    assert sum(isinstance(b, nn.Dropout) for b in m.modules()) == 1
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_resnet18_cifar_variant():
    m = models.build("resnet18", (3, 32, 32), 10)
    assert _count(m) == 11_173_962
    assert not any(isinstance(x, nn.MaxPool2d) for x in m.modules())
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)


@pytest.mark.parametrize("name, shape, count", [("mlp", (40,), 15_210), ("cnn", (40,), 5_210), ("logreg", (40,), 410)])
def test_mnist1d_models(name, shape, count):
    m = models.build(name, shape, 10)
    assert _count(m) == count
    assert m(torch.zeros(3, *shape)).shape == (3, 10)


@pytest.mark.parametrize("name", ["cs_resnet", "resnet18"])
def test_no_buffers_batchnorm_uses_batch_statistics(name):
    m = models.build(name, (3, 32, 32), 10)
    assert list(m.buffers()) == []
    assert all(not b.track_running_stats for b in m.modules() if isinstance(b, nn.BatchNorm2d))
