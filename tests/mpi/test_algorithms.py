"""Every method on P ranks equals its one-process run (same job, same seed), and the
trace's byte counts equal the compressors' payload sizes. # mpi-sizes: 4"""

import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.config.job import parse_job
from hpcsketch.runner import Runner, RunOptions
from hpcsketch.tracing.reader import read_trace

pytestmark = pytest.mark.mpi(min_size=2)

BASE = """
[run]
rounds = 6
eval_every = 3
progress = false
[problem]
kind = "least_squares"
dim = 64
rows = 40
batch_size = 8
[clients]
count = 8
participation = {participation}
[algorithm]
kind = "{algorithm}"
lr = 0.05
local_steps = 2
{extra_algorithm}
[compressor]
kind = "{compressor}"
k = 0.25
ratio = 2
{extra_compressor}
"""

CASES = [
    ("compressed_sgd", "qsgd", "", "levels = 4", 1.0),
    ("compressed_sgd", "randk", "", "", 0.5),
    ("compressed_sgd", "randk", "", "shared_mask = true", 1.0),
    ("ef_sgd", "topk", "", "", 1.0),
    ("ef_sgd", "sign", "", "", 0.5),
    ("ef_sgd", "topk", "error_feedback = false", "", 1.0),
    ("ef21", "topk", "", "", 1.0),
    ("ef21", "qsgd", "", "", 0.5),
    ("local_sgd", "none", "", "", 0.5),
    ("local_sgd", "topk", "", "", 1.0),
    ("scaffold", "none", "", "", 0.5),
    ("scaffold_m", "none", "beta = 0.5", "", 1.0),
    ("fedavg_m", "none", "beta = 0.5", "", 1.0),
    ("fedavg_m", "qsgd", "", "", 1.0),
    ("sketch_dl", "count_sketch", "", "", 1.0),
    ("sketch_dl", "gaussian", "", "", 0.5),
    ("sketch_dl", "subsampled_wht", "top_r = 0.25", "signs = true", 1.0),
    ("fetchsgd", "count_sketch", "momentum = 0.9", "", 1.0),
    ("fetchsgd", "count_sketch", 'error_removal = "subtract"\nsecond_round = true', "", 0.5),
    ("cs_sgd", "subsampled_wht", "", "", 1.0),
    ("cs_sgd", "subsampled_dct", "", "", 0.5),
]


def _job(algorithm, compressor, extra_a, extra_c, participation, world_size=None):
    text = BASE.format(algorithm=algorithm, compressor=compressor, extra_algorithm=extra_a,
                       extra_compressor=extra_c, participation=participation)
    return parse_job(text, f"{algorithm}.toml", world_size=world_size)


@pytest.mark.parametrize("algorithm,compressor,extra_a,extra_c,participation", CASES,
                         ids=[f"{a}-{c}-{i}" for i, (a, c, *_rest) in enumerate(CASES)])
def test_ranks_equal_one_process(comm, shared_tmp, algorithm, compressor, extra_a, extra_c, participation):
    job = _job(algorithm, compressor, extra_a, extra_c, participation, comm.Get_size())
    r = Runner(job, comm, RunOptions(out=shared_tmp, quiet=True))
    assert r.run() == 0
    x = r.backend.asnumpy(r.algo.model()).copy()
    for other in comm.allgather(x):
        np.testing.assert_array_equal(other, x)  # a server method keeps one model on every rank
    if comm.Get_rank() == 0:
        r1 = Runner(_job(algorithm, compressor, extra_a, extra_c, participation), MPI.COMM_SELF,
                    RunOptions(out=shared_tmp, quiet=True))
        assert r1.run() == 0
        x1 = r1.backend.asnumpy(r1.algo.model())
        assert not np.allclose(x1, r1.backend.asnumpy(r1.problem.init_params()))
        # ranks sum in another order: equal to the precision the payload is summed in
        rtol = 2e-5 if compressor == "count_sketch" else 1e-9  # the count sketch table is float32
        np.testing.assert_allclose(x, x1, rtol=rtol, atol=rtol * 1e-2)
        a, b = read_trace(r.trace_path), read_trace(r1.trace_path)
        for m in ("loss", "eval_loss", "bytes_uplink", "clients"):
            np.testing.assert_allclose(a.metrics[m], b.metrics[m], rtol=rtol, equal_nan=True, err_msg=m)
        # uplink bytes are the clients' payloads: fixed-size payloads make it exact
        C = r1.algo.C if hasattr(r1.algo, "C") else getattr(r1.algo, "Phi", None)
        nbytes = C.payload_nbytes() if C is not None else None
        clients = a.metrics["clients"][1:]
        if nbytes:
            extra = r1.algo.k * 8 if getattr(r1.algo.opts, "second_round", False) else 0
            np.testing.assert_array_equal(a.metrics["bytes_uplink"][1:], clients * (nbytes + extra))
            if C.linear:
                P = comm.Get_size()
                np.testing.assert_array_equal(a.metrics["bytes_mpi"][1:], P * (nbytes + extra))
        assert (a.metrics["bytes_mpi"][1:] > 0).all()
    comm.Barrier()
