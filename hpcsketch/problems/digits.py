"""scikit-learn's bundled 8x8 handwritten digits (1797 samples, 64 features, 10 classes)."""

from __future__ import annotations

from hpcsketch.data import datasets
from hpcsketch.problems.torch_problem import TorchClassification


class Digits(TorchClassification):
    kind = "digits"

    def load_dataset(self) -> datasets.Dataset:
        return datasets.digits()
