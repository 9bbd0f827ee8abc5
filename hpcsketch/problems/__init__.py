"""Problems: one file each (the implementation), one entry each in ``REGISTRY`` (the declaration).

An entry names the implementation ``"module:Class"`` (imported only when a rank
builds the problem: torch, data sets, generators) and declares its ``[problem]``
keys beyond kind, model and batch_size, its models, what it provides (Hessian-vector
products, Hessian diagonals, an MLP's dense layers) and its cross-key check. The
class gets kind, options and models when it is defined; do not set them there.
"""

from hpcsketch.config.options import Option
from hpcsketch.problems.declarations import (
    ProblemDecl,
    check_size,
    least_squares_size,
    quadratic_size,
    three_clients,
)
from hpcsketch.problems.options import DIM, DTYPE, HIDDEN, NOISE, with_default
from hpcsketch.registry import Registry

REGISTRY = Registry(
    "problem",
    {
        "mnist1d": ProblemDecl(
            "hpcsketch.problems.mnist1d:MNIST1D", models=("mlp", "cnn", "logreg"), has_hvp=True, has_dense_layers=True,
            options=(
                Option("samples", "int", 5000, "examples generated in all, 80% for training (5000 is the reference set)",
                       min=20, max=1_000_000),  # generated one by one in Python: a million takes minutes already
                HIDDEN,
            ),
        ),
        "digits": ProblemDecl("hpcsketch.problems.digits:Digits", models=("logreg", "mlp"), has_hvp=True,
                              has_dense_layers=True),
        "breast_cancer": ProblemDecl("hpcsketch.problems.breast_cancer:BreastCancer", models=("logreg", "mlp"),
                                     has_hvp=True, has_dense_layers=True),
        "cifar10": ProblemDecl(
            "hpcsketch.problems.cifar10:CIFAR10", models=("cs_resnet", "resnet18"), has_hvp=True, has_dense_layers=True,
            options=(
                Option("data_path", "str", None, "path of the cifar-10-batches-bin folder (required for cifar10)"),
                Option("augment", "bool", True, "random crop (4-pixel padding) and horizontal flip of training batches"),
            ),
        ),
        "quadratic": ProblemDecl(
            "hpcsketch.problems.quadratic:Quadratic", has_hvp=True, has_diag_hessian=True,
            check_job=check_size(quadratic_size),
            options=(
                DIM,
                Option("condition", "float", 100.0, "condition number of the mean Hessian (eigenvalues in [1/condition, 1])",
                       min=1),
                Option("hessian_heterogeneity", "float", 0.5,
                       "0 = every client has the mean Hessian; 1 = fully client-specific (Wishart) curvature", min=0, max=1),
                Option("minimizer_heterogeneity", "float", 1.0,
                       "spread of the clients' minimisers around their centre (norm ~ this)", min=0),
                Option("interpolation", "bool", False, "b_i = 0: every f_i is minimised at x* = 0"),
                with_default(NOISE, 0.0, "std of additive Gaussian gradient noise per coordinate (0 = deterministic)"),
                DTYPE,
            ),
        ),
        "least_squares": ProblemDecl(
            "hpcsketch.problems.least_squares:LeastSquares", has_hvp=True, has_diag_hessian=True,
            check_job=check_size(least_squares_size),
            options=(
                DIM,
                Option("rows", "int", 100, "rows (samples) each client holds", min=1),
                with_default(NOISE, 0.1, "std of the Gaussian noise added to the targets (0 = consistent system)"),
                Option("heterogeneity", "float", 0.0,
                       "how much the clients' feature scales and planted solutions differ (0 = iid)", min=0),
                DTYPE,
            ),
        ),
        "topk_counterexample": ProblemDecl("hpcsketch.problems.topk_counterexample:TopKCounterexample",
                                           options=(DTYPE,), has_hvp=True, has_diag_hessian=True, check_job=three_clients),
    },
)
