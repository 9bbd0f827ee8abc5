"""``hpcsketch hessian`` in one process: bad input is one line and exit 2, and nothing written is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from mpi4py import MPI

from hpcsketch.cli import main
from hpcsketch.config.job import parse_job
from hpcsketch.runner import Runner, RunOptions
from hpcsketch.tracing.reader import read_hessian

JOB = """
[run]
rounds = 4
eval_every = 2
progress = false
{checkpoint}
[problem]
kind = "least_squares"
dim = 20
rows = 10
[clients]
count = 2
[algorithm]
kind = "psgd"
lr = 0.1
[hessian]
rounds = [2]
lanczos_steps = 8
probes = 2
top = 3
"""


def run(tmp_path: Path, checkpoint: str) -> Path:
    job = parse_job(JOB.format(checkpoint=checkpoint), "job.toml", world_size=1)
    r = Runner(job, MPI.COMM_WORLD, RunOptions(out=tmp_path, quiet=True))
    assert r.run() == 0
    return Path(r.trace_path)


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_remeasures_the_checkpoint_and_refuses_bad_input(tmp_path, capsys):
    trace = run(tmp_path, "checkpoint_every = 2")
    out = tmp_path / "m.h5"
    assert main(["hessian", str(trace), "--out", str(out)]) == 0
    again, attrs = read_hessian(out)
    rows, _ = read_hessian(trace)
    assert attrs["checkpoint_step"] == 2 and again["kappa"][0] == pytest.approx(rows["kappa"][0], rel=1e-12)
    capsys.readouterr()
    for args, needles in (
        (["--grid", "20"], ["--grid", "use grid >= 107"]),
        (["--top", "9", "--lanczos-steps", "8"], ["--top", "more than lanczos_steps (8)"]),
        (["--probes", "0"], ["--probes", ">= 1"]),
        (["--rank", "3"], ["--rank", "ranks 0..0"]),
        ([], ["exists; pass --force"]),
    ):
        assert main(["hessian", str(trace), "--out", str(out), *args]) == 2, args
        line = one_line(capsys)
        assert all(n in line for n in needles), (args, line)
    assert read_hessian(out)[0]["step"].tolist() == [2]  # the earlier result is kept


def test_a_trace_without_a_checkpoint_is_refused(tmp_path, capsys):
    trace = run(tmp_path, "")
    assert main(["hessian", str(trace)]) == 2
    assert "has no checkpoint" in one_line(capsys)


def _cli_run(args: list[str], out: Path) -> tuple[int, str]:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", *args, "--out", str(out), "-q"],
                         capture_output=True, text=True, timeout=300, start_new_session=True)
    return res.returncode, res.stdout + res.stderr


def test_a_measurement_a_stop_skipped_is_taken_on_resume(tmp_path):
    """Measuring every round: a run stopped by a signal and resumed has the uninterrupted run's /hessian."""
    job = tmp_path / "job.toml"
    job.write_text(JOB.format(checkpoint="").replace("rounds = 4", "rounds = 8").replace("rounds = [2]", "every = 1"))
    code, out = _cli_run([str(job)], tmp_path / "whole")
    assert code == 0, out
    (whole,) = (tmp_path / "whole").glob("*.h5")
    code, out = _cli_run([str(job), "--inject-fault", "rank=0,round=3,kind=term"], tmp_path / "cut")
    assert code == 3, out
    (cut,) = (tmp_path / "cut").glob("*.h5")
    stopped = read_hessian(cut)[0]["step"].tolist()
    assert stopped == list(range(len(stopped))) and len(stopped) < 9  # the round it stopped at was skipped
    code, out = _cli_run(["--resume", str(cut)], tmp_path / "cut")
    assert code == 0, out
    a, b = read_hessian(whole)[0], read_hessian(cut)[0]
    assert b["step"].tolist() == list(range(9))
    for name in ("eigenvalues", "trace_norm", "kappa", "hvps"):
        assert a[name].tolist() == b[name].tolist(), name
