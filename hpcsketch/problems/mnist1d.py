"""MNIST-1D (Greydanus 2020): 40-sample 1-D signals of 10 digit templates, generated offline.

Reference test accuracies from its paper: logistic regression 32%, MLP 68%, CNN 94%.
"""

from __future__ import annotations

from hpcsketch.config.options import Option
from hpcsketch.data import datasets
from hpcsketch.problems.options import HIDDEN
from hpcsketch.problems.torch_problem import TorchClassification


class MNIST1D(TorchClassification):
    kind = "mnist1d"
    models = ("mlp", "cnn", "logreg")
    options = (
        Option("samples", "int", 5000, "examples generated in all, 80% for training (5000 is the reference set)", min=20,
               max=1_000_000),  # generated one by one in Python: a million takes minutes already
        HIDDEN,
    )

    def load_dataset(self) -> datasets.Dataset:
        return datasets.mnist1d(self.values["samples"])
