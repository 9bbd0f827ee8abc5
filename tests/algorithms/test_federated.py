"""Behaviour the lecture (seed 003) describes, shown on small instances."""

import numpy as np
import pytest

from conftest import make, run_rounds

QUAD = """
[run]
rounds = 10
[problem]
kind = "quadratic"
dim = 20
condition = 10
hessian_heterogeneity = 0.8
minimizer_heterogeneity = 2.0
[clients]
count = 8
[algorithm]
kind = "local_sgd"
lr = 0.3
local_steps = 10
[compressor]
kind = "none"
"""


def test_fedavg_drifts_scaffold_converges_on_heterogeneous_quadratic():
    ctx, fedavg = make(QUAD)
    run_rounds(ctx, fedavg, 300)
    ctx2, scaffold = make(QUAD, algorithm__kind="scaffold")
    run_rounds(ctx2, scaffold, 300)
    x_star = ctx.problem.x_star
    d_fedavg = np.linalg.norm(fedavg.x - x_star)
    d_scaffold = np.linalg.norm(scaffold.x - x_star)
    assert d_scaffold < 1e-6, d_scaffold
    assert d_fedavg > 1e-2, d_fedavg  # client drift: a fixed point away from x*
    # and FedAvg has settled there (not merely slow): another 100 rounds do not move it
    x_then = fedavg.x.copy()
    run_rounds(ctx, fedavg, 100, start=300)
    assert np.linalg.norm(fedavg.x - x_then) < 1e-6
    # with one local step FedAvg is gradient descent and reaches x*
    ctx3, gd = make(QUAD, algorithm__local_steps=1)
    run_rounds(ctx3, gd, 2000)
    assert np.linalg.norm(gd.x - x_star) < 1e-5


def test_fedavg_m_and_scaffold_m_run_and_reduce():
    # beta = 1 turns FedAvg-M into FedAvg
    ctx, a = make(QUAD, algorithm__kind="fedavg_m", algorithm__beta=1.0)
    run_rounds(ctx, a, 20)
    ctx2, b = make(QUAD)
    run_rounds(ctx2, b, 20)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-10, atol=1e-12)
    ctx3, c = make(QUAD, algorithm__kind="scaffold_m", algorithm__beta=1.0)
    run_rounds(ctx3, c, 20)
    ctx4, d = make(QUAD, algorithm__kind="scaffold")
    run_rounds(ctx4, d, 20)
    np.testing.assert_allclose(c.x, d.x, rtol=1e-10, atol=1e-12)


TOPK = """
[run]
rounds = 10
[problem]
kind = "topk_counterexample"
[clients]
count = 3
[algorithm]
kind = "ef_sgd"
lr = 0.02
[compressor]
kind = "topk"
k = 1
"""


@pytest.mark.parametrize("lr", [0.05, 0.02])
def test_topk_without_error_feedback_diverges_where_ef21_converges(lr):
    finals = {}
    for name, sets in (("no_ef", dict(algorithm__error_feedback=False)), ("ef", {}), ("ef21", dict(algorithm__kind="ef21"))):
        ctx, algo = make(TOPK, algorithm__lr=lr, **sets)
        run_rounds(ctx, algo, 400)
        finals[name] = np.linalg.norm(algo.x)
    assert finals["no_ef"] > 100, finals  # |x_0| = sqrt(3): it grew
    assert finals["ef21"] < 1e-2 and finals["ef"] < 1e-2, finals


UNB = """
[run]
rounds = 1
[problem]
kind = "least_squares"
dim = 32
rows = 20
batch_size = 0
[clients]
count = 4
[algorithm]
kind = "compressed_sgd"
lr = 1.0
[compressor]
kind = "qsgd"
levels = 2
k = 0.25
"""


@pytest.mark.parametrize("compressor,extra", [
    ("qsgd", {}), ("randk", {}), ("randk", {"compressor__shared_mask": True}),
    # client sampling: unbiased over the sampled subset and the compressor together
    ("randk", {"clients__participation": 0.5}),
    # the local methods' pipeline (deltas of one local step, server step) with an unbiased compressor
    ("randk", {"algorithm__kind": "local_sgd", "algorithm__error_feedback": False}),
    ("qsgd", {"algorithm__kind": "fedavg_m", "algorithm__beta": 1.0}),
], ids=["qsgd", "randk", "randk-shared", "randk-sampled", "local_sgd-randk", "fedavg_m-qsgd"])
def test_unbiased_compressors_stay_unbiased_through_the_pipeline(compressor, extra):
    ctx, algo = make(UNB, compressor__kind=compressor, **extra)
    x0 = algo.x.copy()
    g = sum(ctx.problem.loss_grad(x0, c, 0)[1] for c in range(4)) / 4
    steps = []
    for t in range(3000):  # each round draws fresh compressor randomness
        algo.x[...] = x0
        run_rounds(ctx, algo, 1, start=t)
        steps.append(x0 - algo.x)
    steps = np.array(steps)
    mean, sem = steps.mean(axis=0), steps.std(axis=0, ddof=1) / np.sqrt(len(steps))
    z = np.abs(mean - g) / np.maximum(sem, 1e-12)
    assert np.all(z < 5.5), z.max()
    assert np.max(sem) > 0  # there was randomness to average over
