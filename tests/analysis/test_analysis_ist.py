"""Real IST traces through the analysis: the compression ratio comes from the dense-equivalent bytes
the method records, and a run whose metrics grow huge (finite, near the float maximum) still plots."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from mpi4py import MPI

from hpcsketch.analysis import plots
from hpcsketch.analysis.load import load
from hpcsketch.config.job import parse_job
from hpcsketch.runner import Runner, RunOptions

JOB = """
[run]
rounds = 4
eval_every = 2
progress = false
[problem]
kind = "quadratic"
dim = 16
[clients]
count = 4
[algorithm]
kind = "ist"
sketch = "{sketch}"
lr = 0.05
"""


def _run(tmp_path, sketch: str):
    r = Runner(parse_job(JOB.format(sketch=sketch), f"{sketch}.toml"), MPI.COMM_SELF, RunOptions(out=str(tmp_path), quiet=True))
    assert r.run() == 0
    return r.trace_path


def test_ist_ratio_is_dense_bytes_over_blocks_and_huge_values_plot(tmp_path):
    perm = _run(tmp_path, "perm_q")
    gd = _run(tmp_path, "identity")
    with h5py.File(gd, "a") as f:  # as a diverging run ends: finite, near the float maximum
        f["trace/eval_gap"][-1] = 1e307
    results = load([perm, gd])
    ratio = {Path(p).name: v for p, v in zip(results.runs["path"], results.runs["compression_ratio"])}
    # Perm-q with n = 4 sends d / 4 values per client; the identity sketch sends all d
    assert ratio == {perm.name: 4.0, gd.name: 1.0}
    plot = plots.ratio_tradeoff(results)
    assert plot is not None
    ax = plot.figure.axes[0]
    assert ax.get_ylabel() == "final optimality gap"  # f(x) - f* >= 0 for quadratics, not f(x)
    assert ax.get_yscale() == "log"
    plots.save(plot, str(tmp_path / "ratio.png"))  # drew, where a linear axis up to 1e307 raised
    assert np.isclose(plot.data["value"].max(), 1e307)
