"""DSGD on P ranks: the gossip step is W times the stacked models, the complete graph is PSGD,
the ring's consensus distance shrinks as its spectral gap says. # mpi-sizes: 4, 8"""

import numpy as np
import pytest

from _decentral_helpers import job_text, one_round, prepared, rank_vector, run, stacked
from hpcsketch.tracing.reader import read_trace
from hpcsketch.tracing.schema import DECENTRALIZED_ATTRS

pytestmark = pytest.mark.mpi(min_size=2)


@pytest.mark.parametrize("topology", ["ring", "exponential", "one_peer_exponential", "star"])
def test_atc_round_is_w_times_the_local_steps(comm, shared_tmp, topology):
    r = prepared(comm, job_text(comm, topology=topology, rounds=3), shared_tmp)
    algo, net = r.algo, r.algo.network
    algo.x[...] = rank_vector(comm.Get_rank(), algo.d)  # distinct models, so mixing shows
    for t in range(3):
        x_before = stacked(comm, algo.x)
        one_round(r, t)
        Y = stacked(comm, algo.y)  # x_j - gamma g_j, what each node sent
        G = stacked(comm, algo.g)
        np.testing.assert_allclose(Y, x_before - 0.05 * G, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(stacked(comm, algo.x), net.matrix(t) @ Y, rtol=1e-12, atol=1e-14)


def test_overlap_round_is_combine_then_adapt(comm, shared_tmp):
    text = job_text(comm, topology="one_peer_exponential", rounds=3).replace("lr = 0.05", "lr = 0.05\noverlap = true")
    r = prepared(comm, text, shared_tmp)
    algo = r.algo
    assert algo.overlap
    algo.x[...] = rank_vector(comm.Get_rank(), algo.d)
    for t in range(3):
        X = stacked(comm, algo.x)
        one_round(r, t)
        G = stacked(comm, algo.g)  # gradients at the models before the round
        np.testing.assert_allclose(stacked(comm, algo.x), algo.network.matrix(t) @ X - 0.05 * G, rtol=1e-12, atol=1e-14)
    assert algo.comm.stats.by_op["ineighbor_allgather"].calls == 3


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_dsgd_on_complete_graph_with_uniform_weights_equals_psgd(comm, shared_tmp, momentum):
    base = job_text(comm, topology="complete", weights="uniform", rounds=6, lr=0.1).replace("lr = 0.1", f"lr = 0.1\nmomentum = {momentum}")
    d = run(comm, base, shared_tmp)
    p = run(comm, base.replace('kind = "dsgd"', 'kind = "psgd"'), shared_tmp)
    xd, xp = d.backend.asnumpy(d.algo.x), p.backend.asnumpy(p.algo.x)
    np.testing.assert_allclose(xd, xp, rtol=1e-10, atol=1e-12)
    assert not np.allclose(xp, p.problem.init_params())  # it moved
    # every node holds the same model: consensus distance 0 (up to rounding)
    if comm.Get_rank() == 0:
        t = read_trace(d.trace_path)
        assert np.nanmax(t.metrics["consensus_distance"]) < 1e-20
        np.testing.assert_allclose(t.metrics["loss"][1:], read_trace(p.trace_path).metrics["loss"][1:], rtol=1e-10)
    comm.Barrier()


def test_ring_consensus_distance_shrinks_at_the_spectral_rate(comm, shared_tmp):
    # pure gossip: a step size so small that the gradients do not register
    r = prepared(comm, job_text(comm, topology="ring", rounds=40, lr=1e-14), shared_tmp)
    algo = r.algo
    algo.x[...] = rank_vector(comm.Get_rank(), algo.d)
    lam2 = 1.0 - algo.network.gap
    dist = [algo.consensus_distance()]
    for t in range(40):
        one_round(r, t)
        dist.append(algo.consensus_distance())
    dist = np.asarray(dist)
    above_rounding = dist > 1e-18 * dist[0]  # float64 disagreement bottoms out near 1e-26 here
    assert (np.diff(dist[above_rounding]) < 0).all() and above_rounding.sum() >= 10
    # fit log dist against t once the slowest mode dominates
    t = np.arange(len(dist))
    keep = (t >= 8) & above_rounding
    assert keep.sum() >= 5
    slope = np.polyfit(t[keep], np.log(dist[keep]), 1)[0]
    assert slope == pytest.approx(2 * np.log(lam2), rel=0.02)


def test_trace_records_topology_consensus_worst_node_and_bytes(comm, shared_tmp):
    P = comm.Get_size()
    r = run(comm, job_text(comm, topology="torus", rounds=4), shared_tmp)
    if comm.Get_rank() == 0:
        t = read_trace(r.trace_path)
        net = r.algo.network
        assert t.attrs["topology"] == "torus" and t.attrs["spectral_gap"] == pytest.approx(net.gap)
        assert t.attrs["topology_weights"] == "metropolis"
        for key in DECENTRALIZED_ATTRS:
            for k in key.split(", "):
                assert (k in t.attrs) == (k != "spectral_gaps_per_round"), k  # per-round gaps: time-varying graphs only
        m = t.metrics
        assert np.isfinite(m["consensus_distance"][1:]).all() and (m["consensus_distance"][1:] > 0).all()
        d = r.problem.dim
        np.testing.assert_array_equal(m["bytes_per_neighbor"][1:], d * 8)
        edges = net.graph(0).edges()
        np.testing.assert_array_equal(m["bytes_mpi"][1:], edges * d * 8)
        np.testing.assert_array_equal(m["bytes_uplink"][1:], edges * d * 8)
        for k in ("eval_loss", "eval_worst_loss", "eval_gap", "eval_worst_gap"):
            assert np.isfinite(m[k][[0, -1]]).all(), k
        assert m["eval_worst_loss"][-1] >= m["eval_loss"][-1]  # convex loss: f(x_bar) <= mean_i f(x_i) <= max_i
        assert m["eval_worst_loss"][0] == pytest.approx(m["eval_loss"][0])  # the same model everywhere at step 0
    comm.Barrier()
