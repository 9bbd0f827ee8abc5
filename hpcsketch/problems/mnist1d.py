"""MNIST-1D (Greydanus 2020): 40-sample 1-D signals of 10 digit templates, generated offline.

Reference test accuracies from its paper: logistic regression 32%, MLP 68%, CNN 94%.
"""

from __future__ import annotations

from hpcsketch.data import datasets
from hpcsketch.problems.torch_problem import TorchClassification


class MNIST1D(TorchClassification):
    kind = "mnist1d"

    def load_dataset(self) -> datasets.Dataset:
        return datasets.mnist1d(self.values["samples"])
