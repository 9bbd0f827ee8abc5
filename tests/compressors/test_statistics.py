"""Unbiasedness, variance bounds and contraction, with fixed seeds and tolerances from the variance."""

import numpy as np
import pytest

from hpcsketch.backend import select_backend
from hpcsketch.compressors.qsgd import QSGD
from hpcsketch.compressors.randk import RandK
from hpcsketch.compressors.sign import Sign
from hpcsketch.compressors.topk import TopK

B = select_backend("numpy")
D = 200
X = np.random.default_rng(42).standard_normal(D).astype(np.float32)
TRIALS = 4000


def _draws(c, shared=False):
    out = np.empty((TRIALS, D))
    for t in range(TRIALS):
        if shared:
            c.resample(t)
        out[t] = c.decompress(c.compress(X, key=t))
    return out


def _check_unbiased_and_variance(draws, omega):
    # per coordinate, the sample mean is within 5 standard errors, with the std estimated from the draws;
    # the mean squared error stays below the bound omega ||x||^2 (+5 standard errors of its estimate)
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(TRIALS) + 1e-7
    assert (np.abs(mean - X) <= 5 * se).all()
    err = ((draws - X) ** 2).sum(axis=1)
    bound = omega * float(X @ X)
    assert err.mean() <= bound + 5 * err.std() / np.sqrt(TRIALS)
    assert err.mean() > 0.05 * bound  # not vacuous: the compressor really is random


@pytest.mark.parametrize("shared", [False, True])
def test_randk_unbiased_within_variance(shared):
    c = RandK(D, {"k": 20, "shared_mask": shared}, B, seed=0)
    assert c.linear == shared
    _check_unbiased_and_variance(_draws(c, shared), c.omega)


def test_qsgd_unbiased_within_variance():
    c = QSGD(D, {"levels": 4}, B, seed=0)
    _check_unbiased_and_variance(_draws(c), c.omega)


def test_topk_contraction():
    rng = np.random.default_rng(7)
    for k in (1, 10, 100, 200):
        c = TopK(D, {"k": k}, B, seed=0)
        assert c.delta == k / D
        for _ in range(20):
            x = rng.standard_normal(D).astype(np.float32) * rng.exponential(1, D).astype(np.float32)
            err = np.sum((c.decompress(c.compress(x)) - x) ** 2)
            assert err <= (1 - c.delta) * np.sum(x**2) * (1 + 1e-5)


def test_sign_contractive():
    c = Sign(D, {}, B, seed=0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.standard_normal(D).astype(np.float32)
        err = np.sum((c.decompress(c.compress(x)) - x) ** 2)
        # ||x||_1^2 / d of the energy is captured: delta = ||x||_1^2 / (d ||x||_2^2)
        assert err <= (1 - np.abs(x).sum() ** 2 / (D * np.sum(x**2))) * np.sum(x**2) * (1 + 1e-4)
