"""The data-parallel Hessian on P ranks equals one process on the same data. # mpi-sizes: 4

Every rank builds the same problem; the HVP and a whole measurement over the world
are checked against rank 0's one-process reference (``comm=None``). Then a run with
a [hessian] section: its /hessian group holds what the trace schema documents, the
run's last measurement equals a one-process measurement of its final model, and
``hpcsketch hessian TRACE.h5`` on the run's checkpoint gives the measurement the
run took at that round.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest
from mpi4py import MPI

from hpcsketch.backend import select_backend
from hpcsketch.comm.communicator import Communicator
from hpcsketch.config.job import parse_job
from hpcsketch.hessian.hvp import DistributedHVP
from hpcsketch.hessian.measure import Settings, measure
from hpcsketch.hessian.slq import rademacher
from hpcsketch.problems import REGISTRY
from hpcsketch.runner import Runner, RunOptions
from hpcsketch.tracing.reader import read_hessian
from hpcsketch.tracing.schema import HESSIAN

pytestmark = pytest.mark.mpi(min_size=2)

CLIENTS = {"count": 6, "participation": 1.0, "partition": "dirichlet", "alpha": 0.5, "shards": 2}
SETTINGS = Settings(lanczos_steps=24, probes=2, top=4, grid=128)


def problem(kind: str):
    backend = select_backend("numpy")
    if kind == "mnist1d-cnn":
        return REGISTRY.get("mnist1d")({"model": "cnn", "samples": 400}, CLIENTS, backend, 0)
    if kind == "mnist1d-mlp":
        return REGISTRY.get("mnist1d")({"model": "mlp", "hidden": 24, "samples": 400}, CLIENTS, backend, 0)
    return REGISTRY.get("least_squares")({"dim": 60, "rows": 30, "heterogeneity": 1.0}, CLIENTS, backend, 0)


def model_point(p) -> np.ndarray:
    """Away from the initial model (a fixed, seed-drawn shift) so that the Hessian is not special."""
    x = np.asarray(p.init_params())
    shift = np.random.default_rng(7).standard_normal(x.shape) * 0.05
    return (x + shift).astype(x.dtype)


def tolerance(p) -> float:
    return 1e-12 if np.dtype(p.dtype) == np.float64 else 2e-5


@pytest.mark.parametrize("kind", ["mnist1d-cnn", "mnist1d-mlp", "least_squares"])
@pytest.mark.parametrize("batch", [0, 64])
def test_distributed_hvp_equals_the_one_process_hvp(comm, kind, batch):
    p = problem(kind)
    x = model_point(p)
    v = rademacher(p.dim, 0, "test", batch).astype(p.dtype)
    c = Communicator(comm, select_backend("numpy"))
    op = DistributedHVP(p, c, x, batch=batch, data=0.5)
    hv = np.asarray(op(v.copy()), dtype=np.float64)
    assert op.count == 1
    every = comm.allgather(hv)
    for other in every:
        np.testing.assert_array_equal(other, hv)  # the Allreduce leaves the same H v on every rank
    # the Allreduce is counted under "hessian", never as the method's traffic
    assert c.stats.total["hessian"].bytes == p.dim * np.dtype(p.dtype).itemsize
    assert "train" not in c.stats.total
    # a rank's own part is not the whole (the work is really split)
    local = np.asarray(op.local(v.copy()), dtype=np.float64)
    assert np.linalg.norm(local - hv) > 1e-3 * np.linalg.norm(hv)
    if comm.Get_rank() == 0:
        ref = np.asarray(DistributedHVP(p, None, x, batch=batch, data=0.5)(v.copy()), dtype=np.float64)
        assert np.linalg.norm(ref) > 0
        np.testing.assert_allclose(hv, ref, rtol=0, atol=tolerance(p) * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["mnist1d-cnn", "least_squares"])
def test_a_measurement_on_four_ranks_agrees_with_one_process(comm, kind):
    p = problem(kind)
    x = model_point(p)
    m = measure(p, Communicator(comm, select_backend("numpy")), x, SETTINGS, seed=3, step=5)
    assert m.hvps == SETTINGS.probes * SETTINGS.lanczos_steps
    if comm.Get_rank() != 0:
        return
    ref = measure(p, None, x, SETTINGS, seed=3, step=5)
    assert ref.hvps == m.hvps
    # float32 Lanczos amplifies summation-order differences over the steps: the converged
    # top Ritz value agrees to within its own residual bound, the spectral sums closely
    tol = 1e-10 if np.dtype(p.dtype) == np.float64 else 1e-3
    assert abs(m.lambda_max - ref.lambda_max) <= max(ref.residuals[0], tol * abs(ref.lambda_max))
    assert m.trace_norm == pytest.approx(ref.trace_norm, rel=tol * 10)
    assert m.kappa == pytest.approx(ref.kappa, rel=tol * 10)
    np.testing.assert_allclose(m.grid, ref.grid, rtol=tol * 10, atol=tol * 10 * np.abs(ref.grid).max())
    assert np.abs(m.density - ref.density).max() <= tol * 100 * ref.density.max()


JOB = """
[run]
rounds = 6
eval_every = 3
checkpoint_every = 3
progress = false
seed = 4
[problem]
kind = "mnist1d"
model = "mlp"
hidden = 16
samples = 400
batch_size = 16
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.2
[hessian]
rounds = [0, 3, 6]
lanczos_steps = 16
probes = 2
top = 5
grid = 40
sigma = 0.05
batch = 50
"""


def _schema_names() -> set[str]:
    return {n.strip() for key in HESSIAN if key != "attrs" for n in key.split(",")}


def test_a_run_writes_the_documented_hessian_group_and_hpcsketch_hessian_remeasures_it(comm, shared_tmp, capsys):
    job = parse_job(JOB, "hessian.toml", world_size=comm.Get_size())
    r = Runner(job, comm, RunOptions(out=shared_tmp, quiet=True))
    assert r.run() == 0
    final_model = np.asarray(r.backend.asnumpy(r.algo.model())).copy()
    trace = Path(comm.bcast(str(r.trace_path) if comm.Get_rank() == 0 else None, root=0))
    if comm.Get_rank() == 0:
        rows, attrs = read_hessian(trace)
        assert set(rows) == _schema_names()
        m, top, grid = 3, 5, 40
        np.testing.assert_array_equal(rows["step"], [0, 3, 6])
        for name, shape in (("eigenvalues", (m, top)), ("residuals", (m, top)), ("grid", (m, grid)),
                            ("density", (m, grid))):
            assert rows[name].shape == shape, name
        for name in ("lambda_max", "lambda_min", "trace_norm", "trace_norm_stderr", "kappa", "hvps", "seconds"):
            assert rows[name].shape == (m,), name
        assert attrs["dim"] == r.problem.dim
        assert {k: attrs[k] for k in ("lanczos_steps", "probes", "top", "grid", "batch")} == \
            {"lanczos_steps": 16, "probes": 2, "top": 5, "grid": 40, "batch": 50}
        np.testing.assert_array_equal(rows["hvps"], [32, 32, 32])
        np.testing.assert_allclose(rows["kappa"], rows["trace_norm"] / rows["lambda_max"], rtol=1e-12)
        np.testing.assert_array_equal(rows["lambda_max"], rows["eigenvalues"][:, 0])
        assert (rows["eigenvalues"][:, :-1] >= rows["eigenvalues"][:, 1:]).all()  # descending
        assert ((rows["kappa"] >= 1) & (rows["kappa"] <= attrs["dim"])).all()
        for g, d in zip(rows["grid"], rows["density"]):
            assert np.trapezoid(d, g) == pytest.approx(1.0, abs=0.01)  # a density over the spectrum
        assert (rows["seconds"] > 0).all()
        # the last measurement is of the final model: one process measures the same
        ref = measure(r.problem, None, final_model, Settings.from_section(job.hessian), job.run.seed, 6)
        assert rows["lambda_max"][-1] == pytest.approx(ref.lambda_max, rel=1e-3)
        assert rows["kappa"][-1] == pytest.approx(ref.kappa, rel=1e-2)
    comm.Barrier()

    # the run checkpointed at round 3 (checkpoint_every); hpcsketch hessian measures that model
    from hpcsketch.cli import main

    out = trace.with_name("remeasured.h5")
    capsys.readouterr()
    assert main(["hessian", str(trace), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    if comm.Get_rank() == 0:
        assert "kappa" in printed and "round 3" in printed and "4 ranks" in printed
        again, attrs = read_hessian(out)
        rows, _ = read_hessian(trace)
        assert attrs["checkpoint_step"] == 3 and attrs["world_size"] == comm.Get_size()
        np.testing.assert_array_equal(again["step"], [3])
        # same model, same ranks, same probes: the run's own measurement at round 3
        for name in ("eigenvalues", "trace_norm", "kappa", "hvps"):
            np.testing.assert_allclose(again[name][0], rows[name][1], rtol=1e-6, err_msg=name)
        with h5py.File(out) as f:
            assert set(f) == {"hessian"}
    comm.Barrier()
    # measuring again without --force is bad input (one line, exit 2) and keeps the file
    assert main(["hessian", str(trace), "--out", str(out)]) == 2
    if comm.Get_rank() == 0:
        assert read_hessian(out)[0]["step"].tolist() == [3]
    comm.Barrier()
