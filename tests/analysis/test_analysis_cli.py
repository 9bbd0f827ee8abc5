"""``hpcsketch analyze``: the report, CSV and figures it writes, and one line with exit code 2 on bad input."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _fake_traces import CORRUPT, NEWER, SWEEP, Spec, write_trace

from hpcsketch.tracing.schema import SCHEMA_VERSION

from hpcsketch.analysis import cli, plots
from hpcsketch.analysis.report import markdown_table

FIGURES = ("curves_rounds", "curves_uplink_bytes", "curves_mpi_bytes", "curves_time", "phases", "ratio", "network")


def analyze(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args([str(a) for a in argv]))


@pytest.fixture(scope="module")
def report_dir(sweep_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert analyze(sweep_dir, "--out", out, "--target-accuracy", "0.74", "--link", "federated",
                   "--link", "lte=20ms,10Mbit,50Mbit") == 0
    return out


def test_writes_report_csv_and_figures(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert {f"{f}.png" for f in FIGURES} <= names
    assert {"report.md", "runs.csv", "steps.csv", "timing.csv", "targets.csv", "network.csv", "predictions.csv"} <= names
    assert "scaling.png" not in names and "consensus.png" not in names  # nothing to draw: said so in the report
    for f in FIGURES:
        assert (report_dir / f"{f}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_files_hold_every_run(report_dir, sweep_results):
    runs = pd.read_csv(report_dir / "runs.csv")
    assert sorted(runs["run_id"]) == sorted(s.run_id for s in SWEEP)
    assert runs.set_index("run_id").at["interrupted", "status"] == "interrupted"
    steps = pd.read_csv(report_dir / "steps.csv")
    assert len(steps) == sum(s.rounds_done + 1 for s in SWEEP)
    timing = pd.read_csv(report_dir / "timing.csv")
    assert list(timing.columns) == ["run_id", "step", "rank", "phase", "seconds"]
    assert len(timing) == sum(6 * s.rounds_done * s.world_size for s in SWEEP)
    network = pd.read_csv(report_dir / "network.csv")
    assert set(network["link"]) == {"federated", "lte"} and len(network) == 2 * len(SWEEP)


def test_report_lists_runs_statuses_unreadable_files_and_figures(report_dir):
    text = (report_dir / "report.md").read_text()
    assert "10 traces read: 6 completed, 2 failed, 1 diverged, 1 interrupted; 2 file(s) unreadable" in text
    assert "rank 1: MemoryError in compress" in text and "stopped by signal at round 8" in text
    assert f"{CORRUPT}`: is not an HDF5 file" in text and f"{NEWER}`: has trace schema version {SCHEMA_VERSION + 1}" in text
    for f in FIGURES:
        assert f"]({f}.png)" in text
    assert "Not drawn: no runs that differ only in world size." in text
    assert "| lte | 20 ms | 10 Mbit/s | 50 Mbit/s |" in text
    assert "eval_accuracy >= 0.74" in text and "not reached" in text


@pytest.fixture
def no_render(monkeypatch):
    """Figures are built but not rendered (rendering is the slow part; report_dir renders them once)."""
    monkeypatch.setattr(plots, "save", lambda plot, path: Path(path).write_bytes(b"figure"))


def test_prints_one_line_per_file_and_marks_replaced(sweep_dir, tmp_path, capsys, no_render):
    assert analyze(sweep_dir, "--out", tmp_path, "--link", "datacenter") == 0
    first = capsys.readouterr()
    assert sorted(first.out.splitlines()) == sorted(f"wrote {p}" for p in tmp_path.iterdir())
    assert f"unreadable, listed in the report: {sweep_dir / CORRUPT}" in first.err
    assert analyze(sweep_dir, "--out", tmp_path, "--link", "datacenter") == 0
    assert all(line.endswith("(replaced)") for line in capsys.readouterr().out.splitlines())


def test_a_stale_figure_of_an_earlier_report_is_removed(tmp_path, capsys, no_render):
    (tmp_path / "runs").mkdir()
    write_trace(tmp_path / "runs" / "d.h5", Spec("dsgd", algorithm="dsgd", consensus=True))
    out = tmp_path / "out"
    assert analyze(tmp_path / "runs", "--out", out) == 0
    assert (out / "consensus.png").exists()
    (tmp_path / "runs" / "d.h5").unlink()
    write_trace(tmp_path / "runs" / "c.h5", Spec("central"))
    assert analyze(tmp_path / "runs", "--out", out) == 0
    assert not (out / "consensus.png").exists()
    assert f"removed {out / 'consensus.png'} (stale" in capsys.readouterr().out


@pytest.mark.parametrize("make,argv,match", [
    (None, ["{tmp}/missing"], "missing: no such file or directory"),
    ("empty", ["{tmp}/empty"], "no *.h5 trace found"),
    ("corrupt", ["{tmp}/corrupt"], "none of the 1 file(s) is a readable trace"),
    ("trace", ["{tmp}/trace", "--link", "bad=1ms"], "--link: 'bad=1ms'"),
    ("trace", ["{tmp}/trace", "--out", "{tmp}/trace/t.h5"], "exists and is not a directory"),
    ("trace", ["{tmp}/trace", "--metric", "nope"], "no run records metric 'nope'"),
    ("trace", ["{tmp}/trace", "--target-accuracy", "3"], "expected an accuracy in (0, 1]"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, make, argv, match):
    if make:
        (tmp_path / make).mkdir()
    if make == "corrupt":
        (tmp_path / make / "x.h5").write_bytes(b"junk" * 10)
    if make == "trace":
        write_trace(tmp_path / make / "t.h5", Spec("t"))
    out = tmp_path / "out"
    code = analyze(*[a.format(tmp=tmp_path) for a in argv], *([] if "--out" in argv else ["--out", out]))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("hpcsketch analyze: error: ") and match in err[-1]
    assert not out.exists() or not any(out.iterdir())  # nothing written on bad input


def test_python_m_entry_point(tmp_path):
    # the writing itself is tested in-process above; this checks the module entry point and its exit codes
    ok = subprocess.run([sys.executable, "-m", "hpcsketch.analysis", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "--target-accuracy" in ok.stdout
    for argv in (["--link"], [str(tmp_path / "missing")]):
        bad = subprocess.run([sys.executable, "-m", "hpcsketch.analysis", *argv], capture_output=True, text=True)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_markdown_table_escapes_pipes_and_formats_numbers():
    df = pd.DataFrame({"a": ["x|y", "z"], "b": [0.123456, float("nan")]})
    assert markdown_table(df).splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 0.1235 |", "| z | - |"]


def test_a_trace_with_no_rows_is_reported_not_dropped(tmp_path, no_render):
    from hpcsketch.tracing.writer import TraceWriter

    w = TraceWriter(tmp_path / "e.h5")
    w.create({"run_id": "empty", "algorithm": "psgd", "compressor": "none"}, {})
    w.finish("failed", "rank 0: data set not found")
    write_trace(tmp_path / "ok.h5", Spec("ok"))
    out = tmp_path / "out"
    assert analyze(tmp_path, "--out", out) == 0
    runs = pd.read_csv(out / "runs.csv").set_index("run_id")
    assert runs.at["empty", "status"] == "failed" and runs.at["empty", "rounds_done"] == 0
    text = (out / "report.md").read_text()
    assert "rank 0: data set not found" in text and "| failed | 0/- |" in text
