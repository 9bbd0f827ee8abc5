"""scikit-learn's bundled Wisconsin breast cancer set (569 samples, 30 features, 2 classes)."""

from __future__ import annotations

from hpcsketch.data import datasets
from hpcsketch.problems.torch_problem import TorchClassification


class BreastCancer(TorchClassification):
    kind = "breast_cancer"

    def load_dataset(self) -> datasets.Dataset:
        return datasets.breast_cancer()
