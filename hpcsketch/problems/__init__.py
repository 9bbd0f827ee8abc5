"""Problems: one file each, one line each in ``REGISTRY``."""

from hpcsketch.registry import Registry

REGISTRY = Registry(
    "problem",
    {
        "mnist1d": "hpcsketch.problems.mnist1d:MNIST1D",
        "digits": "hpcsketch.problems.digits:Digits",
        "breast_cancer": "hpcsketch.problems.breast_cancer:BreastCancer",
        "cifar10": "hpcsketch.problems.cifar10:CIFAR10",
        "quadratic": "hpcsketch.problems.quadratic:Quadratic",
        "least_squares": "hpcsketch.problems.least_squares:LeastSquares",
        "topk_counterexample": "hpcsketch.problems.topk_counterexample:TopKCounterexample",
    },
)
