"""The loss-Hessian figures and table of ``hpcsketch analyze`` draw what the traces' /hessian groups hold,
and runs without a /hessian group get the report they got before."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fake_traces import Spec, write_trace

from hpcsketch.analysis import cli, plots
from hpcsketch.analysis.load import load
from hpcsketch.tracing.writer import append_hessian_row

GRID = 50
#: run_id -> (d, measured rounds); every number of a measurement follows from (d, round)
MEASURED = {"cnn": (5210, [0, 5, 20]), "mlp": (15210, [0, 10])}


def lambda_max(dim: int, step: int) -> float:
    return 0.5 + step


def trace_norm(dim: int, step: int) -> float:
    return dim / 50 + 3.0 * step


def density(dim: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian bump per round, a different width each, on its own grid."""
    t = np.linspace(-1.0, lambda_max(dim, step) + 1.0, GRID)
    width = 0.2 + 0.01 * step
    return t, np.exp(-0.5 * (t / width) ** 2) / (width * np.sqrt(2 * np.pi))


def write_measured(path: Path, run_id: str) -> Path:
    dim, steps = MEASURED[run_id]
    write_trace(path, Spec(run_id, algorithm="psgd", compressor="none", ratio=1))
    for i, step in enumerate(steps):
        t, dens = density(dim, step)
        lam = lambda_max(dim, step)
        row = {"step": step, "eigenvalues": np.array([lam, lam / 2, lam / 4]), "residuals": np.zeros(3),
               "lambda_max": lam, "lambda_min": -0.1, "grid": t, "density": dens,
               "trace_norm": trace_norm(dim, step), "trace_norm_stderr": 0.5, "kappa": trace_norm(dim, step) / lam,
               "hvps": 96, "seconds": 1.5 + i}
        append_hessian_row(path, row, {"dim": dim, "lanczos_steps": 32, "probes": 3}, i)
    return path


@pytest.fixture(scope="module")
def hessian_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hessian")
    for rid in MEASURED:
        write_measured(d / f"{rid}.h5", rid)
    write_trace(d / "plain.h5", Spec("plain", algorithm="psgd", compressor="none", ratio=1, lr=0.05))  # measured nothing
    return d


@pytest.fixture(scope="module")
def results(hessian_dir):
    return load([hessian_dir])


def test_hessian_tables_hold_every_measurement(results):
    h = results.hessian
    assert sorted(zip(h["run_id"], h["step"])) == sorted((r, s) for r, (_, steps) in MEASURED.items() for s in steps)
    for _, row in h.iterrows():
        dim = MEASURED[row["run_id"]][0]
        assert row["dim"] == dim
        assert row["kappa"] == pytest.approx(trace_norm(dim, row["step"]) / lambda_max(dim, row["step"]))
        assert row["kappa_over_d"] == pytest.approx(row["kappa"] / dim)
        assert row["hvps"] == 96
    assert len(results.hessian_density) == GRID * sum(len(s) for _, s in MEASURED.values())


def test_density_plot_has_one_panel_per_run_and_one_curve_per_round(results):
    plot = plots.hessian_density(results)
    assert plot is not None
    panels = [ax for ax in plot.figure.axes if ax.get_visible()]
    assert len(panels) == len(MEASURED)  # the run without /hessian gets no panel
    labels = results.runs.set_index("run_id")["label"]
    for ax in panels:
        rid = next(r for r in MEASURED if labels[r] in ax.get_title())
        dim, steps = MEASURED[rid]
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == [f"round {s}" for s in steps]
        for line, step in zip(lines, steps):
            t, dens = density(dim, step)
            np.testing.assert_allclose(line.get_xdata(), t)
            np.testing.assert_allclose(line.get_ydata(), dens)
        assert ax.get_yscale() == "log"
    # the data frame the figure returns is the same numbers
    d = plot.data[(plot.data["run_id"] == "cnn") & (plot.data["step"] == 20)]
    np.testing.assert_allclose(d["density"], density(*[MEASURED["cnn"][0], 20])[1])
    assert set(plot.data["run_id"]) == set(MEASURED)


def test_kappa_plot_draws_kappa_against_round_with_d_for_reference(results):
    plot = plots.hessian_kappa(results)
    assert plot is not None
    (ax,) = plot.figure.axes
    curves = {tuple(np.asarray(line.get_xdata(), dtype=float)): np.asarray(line.get_ydata(), dtype=float)
              for line in ax.get_lines() if len(line.get_xdata()) > 0 and line.get_linestyle() == "-"}
    for rid, (dim, steps) in MEASURED.items():
        want = [trace_norm(dim, s) / lambda_max(dim, s) for s in steps]
        np.testing.assert_allclose(curves[tuple(float(s) for s in steps)], want)
    # d of each run is a horizontal reference line, and its value is labelled
    flat = sorted(float(line.get_ydata()[0]) for line in ax.get_lines() if line.get_linestyle() == ":")
    assert flat == sorted(float(d) for d, _ in MEASURED.values())
    assert {t.get_text() for t in ax.texts} >= {"d = 5,210", "d = 15,210"}
    assert ax.get_yscale() == "log"
    assert list(plot.data.columns[:7]) == ["run_id", "label", "status", "step", "kappa", "dim", "kappa_over_d"]
    assert "plain" not in set(plot.data["run_id"])


def analyze(*argv) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args([str(a) for a in argv]))


@pytest.fixture
def no_render(monkeypatch):
    monkeypatch.setattr(plots, "save", lambda plot, path: Path(path).write_bytes(b"figure"))


def test_report_has_the_hessian_table_figures_and_csv(hessian_dir, tmp_path, no_render):
    assert analyze(hessian_dir, "--out", tmp_path) == 0
    text = (tmp_path / "report.md").read_text()
    assert "## Loss Hessian" in text
    assert "](hessian_density.png)" in text and "](hessian_kappa.png)" in text
    # one table row per measurement: round 20 of the CNN with its kappa and d
    kappa = trace_norm(5210, 20) / lambda_max(5210, 20)
    assert any(f"| 20 | 20.5 |" in line and f"{kappa:.4g}" in line and "| 5210 |" in line for line in text.splitlines())
    h = pd.read_csv(tmp_path / "hessian.csv")
    assert len(h) == 5 and set(h["run_id"]) == set(MEASURED)
    assert len(pd.read_csv(tmp_path / "hessian_density.csv")) == 5 * GRID


def test_runs_without_a_hessian_group_get_the_report_they_got_before(hessian_dir, tmp_path, capsys, no_render):
    only_plain = tmp_path / "plain"
    only_plain.mkdir()
    (only_plain / "plain.h5").write_bytes((hessian_dir / "plain.h5").read_bytes())
    out = tmp_path / "out"
    assert load([only_plain]).hessian.empty
    assert plots.hessian_density(load([only_plain])) is None and plots.hessian_kappa(load([only_plain])) is None
    # a directory that had a Hessian report: its Hessian files are stale now and go
    assert analyze(hessian_dir, "--out", out) == 0
    assert (out / "hessian_kappa.png").exists() and (out / "hessian.csv").exists()
    capsys.readouterr()
    assert analyze(only_plain, "--out", out) == 0
    printed = capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert not names & {"hessian_density.png", "hessian_kappa.png", "hessian.csv", "hessian_density.csv"}
    assert f"removed {out / 'hessian.csv'} (stale" in printed
    text = (out / "report.md").read_text()
    assert "Hessian" not in text and "hessian" not in text
