"""Topologies without MPI: generators, weights, checks, spectral gaps, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpcsketch.errors import BadInput
from hpcsketch.topology import REGISTRY, graphs
from hpcsketch.topology.network import build, node_problem
from hpcsketch.topology.weights import Row, check, dense, mixing_rows, second_eigenvalue, spectral_gap

SIZES = [1, 2, 3, 4, 5, 6, 8, 9, 12, 16]


def valid(kind: str, P: int, opts: dict | None = None) -> bool:
    return node_problem(kind, P, {"weights": "metropolis", **(opts or {})}) is None


def all_cases():
    for kind in REGISTRY.names():
        for P in SIZES:
            for weights in ("metropolis", "uniform"):
                opts = {"weights": weights, "degree": 2 if P > 3 and P % 2 else 3}
                if node_problem(kind, P, opts) is None:
                    yield pytest.param(kind, P, opts, id=f"{kind}-{P}-{weights}")


@pytest.mark.parametrize("kind,P,opts", list(all_cases()))
def test_mixing_matrix_is_doubly_stochastic_and_symmetric_when_undirected(kind, P, opts):
    net = build(kind, P, opts)
    for g, W in zip(net.graphs, (net.matrix(t) for t in range(net.period))):
        assert W.shape == (P, P)
        assert (W >= 0).all()
        np.testing.assert_allclose(W.sum(axis=0), 1.0, atol=1e-12)
        np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
        if not g.directed:
            np.testing.assert_array_equal(W, W.T)
        # W is supported on the graph's edges plus the diagonal
        A = np.eye(P, dtype=bool)
        for i, src in enumerate(g.sources):
            A[i, list(src)] = True
        assert not W[~A].any()
        assert g.connected() or net.time_varying
    assert all(c.doubly_stochastic for c in net.checks())


@pytest.mark.parametrize("kind,P,opts", list(all_cases()))
def test_spectral_gap_matches_numpy_eigenvalues(kind, P, opts):
    net = build(kind, P, opts)
    for t in range(net.period):
        W = net.matrix(t)
        lam = np.sort(np.abs(np.linalg.eigvals(W)))[::-1]
        expected = 1.0 - lam[1] if P > 1 else 1.0
        assert net.gaps[t] == pytest.approx(max(0.0, expected), abs=1e-9)
    if not net.time_varying:
        assert net.gap == net.gaps[0]
        assert net.gap > 0  # connected: consensus is reached


def test_ring_gap_closed_form():
    # Metropolis on a ring: every weight 1/3, eigenvalues 1/3 + 2/3 cos(2 pi k / P)
    for P in (5, 8, 12):
        net = build("ring", P, {"weights": "metropolis"})
        lam2 = max(abs(1 / 3 + 2 / 3 * math.cos(2 * math.pi * k / P)) for k in range(1, P))
        assert net.gap == pytest.approx(1 - lam2, abs=1e-12)


def test_complete_graph_averages_in_one_step():
    net = build("complete", 6, {"weights": "uniform"})
    np.testing.assert_allclose(net.matrix(), np.full((6, 6), 1 / 6), atol=1e-15)
    assert net.gap == pytest.approx(1.0)


@pytest.mark.parametrize("P", [2, 4, 8, 16, 32])
def test_one_peer_exponential_period_product_is_exact_averaging(P):
    net = build("one_peer_exponential", P, {"weights": "metropolis"})
    assert net.time_varying and net.period == int(math.log2(P))
    for t, g in enumerate(net.graphs):
        shift = 2 ** t
        assert g.destinations == tuple(((i + shift) % P,) for i in range(P))
        W = net.matrix(t)
        # node i keeps half of its value and takes half of node i - 2^t's
        expected = 0.5 * np.eye(P)
        expected[np.arange(P), (np.arange(P) - shift) % P] += 0.5
        np.testing.assert_array_equal(W, expected)
    np.testing.assert_allclose(net.period_matrix(), np.full((P, P), 1 / P), atol=1e-15)
    assert net.period_gap == pytest.approx(1.0)
    assert net.graph(net.period) == net.graph(0)  # round t uses graph t mod period


def test_one_peer_exponential_is_directed_and_not_symmetric():
    net = build("one_peer_exponential", 8, {"weights": "metropolis"})
    assert net.graphs[0].directed
    W = net.matrix(0)
    assert not np.array_equal(W, W.T)
    assert not net.checks()[0].symmetric and net.checks()[0].doubly_stochastic
    # one round alone leaves the two residue classes of a shift by 2 apart: gap 0
    assert net.gaps[1] == pytest.approx(0.0, abs=1e-12)


def test_one_peer_exponential_on_six_nodes_mixes_but_not_exactly():
    net = build("one_peer_exponential", 6, {"weights": "metropolis"})
    assert net.period == 3
    assert 0 < net.period_gap < 1
    for t in range(3):
        W = net.matrix(t)
        np.testing.assert_allclose(W.sum(axis=0), 1)


def test_generators_neighbour_lists():
    assert graphs.ring(5).sources[0] == (1, 4)
    assert graphs.ring(2).sources == ((1,), (0,))
    assert graphs.ring(1).sources == ((),)
    assert graphs.torus_dims(12) == (3, 4) and graphs.torus_dims(16) == (4, 4) and graphs.torus_dims(8) == (2, 4)
    t = graphs.torus(12)  # 3 x 4: node 5 = (1, 1)
    assert t.sources[5] == (1, 4, 6, 9)
    assert set(t.degrees()) == {4}
    assert set(graphs.torus(8).degrees()) == {3}  # the side of 2 links its two nodes once
    assert graphs.exponential(8).sources[0] == (1, 2, 4, 6, 7)
    assert graphs.exponential(6).sources[0] == (1, 2, 4, 5)
    s = graphs.star(5)
    assert s.sources[0] == (1, 2, 3, 4) and s.sources[3] == (0,)
    assert not s.regular
    assert graphs.complete(4).sources[2] == (0, 1, 3)


@pytest.mark.parametrize("P,k", [(8, 3), (10, 4), (16, 5), (20, 2), (7, 4)])
def test_random_regular_is_regular_simple_connected_and_seeded(P, k):
    g = graphs.random_regular(P, k, seed=3)
    assert set(g.degrees()) == {k}
    assert g.connected() and not g.directed
    assert all(i not in src for i, src in enumerate(g.sources))
    assert g == graphs.random_regular(P, k, seed=3)
    others = {graphs.random_regular(P, k, seed=s).sources for s in range(8)}
    assert len(others) > 1  # the seed matters


def test_metropolis_weights_on_an_irregular_graph():
    rows = mixing_rows(graphs.star(4), "metropolis")
    # hub degree 3, leaves degree 1: every edge weight 1 / (1 + 3)
    assert rows[0].weights == (0.25, 0.25, 0.25) and rows[0].self_weight == pytest.approx(0.25)
    assert rows[1].weights == (0.25,) and rows[1].self_weight == pytest.approx(0.75)
    assert check(rows).doubly_stochastic and check(rows).symmetric


def test_checks_catch_bad_matrices():
    # rows sum to 1 but columns do not
    rows = [Row(0.5, (1,), (0.5,)), Row(0.0, (0,), (1.0,))]
    c = check(rows)
    assert c.row_stochastic and not c.column_stochastic and not c.doubly_stochastic and not c.symmetric
    assert not check([Row(1.5, (1,), (-0.5,)), Row(0.5, (0,), (0.5,))]).nonnegative


def test_second_eigenvalue_of_a_disconnected_matrix_is_one():
    W = np.kron(np.eye(2), np.full((2, 2), 0.5))
    assert second_eigenvalue(W) == pytest.approx(1.0)
    assert spectral_gap(W) == 0.0
    assert spectral_gap(dense([Row(1.0, (), ())])) == 1.0


@pytest.mark.parametrize(
    "kind,P,opts,key",
    [
        ("torus", 3, {}, "kind"),
        ("torus", 7, {}, "kind"),
        ("random_regular", 5, {"degree": 3}, "degree"),
        ("random_regular", 4, {"degree": 4}, "degree"),
        ("random_regular", 6, {"degree": 1}, "degree"),
        ("star", 5, {"weights": "uniform"}, "weights"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(kind, P, opts, key):
    problem = node_problem(kind, P, {"weights": "metropolis", **opts})
    assert problem is not None and problem[0] == key
    with pytest.raises(BadInput) as e:
        build(kind, P, {"weights": "metropolis", **opts})
    assert f"[topology] {key}" in str(e.value) and "\n" not in str(e.value)


def test_unknown_kind_and_weights():
    with pytest.raises(BadInput, match=r"\[topology\] kind"):
        build("hypercube", 8, {})
    with pytest.raises(BadInput, match=r"\[topology\] weights"):
        mixing_rows(graphs.ring(4), "max-degree")


def test_trace_attrs():
    a = build("one_peer_exponential", 8, {"weights": "metropolis"}).attrs()
    assert a["topology"] == "one_peer_exponential" and a["topology_period"] == 3
    assert a["spectral_gap"] == pytest.approx(1.0) and len(a["spectral_gaps_per_round"]) == 3
    b = build("ring", 8, {"weights": "uniform"}).attrs()
    assert b["topology_min_degree"] == b["topology_max_degree"] == 2 and "spectral_gaps_per_round" not in b
