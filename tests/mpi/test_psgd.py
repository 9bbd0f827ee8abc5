"""PSGD on P ranks equals one process computing the same full-batch gradients. # mpi-sizes: 4"""

import json

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.config.job import parse_job
from hpcsketch.runner import Runner, RunOptions
from hpcsketch.tracing.reader import read_trace
from hpcsketch.tracing.schema import ENV_ATTRS, OPTIONAL_ROOT_ATTRS, ROOT_ATTRS, SCHEMA_VERSION, TIMING_PHASES

pytestmark = pytest.mark.mpi(min_size=2)

JOB = """
[run]
rounds = 6
eval_every = 3
progress = false
[problem]
kind = "mnist1d"
model = "mlp"
batch_size = 0
[clients]
count = 8
[algorithm]
kind = "psgd"
lr = 0.2
"""


def run(job, world, out):
    r = Runner(job, world, RunOptions(out=out, quiet=True))
    code = r.run()
    assert code == 0
    return r


def test_psgd_matches_one_process_full_batch(comm, shared_tmp):
    job = parse_job(JOB, "psgd.toml", world_size=comm.Get_size())
    r = run(job, comm, shared_tmp)
    x_parallel = r.backend.asnumpy(r.algo.x).copy()
    # every rank holds the same model
    all_x = comm.allgather(x_parallel)
    for other in all_x:
        np.testing.assert_array_equal(other, x_parallel)
    if comm.Get_rank() == 0:
        # the reference: plain full-batch gradient descent with the problem's own gradients
        from hpcsketch.backend import select_backend
        from hpcsketch.problems import REGISTRY

        problem = REGISTRY.get("mnist1d")(dict(job.problem), dict(job.clients), select_backend("numpy"), 0)
        x = problem.init_params().copy()
        for t in range(job.run.rounds):
            g = np.zeros_like(x)
            for c in range(job.clients.count):
                g += problem.loss_grad(x, c, 0)[1]
            x -= job.algorithm.lr * g / job.clients.count
        np.testing.assert_allclose(x_parallel, x, rtol=1e-5, atol=1e-6)
        assert not np.allclose(x, problem.init_params())  # it did move
    comm.Barrier()


def test_one_rank_and_four_ranks_give_the_same_trace(comm, shared_tmp):
    text = JOB.replace("batch_size = 0", "batch_size = 16").replace("count = 8", "count = 12\nparticipation = 0.5")
    job = parse_job(text, "psgd.toml", world_size=comm.Get_size())
    r = run(job, comm, shared_tmp)
    xs = r.backend.asnumpy(r.algo.x).copy()
    if comm.Get_rank() == 0:
        r1 = run(parse_job(text, "psgd.toml"), MPI.COMM_SELF, shared_tmp)
        np.testing.assert_allclose(xs, r1.backend.asnumpy(r1.algo.x), rtol=1e-5, atol=1e-6)
        a, b = read_trace(r.trace_path), read_trace(r1.trace_path)
        np.testing.assert_allclose(a.metrics["loss"], b.metrics["loss"], rtol=1e-5, equal_nan=True)
        np.testing.assert_allclose(a.metrics["eval_accuracy"], b.metrics["eval_accuracy"], equal_nan=True)
        np.testing.assert_array_equal(a.metrics["bytes_uplink"], b.metrics["bytes_uplink"])
        np.testing.assert_array_equal(a.metrics["clients"], b.metrics["clients"])
    comm.Barrier()


def test_trace_schema_and_byte_counts(comm, shared_tmp):
    P = comm.Get_size()
    job = parse_job(JOB, "psgd.toml", world_size=P)
    r = run(job, comm, shared_tmp)
    if comm.Get_rank() != 0:
        comm.Barrier()
        return
    d = r.problem.dim
    t = read_trace(r.trace_path)
    with h5py.File(r.trace_path) as f:
        for key in ROOT_ATTRS:
            assert key in f.attrs or key in OPTIONAL_ROOT_ATTRS, key
        assert f["memory/rss_mb"].shape[1] == P and (f["memory/rss_mb"][()] > 10).all()
        for key in ENV_ATTRS:
            for k in key.split(", "):
                assert k in f["env"].attrs, k
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        assert f["trace/step"].dtype == np.int64
    assert t.status == "completed" and t.attrs["rounds_done"] == 6
    assert json.loads(t.attrs["job_resolved"])["algorithm"]["lr"] == 0.2
    np.testing.assert_array_equal(t.metrics["step"], np.arange(7))
    for name in ("loss", "eval_loss", "eval_accuracy", "bytes_uplink", "bytes_mpi", "bytes_downlink", "cum_bytes_mpi", "time", "clients"):
        assert t.metrics[name].shape == (7,), name
    # evaluation at step 0 (before training) and every eval_every rounds
    assert np.isfinite(t.metrics["eval_loss"][[0, 3, 6]]).all() and np.isnan(t.metrics["eval_loss"][[1, 2, 4, 5]]).all()
    # PSGD sends d float32 per client; each rank hands one Allreduce of d float32 to MPI per round
    np.testing.assert_array_equal(t.metrics["bytes_uplink"][1:], 8 * d * 4)
    np.testing.assert_array_equal(t.metrics["bytes_mpi"][1:], P * d * 4)
    np.testing.assert_array_equal(t.metrics["cum_bytes_mpi"], np.arange(7) * P * d * 4)
    assert t.metrics["bytes_mpi"][0] == 0
    for phase in TIMING_PHASES:
        assert t.timing[phase].shape == (6, P), phase
    assert (t.timing["total"] > 0).all() and (t.timing["compute"] > 0).all()
    assert (t.timing["total"] >= t.timing["compute"]).all()
    assert t.env["world_size"] == P and len(t.env["hostnames"]) == P
    assert t.summary["total_bytes_mpi"] == 6 * P * d * 4
    assert t.summary["final_eval_accuracy"] == pytest.approx(t.metrics["eval_accuracy"][-1])
    comm.Barrier()
