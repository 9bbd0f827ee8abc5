"""Hand-edited and damaged copies of REAL traces (written by a tiny one-rank ``hpcsketch run``):
``read_trace``, ``hpcsketch analyze`` and ``job_from_trace`` (what ``--resume`` reads) refuse each
with one line that names the file, what is wrong and what would be right (exit code 2); never a
traceback, never an allocation as large as a header asks for. In a directory the bad files are
listed and skipped and the good ones analysed.
"""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcsketch.cli import main
from hpcsketch.config.job import job_from_trace
from hpcsketch.errors import BadInput
from hpcsketch.testing.real_traces import RUN_SECONDS, real_traces
from hpcsketch.tracing.reader import read_trace

@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    return real_traces(tmp_path_factory.mktemp("real"))


def _copy(src: Path, dst_dir: Path, name: str) -> Path:
    dst = dst_dir / f"{name}.h5"
    shutil.copyfile(src, dst)
    return dst


def _replace(f: h5py.File, path: str, data) -> None:
    del f[path]
    f[path] = data


# Every edit seen on a hand-edited trace. Each is (which real trace, what to do to it, what the one line must say).
# Before the reader checked them (commit 7773e8e) they failed as noted.
def _non_json_resolved(f):  # analyze: JSONDecodeError traceback from Trace.job_resolved
    f.attrs["job_resolved"] = "{run: rounds = 8"


def _non_json_sweep_point(f):  # analyze: JSONDecodeError traceback from Trace.sweep_point; --resume: a misleading 'does not record job_resolved'
    f.attrs["sweep_point"] = "compressor.ratio=5"


def _resolved_not_sections(f):  # analyze and --resume: AttributeError traceback ('list' object has no attribute 'items')
    f.attrs["job_resolved"] = "[1, 2, 3]"


def _string_writer_pid(f):  # a 'running' trace of this host: analyze: ValueError traceback (int('12ab')) in writer_dead
    f.attrs["status"] = "running"
    f.attrs["writer_host"] = socket.gethostname()
    f.attrs["writer_pid"] = "12ab"


def _array_schema_version(f):  # TypeError traceback: only 0-dimensional arrays can be converted to Python scalars
    f.attrs["schema_version"] = np.array([1, 1], dtype=np.int64)


def _string_schema_version(f):  # accepted: int('1') read it as version 1 (analyze exit 0)
    f.attrs["schema_version"] = "1"


def _metric_2d(f):  # analyze: ValueError traceback from pandas (per-column arrays must be 1-dimensional)
    _replace(f, "trace/loss", np.ones((len(f["trace/step"]), 2)))


def _string_metric(f):  # accepted: analyze exit 0 with a loss column of bytes
    _replace(f, "trace/loss", np.array([b"x"] * len(f["trace/step"])))


def _metric_longer_than_step(f):  # accepted: analyze exit 0, step padded with NaN to the loss's length
    _replace(f, "trace/loss", np.ones(len(f["trace/step"]) + 5))


def _trace_is_a_dataset(f):  # AttributeError traceback: 'Dataset' object has no attribute 'items'
    del f["trace"]
    f["trace"] = np.arange(5)


def _dangling_soft_link(f):  # TypeError traceback: 'NoneType' object is not subscriptable (reader.py)
    del f["trace/loss"]
    f["trace/loss"] = h5py.SoftLink("/nowhere/loss")


def _soft_link(f):  # accepted: the link was followed (loss read as a copy of step)
    del f["trace/loss"]
    f["trace/loss"] = h5py.SoftLink("/trace/step")


def _external_link(f):  # 'NoneType' object is not subscriptable (a link to a file that exists would have been followed)
    del f["trace/loss"]
    f["trace/loss"] = h5py.ExternalLink("/etc/elsewhere.h5", "/trace/loss")


def _huge_declared_dataset(f):  # MemoryError (numpy's 'Unable to allocate 7.28 TiB') in read_trace
    f["trace"].create_dataset("huge", shape=(10**12,), maxshape=(None,), chunks=(1024,), dtype=np.float64,
                              fillvalue=np.nan)


def _huge_step(f):  # MemoryError as above, through /trace/step
    del f["trace/step"]
    f["trace"].create_dataset("step", shape=(10**12,), maxshape=(None,), chunks=(1024,), dtype=np.int64, fillvalue=-1)


def _huge_chunks(f):  # accepted (no chunk written yet); one written 4 GiB gzip chunk would be inflated whole: refused unread
    del f["trace/loss"]
    f["trace"].create_dataset("loss", shape=(9,), maxshape=(None,), chunks=(2**29 - 1,), dtype=np.float64,
                              compression="gzip")


def _unknown_status(f):  # accepted: analyze exit 0, an unknown status in the report
    f.attrs["status"] = "complete"


def _string_rounds_done(f):  # analyze: ValueError traceback (int('many'))
    f.attrs["rounds_done"] = "many"


def _string_dim(f):  # analyze: ValueError traceback (float('big')) in the compression ratio
    f.attrs["dim"] = "big"


def _timing_1d(f):  # accepted: analyze exit 0, the phase silently dropped
    _replace(f, "timing/total", np.ones(len(f["timing/step"])))


def _hessian_lengths(f):  # analyze: ValueError traceback from pandas (arrays of different lengths)
    _replace(f, "hessian/kappa", np.ones(len(f["hessian/step"]) + 3))


def _hessian_grid_1d(f):  # analyze: IndexError traceback (tuple index out of range) in the density table
    _replace(f, "hessian/grid", np.ones(7))


def _float_step(f):  # analyze: ValueError traceback (cannot convert float NaN to integer)
    _replace(f, "trace/step", np.full(len(f["trace/step"]), np.nan))


def _overrides_not_a_list(f):  # --resume: accepted a dict as the list of --set overrides
    f.attrs["job_overrides"] = '{"a": 1}'


EDITS = {
    "job_resolved not JSON": ("tiny", _non_json_resolved, ["job_resolved", "not JSON"]),
    "sweep_point not JSON": ("tiny", _non_json_sweep_point, ["sweep_point", "not JSON"]),
    "job_resolved not sections": ("tiny", _resolved_not_sections, ["job_resolved", "expected a JSON object"]),
    "writer_pid a string": ("tiny", _string_writer_pid, ["writer_pid", "expected an integer"]),
    "schema_version an array": ("tiny", _array_schema_version, ["schema_version", "scalar integer"]),
    "schema_version a string": ("tiny", _string_schema_version, ["schema_version", "scalar integer"]),
    "2-D metric": ("tiny", _metric_2d, ["/trace/loss", "1-D"]),
    "string metric": ("tiny", _string_metric, ["/trace/loss", "numeric"]),
    "metric longer than step": ("tiny", _metric_longer_than_step, ["/trace/loss", "/trace/step"]),
    "/trace a dataset": ("tiny", _trace_is_a_dataset, ["/trace", "expected a group"]),
    "dangling soft link": ("tiny", _dangling_soft_link, ["/trace/loss", "soft link"]),
    "soft link": ("tiny", _soft_link, ["/trace/loss", "soft link"]),
    "external link": ("tiny", _external_link, ["/trace/loss", "external link", "/etc/elsewhere.h5"]),
    "10^12 elements declared": ("tiny", _huge_declared_dataset, ["/trace/huge", "1000000000000"]),
    "10^12 steps declared": ("tiny", _huge_step, ["/trace/step", "1000000000000"]),
    "4 GiB chunks": ("tiny", _huge_chunks, ["/trace/loss", "chunk"]),
    "unknown status": ("tiny", _unknown_status, ["status", "'complete'", "completed"]),
    "rounds_done a string": ("tiny", _string_rounds_done, ["rounds_done", "expected an integer"]),
    "dim a string": ("tiny", _string_dim, ["dim", "expected an integer"]),
    "timing phase 1-D": ("tiny", _timing_1d, ["/timing/total", "2-D"]),
    "float steps": ("tiny", _float_step, ["/trace/step", "integer"]),
    "job_overrides not a list": ("tiny", _overrides_not_a_list, ["job_overrides", "expected a JSON list"]),
    "hessian lengths differ": ("hess", _hessian_lengths, ["/hessian/kappa", "/hessian/step"]),
    "hessian grid 1-D": ("hess", _hessian_grid_1d, ["/hessian/grid", "2-D"]),
}


@pytest.fixture(scope="module")
def edited(traces, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("edited")
    out = {}
    for i, (case, (src, edit, _)) in enumerate(EDITS.items()):
        p = _copy(traces[src], d, f"edit{i:02d}")
        with h5py.File(p, "a") as f:
            edit(f)
        out[case] = p
    return out


def test_the_real_traces_read_and_analyse(traces, tmp_path, capsys):
    for p in traces.values():
        t = read_trace(p)
        assert t.status == "completed" and len(t.metrics["step"]) > 1
    assert job_from_trace(traces["tiny"]).name == read_trace(traces["tiny"]).attrs["name"]
    assert read_trace(traces["hess"]).hessian["step"][0] == 0
    assert main(["analyze", *map(str, traces.values()), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("case", list(EDITS))
def test_a_hand_edited_trace_is_one_line(case, edited, tmp_path, capsys):
    path, must_say = edited[case], EDITS[case][2]
    with pytest.raises(BadInput) as e:
        read_trace(path)
    line = str(e.value)
    assert "\n" not in line and line.startswith(str(path) + ": "), line
    for words in must_say:
        assert words in line, line
    # hpcsketch analyze on that one file: the same line, exit code 2, nothing written
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("hpcsketch analyze: error: ") and str(path) in err[0], err
    assert must_say[0] in err[0]
    assert not out.exists() or not any(out.iterdir())
    # --resume reads the job from the trace: the same refusal
    with pytest.raises(BadInput) as e:
        job_from_trace(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_directory_lists_the_bad_traces_and_analyses_the_rest(traces, edited, tmp_path, capsys):
    d = tmp_path / "mixed"
    d.mkdir()
    for case, p in edited.items():
        shutil.copyfile(p, d / p.name)
    good = [shutil.copyfile(p, d / f"good-{name}.h5") for name, p in traces.items()]
    out = tmp_path / "out"
    assert main(["analyze", str(d), "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == len(edited), err  # one line per bad file, nothing else
    for p in edited.values():
        assert sum(f"{d / p.name}: " in line for line in err) == 1
    assert all(line.startswith("hpcsketch analyze: unreadable, listed in the report: ") for line in err)
    report = (out / "report.md").read_text()
    assert f"{len(good)} traces read: {len(good)} completed; {len(edited)} file(s) unreadable" in report
    runs = (out / "runs.csv").read_text()
    assert all(str(p) in runs for p in good)


def test_a_directory_of_only_bad_traces_is_exit_code_2(edited, tmp_path, capsys):
    d = tmp_path / "bad"
    d.mkdir()
    for p in list(edited.values())[:3]:
        shutil.copyfile(p, d / p.name)
    assert main(["analyze", str(d), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and err[-1].startswith("hpcsketch analyze: error: ") and "none of the 3 file(s)" in err[-1]
    assert all(line.startswith("hpcsketch analyze: unreadable, listed in the report: ") for line in err[:3])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("case", ["/trace a dataset", "dangling soft link", "10^12 elements declared"])
def test_resume_of_a_hand_edited_trace_is_one_line_through_the_real_command(case, edited, tmp_path):
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", "--resume", str(edited[case])],
                         capture_output=True, text=True, timeout=RUN_SECONDS, start_new_session=True)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith(f"hpcsketch: error: {edited[case]}: ") and EDITS[case][2][0] in lines[0]


def test_a_failed_report_write_leaves_the_earlier_report_whole(traces, tmp_path, capsys, monkeypatch):
    from hpcsketch.analysis import plots

    out = tmp_path / "out"
    assert main(["analyze", str(traces["tiny"]), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    real_save, saved = plots.save, []

    def save(plot, path):  # the file system fills up after two figures of the second report
        if len(saved) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(path)
        real_save(plot, path)

    monkeypatch.setattr(plots, "save", save)
    assert main(["analyze", *map(str, traces.values()), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--out" in err[0] and "no space left" in err[0].lower(), err
    # the earlier report, its CSV files and figures, exactly as they were: nothing half-replaced
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_trace_without_rows_yet_is_analysed(tmp_path, capsys):
    """A run that has not flushed a row (its first seconds): analysed on its own (before: TypeError traceback,
    'cumsum is not supported for object dtype', from the network model's empty table)."""
    from hpcsketch.tracing.writer import TraceWriter

    p = tmp_path / "new.h5"
    TraceWriter(p).create({"run_id": "new", "writer_host": "elsewhere", "writer_pid": 1}, {"world_size": 1})
    assert main(["analyze", str(p), "--out", str(tmp_path / "out")]) == 0
    assert "1 trace read: 1 running." in (tmp_path / "out" / "report.md").read_text()
    assert capsys.readouterr().err == ""
