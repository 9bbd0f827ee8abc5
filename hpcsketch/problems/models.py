"""Models for the classification problems.

Every BatchNorm here is built with ``track_running_stats=False``: it normalises
with the statistics of the batch at hand, in training and in evaluation, and
holds no buffers. The whole model state is then the flat parameter vector, so a
run is deterministic whatever the number of ranks (no running averages that
depend on which client a rank happened to visit last) and a checkpoint is one
array. ``hpcsketch.problems.flat`` refuses models with buffers for that reason.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, track_running_stats=False)


def mlp(input_shape: Sequence[int], num_classes: int, hidden: int = 100) -> nn.Module:
    """Two hidden ReLU layers of ``hidden`` units (MNIST-1D: 40 -> 100 -> 100 -> 10)."""
    d = _numel(input_shape)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


def logreg(input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """Multinomial logistic regression: one linear layer."""
    return nn.Sequential(nn.Flatten(), nn.Linear(_numel(input_shape), num_classes))


class Conv1dNet(nn.Module):
    """The MNIST-1D paper's CNN: three Conv1d layers of 25 channels with ReLU, then a linear
    layer (5,210 parameters on the 40-sample signal)."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, channels: int = 25):
        super().__init__()
        length = int(input_shape[-1])
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        for k in (5, 3, 3):
            length = (length + 2 - k) // 2 + 1
        self.linear = nn.Linear(channels * length, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], 1, -1)
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return self.linear(x.flatten(1))


def cnn(input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return Conv1dNet(input_shape, num_classes)


class _CSBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the identity, then ReLU (64 channels, 3x3, 'same')."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = batch_norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = batch_norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + x)


class CSResNet(nn.Module):
    """The residual network of the CS-SGD paper (Tang et al. 2021), d = 668,426.

    conv32, conv64 (3x3, no padding), max-pool 3, eight residual blocks of 64
    channels (two 3x3 convs and two BatchNorm layers each), conv64 (no padding),
    global average pooling, dense 256, dropout 0.5, dense 10. Every conv and dense
    layer has a bias (the Keras default the paper's count implies).
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, blocks: int = 8):
        super().__init__()
        cin = int(input_shape[0])
        self.conv1 = nn.Conv2d(cin, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(3)
        self.blocks = nn.Sequential(*[_CSBlock(64) for _ in range(blocks)])
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(64, 256)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv2(F.relu(self.conv1(x)))))
        x = F.relu(self.conv3(self.blocks(x)))
        x = x.mean(dim=(2, 3))
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


def cs_resnet(input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return CSResNet(input_shape, num_classes)


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = batch_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = batch_norm(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), batch_norm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 images: 3x3 stem, no max-pool, stages of 64/128/256/512 (11.17M parameters)."""

    def __init__(self, input_shape: Sequence[int], num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(int(input_shape[0]), 64, 3, padding=1, bias=False)
        self.bn1 = batch_norm(64)
        layers: list[nn.Module] = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


def resnet18(input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return ResNet18(input_shape, num_classes)


MODELS: dict[str, Callable[[Sequence[int], int], nn.Module]] = {
    "mlp": mlp,
    "cnn": cnn,
    "logreg": logreg,
    "cs_resnet": cs_resnet,
    "resnet18": resnet18,
}


def build(name: str, input_shape: Sequence[int], num_classes: int, **options: int) -> nn.Module:
    """Model ``name``; ``options`` are its keyword arguments (e.g. the MLP's ``hidden``)."""
    return MODELS[name](input_shape, num_classes, **options)


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
