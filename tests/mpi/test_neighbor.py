"""Neighbour collectives on every topology: one gossip step is W times the stacked vectors. # mpi-sizes: 4, 8"""

import numpy as np
import pytest

from _comm_helpers import make_comm
from _decentral_helpers import rank_vector, stacked
from hpcsketch.comm.neighbor import NeighborComm
from hpcsketch.topology import REGISTRY
from hpcsketch.topology.network import build, node_problem

pytestmark = pytest.mark.mpi(min_size=2)


def networks(P):
    for kind in REGISTRY.names():
        for weights in ("metropolis", "uniform"):
            opts = {"weights": weights, "degree": 3}
            if node_problem(kind, P, opts) is None:
                yield kind, opts


def gossip(nc, row, x):
    """x_i <- w_ii x_i + sum_k w_{i,sources[k]} x_{sources[k]} through the neighbour collective."""
    got = nc.neighbor_allgather(x)
    return row.self_weight * x + np.tensordot(np.asarray(row.weights), got, axes=(0, 0))


def test_every_topology_gossip_step_equals_w_times_stacked(np_backend, comm):
    c = make_comm(np_backend)
    P, me = c.size, c.rank
    checked = 0
    for kind, opts in networks(P):
        net = build(kind, P, opts)
        X = np.stack([rank_vector(r, 37) for r in range(P)])
        for t in range(net.period):
            g = net.graph(t)
            nc = NeighborComm(c, g.sources[me], g.destinations[me])
            out = gossip(nc, net.row(t, me), X[me])
            got = stacked(comm, out)
            np.testing.assert_allclose(got, net.matrix(t) @ X, rtol=1e-13, atol=1e-13, err_msg=f"{kind} {opts} t={t}")
            # doubly stochastic: the average is preserved
            np.testing.assert_allclose(got.mean(axis=0), X.mean(axis=0), rtol=1e-12, atol=1e-13)
            nc.free()
            checked += 1
    assert checked >= 10


def test_neighbor_allgather_blocks_follow_sources_and_bytes_are_counted(backend, comm):
    c = make_comm(backend)
    net = build("exponential", c.size, {"weights": "metropolis"})
    g = net.graph(0)
    nc = NeighborComm(c, g.sources[c.rank], g.destinations[c.rank])
    buf = backend.xp.asarray(np.full((3, 5), c.rank, dtype=np.float32))
    out = nc.neighbor_allgather(buf)
    assert out.shape == (len(g.sources[c.rank]), 3, 5)
    for k, src in enumerate(g.sources[c.rank]):
        assert (backend.asnumpy(out[k]) == src).all()
    counter = c.stats.take("train")
    assert counter.calls == 1 and counter.bytes == buf.nbytes * len(g.destinations[c.rank])
    nc.free()


def test_ineighbor_allgather_equals_blocking(backend, comm):
    c = make_comm(backend)
    net = build("one_peer_exponential", c.size, {"weights": "metropolis"})
    for t in range(net.period):
        g = net.graph(t)
        nc = NeighborComm(c, g.sources[c.rank], g.destinations[c.rank])
        x = backend.xp.asarray(rank_vector(c.rank, 1000, "float32"))
        req = nc.ineighbor_allgather(x)
        req.test()
        got = backend.asnumpy(req.wait())
        np.testing.assert_array_equal(got, backend.asnumpy(nc.neighbor_allgather(x)))
        assert got.shape == (1, 1000)
        np.testing.assert_array_equal(got[0], rank_vector(g.sources[c.rank][0], 1000, "float32"))
        nc.free()
    assert c.stats.by_op["ineighbor_allgather"].bytes == net.period * 4000


def test_neighbor_allgatherv_with_different_sizes(backend, comm):
    c = make_comm(backend)
    g = build("ring", c.size, {"weights": "metropolis"}).graph(0)
    nc = NeighborComm(c, g.sources[c.rank], g.destinations[c.rank])
    mine = np.arange(c.rank + 2, dtype=np.uint8) + 10 * c.rank
    flat, counts = nc.neighbor_allgatherv(backend.xp.asarray(mine))
    assert counts == [s + 2 for s in g.sources[c.rank]]
    pos = 0
    for s, n in zip(g.sources[c.rank], counts):
        np.testing.assert_array_equal(backend.asnumpy(flat[pos:pos + n]), np.arange(s + 2, dtype=np.uint8) + 10 * s)
        pos += n
    # counts (8 bytes) and the payload, to each of the ring's out-neighbours
    assert c.stats.take("train").bytes == (8 + mine.nbytes) * len(g.destinations[c.rank])
    nc.free()


def test_one_peer_exponential_period_reaches_exact_average(np_backend, comm):
    c = make_comm(np_backend)
    P = c.size
    if P & (P - 1):
        pytest.skip("exact averaging in one period needs a power-of-two number of ranks")
    net = build("one_peer_exponential", P, {"weights": "metropolis"})
    comms = [NeighborComm(c, g.sources[c.rank], g.destinations[c.rank]) for g in net.graphs]
    x = rank_vector(c.rank, 64)
    X = stacked(comm, x)
    for t in range(net.period):
        x = gossip(comms[t], net.row(t, c.rank), x)
    np.testing.assert_allclose(x, X.mean(axis=0), rtol=1e-13, atol=1e-14)
    for nc in comms:
        nc.free()


def test_bench_neighbors_rows_carry_bench_one_keys_and_the_allreduce_ratio(np_backend, comm):
    from hpcsketch.bench.comm import bench_one
    from hpcsketch.bench.neighbors import bench_neighbors

    c = make_comm(np_backend)
    rows = bench_neighbors("neighbor_allgather:all", [64, 4096], c, np_backend, iters_scale=0.01, quiet=True)
    kinds = {r["op"] for r in rows}
    assert {"neighbor_allgather:ring", "neighbor_allgather:complete", "neighbor_allgather:one_peer_exponential"} <= kinds
    assert len(rows) == 2 * len(kinds)
    reference = set(bench_one("allreduce", 64, c, np_backend, 0.01))
    for r in rows:
        assert reference <= set(r)
        assert r["bytes"] in (64, 4096) and r["median_us"] > 0 and r["allreduce_median_us"] > 0
        assert r["vs_allreduce"] == pytest.approx(r["median_us"] / r["allreduce_median_us"])
        assert r["min_us"] <= r["avg_us"] <= r["max_us"]
    assert {r["max_degree"] for r in rows if r["op"].endswith(":complete")} == {c.size - 1}
