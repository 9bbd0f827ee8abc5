"""Analysis of traces the harness itself writes: a completed run, one whose rank raised
(failed) and one stopped by SIGTERM (interrupted). The figures' data must equal what
the traces hold, and the unfinished runs must be kept and marked, not dropped."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hpcsketch.analysis import plots
from hpcsketch.analysis.load import load
from hpcsketch.tracing.reader import read_trace

JOB = """
[run]
name = "{name}"
rounds = 30
eval_every = 5
flush_every = 2
progress = false
[problem]
kind = "least_squares"
dim = 32
rows = 16
batch_size = 4
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.05
"""


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    out = d / "out"
    runs = {"done": [], "failed": ["--inject-fault", "rank=0,round=12,kind=raise"],
            "stopped": ["--inject-fault", "rank=0,round=9,kind=term"]}
    codes = {}
    for name, extra in runs.items():
        job = d / f"{name}.toml"
        job.write_text(JOB.format(name=name))
        r = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(out), "-q", *extra],
                           capture_output=True, text=True, timeout=300)
        codes[name] = r.returncode
    paths = {p.name.split("-")[0]: p for p in out.glob("*.h5")}
    return codes, {k: read_trace(p) for k, p in paths.items()}, load([out])


def test_statuses_and_exit_codes(traces):
    codes, t, _ = traces
    assert codes == {"done": 0, "failed": 1, "stopped": 3}
    assert {k: v.status for k, v in t.items()} == {"done": "completed", "failed": "failed", "stopped": "interrupted"}


def test_runs_table_keeps_every_run_with_its_status(traces):
    _, t, res = traces
    runs = res.runs.set_index("name")
    assert sorted(runs.index) == ["done", "failed", "stopped"]
    for name, tr in t.items():
        assert runs.at[name, "status"] == tr.status
        assert runs.at[name, "rounds_done"] == int(tr.attrs["rounds_done"])
    assert runs.at["done", "rounds_done"] == 30 and runs.at["failed", "rounds_done"] <= 12


def test_loss_curves_are_the_traces_values_and_unfinished_ones_dashed(traces):
    _, t, res = traces
    plot = plots.metric_curves(res, "step", ["loss"])
    ids = res.runs.set_index("name")["run_id"]
    for name, tr in t.items():
        steps, loss = tr.metrics["step"], tr.metrics["loss"]
        keep = np.isfinite(loss)
        pts = plot.data[plot.data["run_id"] == ids[name]].sort_values("x")
        np.testing.assert_array_equal(pts["x"].to_numpy(), steps[keep])
        np.testing.assert_allclose(pts["value"].to_numpy(), loss[keep])
    (ax,) = plot.figure.axes
    styles = sorted(line.get_linestyle() for line in ax.get_lines() if len(line.get_xdata()) > 1)
    assert styles == ["-", "--", "--"]


def test_phase_breakdown_is_the_mean_of_the_timing_table(traces):
    _, t, res = traces
    plot = plots.phase_breakdown(res)
    data = plot.data.set_index("run_id")
    ids = res.runs.set_index("name")["run_id"]
    for name, tr in t.items():
        compute = np.asarray(tr.timing["compute"])
        assert data.at[ids[name], "compute"] == pytest.approx(compute.mean(), rel=1e-9)
