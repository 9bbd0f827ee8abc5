"""Federated methods under heterogeneous partitions on P ranks equal their one-process
run: the heterogeneity job's setting (MNIST-1D CNN, Dirichlet and shard clients, client
sampling, several local steps) and the quadratic / least-squares heterogeneity knobs.
Per-client state (control variates, residuals, EF21's g_i) lives on the rank hosting
the client, so a wrong client-to-rank bookkeeping shows up as a different model.
# mpi-sizes: 4"""

import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.config.job import parse_job
from hpcsketch.runner import Runner, RunOptions

pytestmark = pytest.mark.mpi(min_size=2)

MNIST = """
[run]
rounds = 4
eval_every = 2
progress = false
[problem]
kind = "mnist1d"
model = "cnn"
batch_size = 16
[clients]
count = 12
participation = 0.5
partition = "{partition}"
alpha = 0.1
shards = 1
[algorithm]
kind = "{algorithm}"
lr = 0.05
local_steps = 3
beta = 0.5
[compressor]
kind = "{compressor}"
k = 0.05
"""

QUAD = """
[run]
rounds = 8
eval_every = 4
progress = false
[problem]
kind = "{problem}"
dim = 30
condition = 10
hessian_heterogeneity = 0.8
minimizer_heterogeneity = 2.0
heterogeneity = 1.0
rows = 20
batch_size = {batch}
[clients]
count = 8
participation = 0.75
[algorithm]
kind = "{algorithm}"
lr = 0.05
local_steps = 4
beta = 0.5
[compressor]
kind = "{compressor}"
k = 0.1
"""

CASES = [
    (MNIST, dict(partition="dirichlet", algorithm="local_sgd", compressor="none"), 1e-5),
    (MNIST, dict(partition="dirichlet", algorithm="scaffold", compressor="none"), 1e-5),
    (MNIST, dict(partition="dirichlet", algorithm="fedavg_m", compressor="none"), 1e-5),
    (MNIST, dict(partition="shards", algorithm="scaffold_m", compressor="none"), 1e-5),
    (MNIST, dict(partition="shards", algorithm="local_sgd", compressor="topk"), 1e-5),
    (QUAD, dict(problem="quadratic", batch=0, algorithm="scaffold", compressor="none"), 1e-9),
    (QUAD, dict(problem="quadratic", batch=0, algorithm="fedavg_m", compressor="qsgd"), 1e-9),
    (QUAD, dict(problem="least_squares", batch=4, algorithm="ef21", compressor="topk"), 1e-9),
    (QUAD, dict(problem="least_squares", batch=4, algorithm="ef_sgd", compressor="randk"), 1e-9),
]


@pytest.mark.parametrize("text,fields,rtol", CASES,
                         ids=[f"{'mnist1d' if t is MNIST else f['problem']}-{f.get('partition', '')}-{f['algorithm']}-{f['compressor']}"
                              for t, f, _ in CASES])
def test_heterogeneous_federated_ranks_equal_one_process(comm, shared_tmp, text, fields, rtol):
    text = text.format(**fields)
    r = Runner(parse_job(text, "fed.toml", world_size=comm.Get_size()), comm, RunOptions(out=shared_tmp, quiet=True))
    assert r.run() == 0
    x = r.backend.asnumpy(r.algo.model()).copy()
    for other in comm.allgather(x):
        np.testing.assert_array_equal(other, x)
    if comm.Get_rank() == 0:
        r1 = Runner(parse_job(text, "fed.toml"), MPI.COMM_SELF, RunOptions(out=shared_tmp, quiet=True))
        assert r1.run() == 0
        x1 = r1.backend.asnumpy(r1.algo.model())
        x0 = r1.backend.asnumpy(r1.problem.init_params())
        # it moved by far more than the tolerance, so the comparison below means something
        assert np.linalg.norm(x1 - x0) > 100 * rtol * np.linalg.norm(x0), "the model did not move"
        # the ranks sum in another order: equal up to the precision of the sum (float32 for torch models)
        np.testing.assert_allclose(x, x1, rtol=rtol, atol=rtol * 1e-1)
    comm.Barrier()
