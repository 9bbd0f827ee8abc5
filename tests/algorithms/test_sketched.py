"""Sketch-DL, FetchSGD and CS-SGD: reductions to the uncompressed methods and invariants."""

import numpy as np
import pytest

from conftest import make, run_rounds

LSQ = """
[run]
rounds = 10
[problem]
kind = "least_squares"
dim = 64
rows = 30
batch_size = 0
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.1
local_steps = 3
[compressor]
kind = "none"
"""


def _final(text, rounds=8, **sets):
    ctx, algo = make(text, **sets)
    run_rounds(ctx, algo, rounds)
    return algo.x.copy()


def test_cs_sgd_without_compression_is_psgd():
    # Q = d (d a power of two, so Phi is orthonormal) and K = d: FIHT returns z exactly
    psgd = _final(LSQ)
    cs = _final(LSQ, algorithm__kind="cs_sgd", compressor__kind="subsampled_wht", compressor__ratio=1, compressor__k=1.0)
    np.testing.assert_allclose(cs, psgd, rtol=1e-10, atol=1e-12)
    cs_dct = _final(LSQ, algorithm__kind="cs_sgd", compressor__kind="subsampled_dct", compressor__ratio=1, compressor__k=1.0)
    np.testing.assert_allclose(cs_dct, psgd, rtol=1e-10, atol=1e-12)


def test_sketch_dl_without_compression_is_fedavg():
    fedavg = _final(LSQ, algorithm__kind="local_sgd")
    # SRHT with Q = d: R^T R = I exactly
    srht = _final(LSQ, algorithm__kind="sketch_dl", compressor__kind="subsampled_wht", compressor__ratio=1, compressor__signs=True)
    np.testing.assert_allclose(srht, fedavg, rtol=1e-10, atol=1e-12)
    ident = _final(LSQ, algorithm__kind="sketch_dl", compressor__kind="none")
    np.testing.assert_allclose(ident, fedavg, rtol=1e-12, atol=1e-14)


def test_sketch_dl_compressed_is_not_fedavg():
    # the reduction above is not vacuous: a real sketch changes the iterates
    fedavg = _final(LSQ, algorithm__kind="local_sgd")
    cs = _final(LSQ, algorithm__kind="sketch_dl", compressor__kind="count_sketch", compressor__ratio=4)
    assert not np.allclose(cs, fedavg, rtol=1e-3)


def test_cs_sgd_residual_lives_in_measurement_space():
    ctx, algo = make(LSQ, algorithm__kind="cs_sgd", compressor__kind="subsampled_wht", compressor__ratio=4, compressor__k=0.1)
    for t in range(6):
        r_before = algo.r.copy()
        x_before = algo.x.copy()
        run_rounds(ctx, algo, 1, start=t)
        z, D = algo.last_z, algo.last_D
        np.testing.assert_allclose(algo.r, z - algo.Phi.forward(D), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(x_before - algo.x, D, rtol=1e-12, atol=1e-14)
        # z = gamma * mean_i Phi g_i + r_prev, with the clients' exact gradients
        g = sum(ctx.problem.loss_grad(x_before, c, 0)[1] for c in range(4)) / 4
        np.testing.assert_allclose(z, 0.1 * algo.Phi.forward(g) + r_before, rtol=1e-9, atol=1e-12)
        assert np.count_nonzero(D) <= algo.K
    assert np.linalg.norm(algo.r) > 0


def test_fetchsgd_zero_removal_clears_cells_and_converges():
    # a sketch with room for the heavy hitters (5 x 64 cells for d = 64; 5 x 6 stalls: estimates are noise)
    ctx, algo = make(LSQ, algorithm__kind="fetchsgd", compressor__kind="count_sketch", compressor__cols=64,
                     compressor__k=8, algorithm__momentum=0.5)
    x0 = algo.x.copy()
    run_rounds(ctx, algo, 1)
    moved = np.flatnonzero(algo.x != x0)
    assert 0 < len(moved) <= 8  # only the k heavy coordinates are updated
    # every cell those coordinates hash to was cleared, in both sketches
    np.testing.assert_array_equal(algo.C.median_estimate(algo.S_e, moved), 0)
    np.testing.assert_array_equal(algo.C.median_estimate(algo.S_u, moved), 0)
    gap0 = ctx.problem.gap(x0)
    run_rounds(ctx, algo, 60, start=1)
    assert ctx.problem.gap(algo.x) < 0.2 * gap0, (ctx.problem.gap(algo.x), gap0)


def test_fetchsgd_subtract_removal_is_exact_in_sketch_space():
    # S_e <- S_e + gamma S_u - S(D): the sketch of (e + gamma u - D), by linearity
    ctx, algo = make(LSQ, algorithm__kind="fetchsgd", compressor__kind="count_sketch", compressor__ratio=2,
                     compressor__k=8, algorithm__error_removal="subtract", algorithm__momentum=0.0,
                     algorithm__local_steps=1)
    run_rounds(ctx, algo, 2)
    S_e_before = algo.S_e.copy()
    x0 = algo.x.copy()
    run_rounds(ctx, algo, 1, start=2)
    g = sum(ctx.problem.loss_grad(x0, c, 0)[1] for c in range(4)) / 4
    D = x0 - algo.x
    expected = S_e_before + 0.1 * algo.C.compress(g) - algo.C.compress(D)
    np.testing.assert_allclose(algo.S_e, expected, rtol=1e-5, atol=1e-5)


def test_second_round_uses_exact_values():
    ctx, algo = make(LSQ, algorithm__kind="fetchsgd", compressor__kind="count_sketch", compressor__ratio=8,
                     compressor__k=4, algorithm__second_round=True, algorithm__local_steps=1)
    x0 = algo.x.copy()
    run_rounds(ctx, algo, 1)
    idx = np.flatnonzero(algo.x != x0)
    g = sum(ctx.problem.loss_grad(x0, c, 0)[1] for c in range(4)) / 4
    np.testing.assert_allclose(x0[idx] - algo.x[idx], 0.1 * g[idx], rtol=1e-6)


def test_fetchsgd_local_steps_with_exact_values_is_fedavg():
    # k = d heavy hitters whose values come from the second round, no momentum, no EF:
    # x <- x - lr * mean_i (x - y_i) / lr = mean_i y_i, FedAvg with 3 local steps
    fedavg = _final(LSQ, algorithm__kind="local_sgd")
    fetch = _final(LSQ, algorithm__kind="fetchsgd", compressor__kind="count_sketch", compressor__ratio=4,
                   compressor__k=1.0, algorithm__second_round=True, algorithm__momentum=0.0,
                   algorithm__error_feedback=False)
    np.testing.assert_allclose(fetch, fedavg, rtol=1e-9, atol=1e-12)
    one_step = _final(LSQ, algorithm__kind="fetchsgd", compressor__kind="count_sketch", compressor__ratio=4,
                      compressor__k=1.0, algorithm__second_round=True, algorithm__momentum=0.0,
                      algorithm__error_feedback=False, algorithm__local_steps=1)
    assert not np.allclose(one_step, fedavg, rtol=1e-3)


def test_sketch_dl_top_r_error_feedback_keeps_the_rest():
    ctx, algo = make(LSQ, algorithm__kind="sketch_dl", compressor__kind="subsampled_wht", compressor__ratio=1,
                     compressor__signs=True, algorithm__top_r=5, algorithm__local_steps=1)
    x0 = algo.x.copy()
    run_rounds(ctx, algo, 1)
    step = algo.x - x0
    assert np.count_nonzero(step) == 5
    # exact sketch: applied + error = the full mean delta
    full = -0.1 * sum(ctx.problem.loss_grad(x0, c, 0)[1] for c in range(4)) / 4
    np.testing.assert_allclose(step + algo.e, full, rtol=1e-9, atol=1e-12)


def _diagnose(**sets):
    ctx, algo = make(LSQ, **sets)
    run_rounds(ctx, algo, 1)
    algo.diagnostics(0)
    return {k: v[0] for k, v in ctx.metrics.take().items()}


def test_recovery_diagnostics_are_exact_for_exact_operators():
    # an orthonormal Phi (DCT, Q = d) recovers the top-K of any vector exactly
    m = _diagnose(algorithm__kind="cs_sgd", compressor__kind="subsampled_dct", compressor__ratio=1, compressor__k=0.1)
    assert m["recovery_error"] < 1e-9 and 0 < m["topk_energy"] < 1 and 1 / 64 <= m["grad_sparsity"] <= 1
    # SRHT with Q = d: R^T R = I, the transpose desketch returns p itself
    m = _diagnose(algorithm__kind="sketch_dl", compressor__kind="subsampled_wht", compressor__ratio=1, compressor__signs=True)
    assert m["recovery_error"] < 1e-9 and "topk_energy" not in m
    # a 5 x 3 count sketch of a dense 64-vector cannot find its top 8
    m = _diagnose(algorithm__kind="fetchsgd", compressor__kind="count_sketch", compressor__cols=3, compressor__k=8)
    assert m["recovery_error"] > 0.5
