"""CIFAR-10 from a local ``cifar-10-batches-bin`` folder (binary format, no download).

Models: ``cs_resnet`` (the CS-SGD paper's network, d = 668,426) and ``resnet18``.
With ``augment`` each training batch gets the standard random crop (4 pixels of
zero padding after standardisation, i.e. mean-valued) and horizontal flip, drawn
from the call's key, so augmentation is as reproducible as the minibatch.
"""

from __future__ import annotations

import numpy as np

from hpcsketch import seeding
from hpcsketch.data import datasets
from hpcsketch.errors import BadInput
from hpcsketch.problems.torch_problem import TorchClassification, torch

PAD = 4


class CIFAR10(TorchClassification):
    kind = "cifar10"
    eval_batch = 500

    def load_dataset(self) -> datasets.Dataset:
        path = self.values["data_path"]
        if not path:
            raise BadInput(
                "required for kind = \"cifar10\"; expected the path of the cifar-10-batches-bin folder "
                "(data_batch_1.bin .. data_batch_5.bin, test_batch.bin)",
                field="[problem] data_path",
            )
        return datasets.cifar10(path)

    def prepare(self, inputs: torch.Tensor, key: int | None) -> torch.Tensor:
        x = super().prepare(inputs, key)
        if key is None or not self.values["augment"]:
            return x
        return self.augment(x, key)

    def augment(self, x: torch.Tensor, key: int) -> torch.Tensor:
        """Random 32x32 crop of the zero-padded images and a random horizontal flip, per image."""
        b, c, h, w = x.shape
        gen = seeding.rng(key, "augment")
        dy, dx = gen.integers(0, 2 * PAD + 1, size=(2, b, 1))
        flip = gen.random((b, 1)) < 0.5
        rows = dy + np.arange(h)
        # A flip is a reversed column index: crop and flip in one gather.
        cols = np.where(flip, dx + (w - 1) - np.arange(w), dx + np.arange(w))
        idx = self.to_device(np.stack([rows, cols]))
        padded = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD))
        out = padded.gather(2, idx[0][:, None, :, None].expand(b, c, h, w + 2 * PAD))
        return out.gather(3, idx[1][:, None, None, :].expand(b, c, h, w))
