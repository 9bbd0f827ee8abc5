"""IST on P ranks equals its one-process run, and the trace's bytes are the blocks moved. # mpi-sizes: 4

The server applies the clients' blocks in sampled-client order on every rank, so the
models agree bitwise, not merely to rounding.
"""

import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.config.job import parse_job
from hpcsketch.runner import Runner, RunOptions
from hpcsketch.tracing.reader import read_trace

pytestmark = pytest.mark.mpi(min_size=2)

CLIENTS_AND_IST = """
[clients]
count = {clients}
participation = {participation}
[algorithm]
kind = "ist"
sketch = "{sketch}"
lr = {lr}
local_steps = {steps}
"""

QUAD = """
[run]
rounds = 6
eval_every = 2
progress = false
[problem]
kind = "quadratic"
dim = 18
hessian_heterogeneity = 0.8
""" + CLIENTS_AND_IST

MLP = """
[run]
rounds = 4
eval_every = 2
progress = false
[problem]
kind = "mnist1d"
model = "mlp"
hidden = 16
samples = 400
batch_size = 16
""" + CLIENTS_AND_IST

CASES = [
    (QUAD, "perm_q", 8, 1.0, 1),
    (QUAD, "perm_q", 8, 0.5, 2),  # n = 4 sampled clients share the blocks; a rank may have none
    (QUAD, "perm_q_preconditioned", 18, 1.0, 1),  # n = d: the seed's preconditioned Perm-1
    (QUAD, "rand_q", 8, 0.5, 2),
    (QUAD, "identity", 4, 1.0, 1),
    (MLP, "neurons", 4, 1.0, 3),
    (MLP, "neurons", 8, 0.5, 2),
]


def _run(text, comm, out):
    r = Runner(parse_job(text, "ist.toml", world_size=comm.Get_size()), comm, RunOptions(out=out, quiet=True))
    assert r.run() == 0
    return r


@pytest.mark.parametrize("text,sketch,clients,participation,steps", CASES,
                         ids=[f"{'mlp' if c[0] is MLP else 'quad'}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_ranks_equal_one_process_and_bytes_are_blocks(comm, shared_tmp, text, sketch, clients, participation, steps):
    lr = 0.1 if text is MLP else 0.05
    text = text.format(sketch=sketch, clients=clients, participation=participation, steps=steps, lr=lr)
    r = _run(text, comm, shared_tmp)
    x = r.backend.asnumpy(r.algo.model()).copy()
    for other in comm.allgather(x):
        np.testing.assert_array_equal(other, x)
    if comm.Get_rank() == 0:
        r1 = _run(text, MPI.COMM_SELF, shared_tmp)
        x1 = r1.backend.asnumpy(r1.algo.model())
        assert not np.allclose(x1, r1.backend.asnumpy(r1.problem.init_params()))
        np.testing.assert_array_equal(x, x1)
        a, b = read_trace(r.trace_path), read_trace(r1.trace_path)
        # the mean loss is summed per rank first: equal to the precision the losses are in
        rtol = 1e-12 if x.dtype == np.float64 else 1e-6
        for m in ("loss", "eval_loss", "bytes_uplink", "bytes_downlink", "dense_bytes_uplink", "clients"):
            np.testing.assert_allclose(a.metrics[m], b.metrics[m], rtol=rtol, equal_nan=True, err_msg=m)

        # the blocks: every sampled client's support, redrawn here from the round key
        algo, P, d = r1.algo, comm.Get_size(), r1.problem.dim
        item = np.dtype(r1.problem.dtype).itemsize
        rounds = r1.job.run.rounds
        blocks = np.zeros(rounds)
        for t in range(rounds):
            sampled = r1.layout.sample(t)
            blocks[t] = sum(D.size for D in algo.sketch.draw(r1.ctx.key("sketch", t), sampled)) * item
        if sketch in ("perm_q", "perm_q_preconditioned"):
            np.testing.assert_array_equal(blocks, d * item)  # disjoint blocks covering [d]
        np.testing.assert_array_equal(a.metrics["bytes_uplink"][1:], blocks)
        np.testing.assert_array_equal(a.metrics["bytes_downlink"][1:], blocks)
        # through MPI: one Allgatherv of the blocks, plus each rank's 8-byte count
        np.testing.assert_array_equal(a.metrics["bytes_mpi"][1:], blocks + 8 * P)
        np.testing.assert_array_equal(b.metrics["bytes_mpi"][1:], blocks)  # one process: no counts to exchange
        # what dense data parallelism would move in the same rounds
        n = a.metrics["clients"][1:]
        np.testing.assert_array_equal(a.metrics["dense_bytes_uplink"][1:], n * d * item)
        np.testing.assert_array_equal(a.metrics["dense_bytes_mpi"][1:], P * d * item)
        if sketch != "identity":
            assert (blocks < n * d * item).all()
    comm.Barrier()
