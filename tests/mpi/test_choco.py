"""CHOCO-SGD on P ranks: identity compression is DSGD; compressed gossip keeps s_i = sum_j w_ij x_hat_j,
preserves the average and reaches consensus. # mpi-sizes: 4, 8"""

import numpy as np
import pytest

from _decentral_helpers import job_text, one_round, prepared, rank_vector, run, stacked
from hpcsketch.compressors.topk import TopK
from hpcsketch.tracing.reader import read_trace

pytestmark = pytest.mark.mpi(min_size=2)


def choco(comm, compressor: str = "none", consensus_lr: float = 1.0, **kw) -> str:
    text = job_text(comm, algorithm="choco_sgd", **kw)
    return text.replace('kind = "choco_sgd"', f'kind = "choco_sgd"\nconsensus_lr = {consensus_lr}') + f'[compressor]\nkind = "{compressor}"\nk = 0.25\nlevels = 4\nratio = 2\n'


@pytest.mark.parametrize("topology", ["ring", "exponential"])
def test_identity_compressor_with_unit_consensus_step_equals_dsgd(comm, shared_tmp, topology):
    c = run(comm, choco(comm, topology=topology, rounds=8), shared_tmp)
    d = run(comm, job_text(comm, topology=topology, rounds=8), shared_tmp)
    xc, xd = c.backend.asnumpy(c.algo.x), d.backend.asnumpy(d.algo.x)
    np.testing.assert_allclose(xc, xd, rtol=1e-9, atol=1e-11)
    assert not np.allclose(xd, d.problem.init_params())
    if comm.Get_rank() == 0:
        tc, td = read_trace(c.trace_path), read_trace(d.trace_path)
        np.testing.assert_allclose(tc.metrics["consensus_distance"][1:], td.metrics["consensus_distance"][1:], rtol=1e-6, atol=1e-20)
        np.testing.assert_array_equal(tc.metrics["bytes_mpi"], td.metrics["bytes_mpi"])
    comm.Barrier()


@pytest.mark.parametrize("compressor,gamma_c", [("topk", 0.3), ("qsgd", 0.3), ("sign", 0.3), ("count_sketch", 0.1), ("randk", 0.3)])
def test_compressed_gossip_keeps_s_preserves_the_average_and_reaches_consensus(comm, shared_tmp, compressor, gamma_c):
    # unbiased compressors are scaled by 1/(1 + omega) (auto); sketches need a smaller gamma_c, as CHOCO's theory says
    # float32 payloads (count sketch tables) sum in float32
    tol = {"rtol": 1e-5, "atol": 1e-6} if compressor == "count_sketch" else {"rtol": 1e-9, "atol": 1e-11}
    r = prepared(comm, choco(comm, compressor, consensus_lr=gamma_c, topology="ring", rounds=50, lr=1e-14), shared_tmp)
    algo = r.algo
    algo.x[...] = rank_vector(comm.Get_rank(), algo.d)
    X0 = stacked(comm, algo.x)
    start = algo.consensus_distance()
    for t in range(50):
        one_round(r, t)
        if t in (0, 49):
            # the memory-efficient form: s_i is sum_j w_ij x_hat_j
            np.testing.assert_allclose(stacked(comm, algo.s), algo.network.matrix(t) @ stacked(comm, algo.x_hat), **tol)
    X = stacked(comm, algo.x)
    np.testing.assert_allclose(X.mean(axis=0), X0.mean(axis=0), **tol)
    assert algo.consensus_distance() < 0.1 * start, compressor


def test_compressed_bytes_and_the_allgatherv_path(comm, shared_tmp, monkeypatch):
    P = comm.Get_size()
    text = choco(comm, "topk", consensus_lr=0.5, topology="ring", rounds=4)
    fixed = run(comm, text, shared_tmp)
    k = fixed.algo.C.k
    assert fixed.algo.fixed_size == 8 * k
    # a compressor without a fixed payload size goes through Neighbor_allgatherv: the same result
    monkeypatch.setattr(TopK, "payload_nbytes", lambda self: None)
    varied = run(comm, text, shared_tmp)
    # 4 rounds, and the warm-up's dry round before them (a real collective, counted under "warmup")
    assert varied.algo.fixed_size is None and varied.comm.stats.by_op["neighbor_allgatherv"].calls == 4 + 1
    np.testing.assert_array_equal(varied.backend.asnumpy(varied.algo.x), fixed.backend.asnumpy(fixed.algo.x))
    if comm.Get_rank() == 0:
        m = read_trace(fixed.trace_path).metrics
        np.testing.assert_array_equal(m["bytes_per_neighbor"][1:], 8 * k)
        np.testing.assert_array_equal(m["bytes_mpi"][1:], P * 2 * 8 * k)
        mv = read_trace(varied.trace_path).metrics
        # plus the 8-byte sizes that travel first
        np.testing.assert_array_equal(mv["bytes_mpi"][1:], P * 2 * (8 * k + 8))
    comm.Barrier()
