"""Independent subnetwork training (seed 002): the sketches, reductions to GD and local SGD,
the seed's update written out with d x d matrices, and the behaviour the seed proves."""

import numpy as np
import pytest
import torch

from conftest import make, run_rounds
from hpcsketch.config.job import parse_job
from hpcsketch.diagonal_sketches import NeuronSketch, PermQSketch, PreconditionedPermQSketch, RandQSketch
from hpcsketch.errors import BadInput, JobError

QUAD = """
[run]
rounds = 10
[problem]
kind = "quadratic"
dim = 16
condition = 10
hessian_heterogeneity = 0.8
minimizer_heterogeneity = 1.0
[clients]
count = 16
[algorithm]
kind = "ist"
sketch = "perm_q"
lr = 0.05
"""

MLP = """
[run]
rounds = 10
[problem]
kind = "mnist1d"
model = "mlp"
hidden = 12
samples = 400
batch_size = 16
[clients]
count = 4
[algorithm]
kind = "ist"
sketch = "neurons"
lr = 0.1
local_steps = 3
"""


def _dist_trace(text, rounds, every, **sets):
    """||x - x*|| every ``every`` rounds (the first entry is x0's)."""
    ctx, algo = make(text, **sets)
    out = [ctx.problem.evaluate(algo.x)["dist"]]
    for start in range(0, rounds, every):
        run_rounds(ctx, algo, every, start=start)
        out.append(ctx.problem.evaluate(algo.x)["dist"])
    return np.array(out)


# ---------------------------------------------------------------- the sketches


@pytest.mark.parametrize("d,n", [(16, 16), (17, 4), (10, 3), (10, 1), (5, 5)])
def test_perm_q_blocks_are_disjoint_and_cover(d, n):
    sketch = PermQSketch(d)
    firsts = set()
    for key in range(20):
        diags = sketch.draw(key, np.arange(n))
        index = np.concatenate([D.index for D in diags])
        np.testing.assert_array_equal(np.sort(index), np.arange(d))  # disjoint and covering
        sizes = [D.size for D in diags]
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) == d
        for D in diags:
            np.testing.assert_array_equal(D.scale, n)
            np.testing.assert_array_equal(D.weight, 1.0 / n)
        firsts.add(tuple(diags[0].index))
    if n < d:
        assert len(firsts) > 1  # a fresh permutation every round


def test_sketches_are_unbiased_in_expectation():
    d, n, draws = 12, 4, 1500
    for sketch in (PermQSketch(d), RandQSketch(d), RandQSketch(d, 5)):
        mean = np.zeros((n, d))
        for key in range(draws):
            for i, D in enumerate(sketch.draw(key, np.arange(n))):
                mean[i] += D.dense(d) / draws
        np.testing.assert_allclose(mean, 1.0, atol=0.15, err_msg=sketch.kind)  # E[C_i] = I for every client
    # rand-q masks are each client's own: two clients differ, and a client's mask does not depend on who else takes part
    a = RandQSketch(d, 5).draw(7, [0, 1, 2])
    b = RandQSketch(d, 5).draw(7, [1, 5])
    assert not np.array_equal(a[0].index, a[1].index)
    np.testing.assert_array_equal(a[1].index, b[0].index)


def test_preconditioned_perm_1_is_the_seeds_sketch():
    ctx, algo = make(QUAD, algorithm__sketch="perm_q_preconditioned")
    p, n, d = ctx.problem, 16, 16
    diags = algo.sketch.draw(3, np.arange(n))
    plain = PermQSketch(d).draw(3, np.arange(n))
    for i, (D, P) in enumerate(zip(diags, plain)):
        np.testing.assert_array_equal(D.index, P.index)  # the same blocks as Perm-q
        j = int(D.index[0])
        assert D.size == 1  # n = d: Perm-1
        np.testing.assert_allclose(D.scale, np.sqrt(n / p.hessian(i)[j, j]))
    # E[C_i L_i C_i] = I: coordinate j goes to client i with probability 1/n
    mean = np.zeros(d)
    for i in range(n):
        for j in range(d):
            mean[j] += (n / p.hessian(i)[j, j]) * p.hessian(i)[j, j] / n / n
    np.testing.assert_allclose(mean, 1.0)


# ---------------------------------------------------------------- reductions and the seed's update


def test_identity_sketch_is_gradient_descent():
    ctx, algo = make(QUAD, algorithm__sketch="identity", algorithm__lr=0.3)
    p = ctx.problem
    x = algo.x.copy()
    for t in range(15):
        run_rounds(ctx, algo, 1, start=t)
        x = x - 0.3 * p.grad(x)
        np.testing.assert_allclose(algo.x, x, rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(x - algo.model()) == pytest.approx(0, abs=1e-12)


def test_identity_sketch_with_local_steps_is_local_sgd():
    sets = dict(algorithm__lr=0.2, algorithm__local_steps=4, algorithm__server_lr=0.7)
    ctx, ist = make(QUAD, algorithm__sketch="identity", **sets)
    run_rounds(ctx, ist, 10)
    ctx2, fedavg = make(QUAD, algorithm__kind="local_sgd", **sets)
    run_rounds(ctx2, fedavg, 10)
    np.testing.assert_allclose(ist.x, fedavg.x, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("sketch,n", [("perm_q", 16), ("perm_q", 4), ("perm_q_preconditioned", 16), ("rand_q", 4)])
@pytest.mark.parametrize("steps", [1, 3])
def test_one_round_is_the_seeds_update(sketch, n, steps):
    """One round against the update written with d x d matrices C_i (docs/methods.md, 'IST'): one step is
    x+ = x - gamma mean_i C_i grad f_i(C_i x), which for Perm-q is mean_i [C_i x - gamma C_i grad f_i(C_i x)]."""
    lr = 0.05
    ctx, algo = make(QUAD, algorithm__sketch=sketch, clients__count=n, algorithm__local_steps=steps, algorithm__lr=lr)
    p, d = ctx.problem, 16
    x = algo.x.copy()
    diags = algo.sketch.draw(ctx.key("sketch", 0), np.arange(n))
    C = [np.diag(D.dense(d)) for D in diags]
    new = x.copy()
    for i, Ci in enumerate(C):
        y = x.copy()
        for _ in range(steps):
            y = y - lr * Ci @ p.full_grad(Ci @ y, i)
        new += (y - x) / n
    if sketch == "perm_q" and steps == 1:
        eq4 = np.mean([Ci @ x - lr * Ci @ p.full_grad(Ci @ x, i) for i, Ci in enumerate(C)], axis=0)
        np.testing.assert_allclose(new, eq4, rtol=1e-12, atol=1e-14)
    run_rounds(ctx, algo, 1)
    np.testing.assert_allclose(algo.x, new, rtol=1e-12, atol=1e-14)
    assert not np.allclose(algo.x, x)


# ---------------------------------------------------------------- what the seed proves, on small instances


def test_interpolation_converges_linearly_and_heterogeneous_b_stalls():
    # b_i = 0: IST (Perm-1, n = d) reaches x* = 0 at a linear rate, for both step sizes
    for lr in (0.05, 0.01):
        dist = _dist_trace(QUAD, 300, 100, problem__interpolation=True, algorithm__lr=lr)
        assert (dist[1:] / dist[:-1] < 0.05).all(), (lr, dist)  # at least 20x per 100 rounds, every time
    # b_i != 0 with heterogeneous L_i: a neighbourhood of x* that does not shrink with the step size
    floor = {}
    for lr in (0.05, 0.01):
        dist = _dist_trace(QUAD, 600, 20, algorithm__lr=lr)
        assert dist[-1] > 0.3 * dist[0], (lr, dist)
        floor[lr] = dist[len(dist) // 2:].mean()  # the second half: settled
    assert 0.5 < floor[0.01] / floor[0.05] < 2, floor  # 5x smaller step, about the same distance
    # the floor is the sketch's, not the problem's: gradient descent on the same instance reaches x*
    gd = _dist_trace(QUAD, 600, 600, algorithm__sketch="identity", algorithm__lr=0.5)
    assert gd[-1] < 1e-6 * gd[0], gd


def test_preconditioning_removes_the_dependence_on_the_hessian_diagonal():
    # homogeneous interpolation problem, n = d: plain Perm-1 multiplies coordinate j by 1 - gamma n L_jj
    # each round, so it needs gamma < 2 / (n max_j L_jj); preconditioned Perm-1 multiplies it by 1 - gamma
    sets = dict(problem__hessian_heterogeneity=0.0, problem__interpolation=True)
    ctx, _ = make(QUAD, **sets)
    limit = 2 / (16 * ctx.problem.diag_hessian(0).max())
    assert limit < 0.25
    plain = _dist_trace(QUAD, 100, 100, algorithm__lr=0.5, **sets)
    pre = _dist_trace(QUAD, 100, 100, algorithm__lr=0.5, algorithm__sketch="perm_q_preconditioned", **sets)
    assert plain[-1] > 1e6 * plain[0], plain  # diverges
    assert pre[-1] < 1e-12 * pre[0], pre  # converges
    slow = _dist_trace(QUAD, 100, 100, algorithm__lr=0.2 * limit, **sets)
    assert slow[-1] < 1e-3 * slow[0], slow  # plain Perm-1 converges only with a much smaller step


# ---------------------------------------------------------------- IST on a network


def test_neuron_sketch_splits_hidden_units():
    ctx, algo = make(MLP)
    p, n, d = ctx.problem, 4, ctx.problem.dim
    layers = p.dense_layers()
    assert [(l.out_features, l.in_features) for l in layers] == [(12, 40), (12, 12), (10, 12)]
    diags = algo.sketch.draw(11, np.arange(n))
    cover = np.zeros(d, dtype=int)
    for D in diags:
        assert len(np.unique(D.index)) == D.size
        cover[D.index] += 1
    b_out = np.arange(layers[2].bias_offset, layers[2].bias_offset + 10)
    assert (cover[b_out] == n).all()  # the output bias: every client
    rest = np.setdiff1d(np.arange(d), b_out)
    assert set(np.unique(cover[rest])) == {0, 1}
    assert (cover == 0).sum() == 12 * 12 - n * 3 * 3  # the hidden-to-hidden weights between two clients' units
    # the submodel C_i x is the small network of client i's units, with dropout scaling n
    units = algo.sketch.units(11, n)
    x = torch.from_numpy(np.asarray(algo.x))
    inputs = torch.randn(5, 40)
    for D, (u1, u2) in zip(diags, units):
        w = np.zeros(d, dtype=np.float32)
        w[D.index] = D.scale * np.asarray(algo.x)[D.index]
        full = torch.func.functional_call(p.model, p.flat.unflatten(torch.from_numpy(w)), (inputs,))
        P = p.flat.unflatten(x)
        u1, u2 = torch.from_numpy(u1), torch.from_numpy(u2)
        h = torch.relu(inputs @ P["1.weight"][u1].T + P["1.bias"][u1])
        h = torch.relu(h @ (n * P["3.weight"][u2][:, u1]).T + P["3.bias"][u2])
        small = h @ (n * P["5.weight"][:, u2]).T + P["5.bias"]
        torch.testing.assert_close(full, small, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="hidden layer"):
        NeuronSketch(d, layers[-1:])


def test_ist_on_the_mlp_with_one_client_is_local_sgd():
    ctx, ist = make(MLP, clients__count=1)
    run_rounds(ctx, ist, 4)
    ctx2, sgd = make(MLP, clients__count=1, algorithm__kind="local_sgd")
    run_rounds(ctx2, sgd, 4)
    assert not np.allclose(ist.x, ctx.problem.init_params())
    np.testing.assert_allclose(ist.x, sgd.x, rtol=1e-6, atol=1e-7)


def test_ist_on_the_mlp_trains_and_leaves_cross_weights_alone():
    ctx, algo = make(MLP)
    x0 = algo.x.copy()
    before = algo.evaluate()["eval_loss"]
    diags = algo.sketch.draw(ctx.key("sketch", 0), np.arange(4))
    run_rounds(ctx, algo, 1)
    cover = np.zeros(ctx.problem.dim, dtype=int)
    for D in diags:
        cover[D.index] += 1
    np.testing.assert_array_equal(algo.x[cover == 0], x0[cover == 0])  # trained by nobody this round
    assert not np.allclose(algo.x[cover == 1], x0[cover == 1])
    run_rounds(ctx, algo, 40, start=1)
    assert algo.evaluate()["eval_loss"] < before - 0.1


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("text,sets,match", [
    (QUAD, dict(algorithm__sketch="neurons"), r"\[algorithm\] sketch = \"neurons\".*MLP"),
    (MLP, dict(algorithm__sketch="perm_q_preconditioned"), r"\[algorithm\] sketch = \"perm_q_preconditioned\".*Hessian"),
    (MLP, dict(problem__model="cnn"), r"\[algorithm\] sketch = \"neurons\""),
    (QUAD, dict(algorithm__momentum=0.9), r"\[algorithm\] momentum"),
    (QUAD, dict(algorithm__sketch="sketchy"), r"\[algorithm\] sketch"),
    (QUAD, dict(compressor__kind="topk"), r"\[compressor\] kind"),
])
def test_bad_jobs_name_the_key(text, sets, match):
    with pytest.raises(JobError, match=match):
        make(text, **sets)


@pytest.mark.parametrize("text,sets,field", [
    (QUAD, dict(clients__count=17), '[algorithm] sketch = "perm_q"'),
    (MLP, dict(clients__count=13), '[algorithm] sketch = "neurons"'),
    (QUAD, dict(algorithm__sketch="rand_q", algorithm__q=17), "[algorithm] q = 17"),
])
def test_impossible_sizes_name_the_key(text, sets, field):
    with pytest.raises(BadInput) as err:
        make(text, **sets)
    assert err.value.field == field


def test_preconditioning_needs_positive_diagonals():
    with pytest.raises(ValueError, match="positive"):
        PreconditionedPermQSketch(2, lambda c: np.array([1.0, 0.0]), 1)
