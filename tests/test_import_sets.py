"""Only ranks load MPI: what each command imports outside the ranks.

On clusters whose MPI refuses to start outside a launcher (Cray PMI, some PMIx
set-ups) importing ``mpi4py.MPI`` on a login node fails before anything runs, and
torch and the numba kernels cost seconds per process. Validation, the README's key
tables, ``hpcsketch slurm``, ``hpcsketch analyze``, ``--help`` and the launcher's
parent read only what methods, compressors, problems and topologies *declare*
(the registry entries), never their implementations. Each check runs in a fresh
interpreter and reads its ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
JOBS = sorted((REPO / "jobs").glob("*.toml"))
QUICKSTART = REPO / "jobs" / "quickstart.toml"

#: what only ranks may load; a name counts with its submodules, and a lazy
#: placeholder (hpcsketch._lazy) in sys.modules counts too
FORBIDDEN = ("mpi4py.MPI", "torch", "numba")
MARK = "@@import-sets@@"

_PRELUDE = f"""
import json, sys
FORBIDDEN = {FORBIDDEN!r}

def heavy():
    return [f for f in FORBIDDEN if any(m == f or m.startswith(f + ".") for m in sys.modules)]

def report(**extra):
    print({MARK!r} + json.dumps(dict(heavy=heavy(), **extra)), flush=True)

def cli(*argv):
    from hpcsketch.cli import main
    try:
        return main(list(argv))
    except SystemExit as e:  # --help
        return e.code
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "SLURM_", "HYDRA_", "MPIEXEC_")) and k != "HPCSKETCH_LAUNCHER"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _run(body: str, cwd: Path = REPO, timeout: float = 180) -> dict:
    code = _PRELUDE + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=_env(), capture_output=True, text=True,
                         timeout=timeout)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(MARK)]
    assert lines, f"no report (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return json.loads(lines[-1][len(MARK):])


def test_load_job_of_every_job_file_imports_no_implementation():
    """load_job (and its sweep points) on jobs/*.toml reads declarations only."""
    got = _run(f"""
        from hpcsketch.config.job import load_job
        from hpcsketch.errors import JobError
        first, refused = {{}}, {{}}
        for path in {[str(p) for p in JOBS]!r}:
            try:
                load_job(path).points()
            except JobError as e:  # refused (e.g. a data path this machine lacks): its checks ran all the same
                refused[path] = str(e)
            for m in heavy():
                first.setdefault(m, path)
        report(first=first, refused=refused)
    """)
    assert str(QUICKSTART) not in got["refused"], got["refused"]
    assert got["heavy"] == [], "load_job imported " + ", ".join(f"{m} (first with {p})" for m, p in got["first"].items())


def test_validate_command_imports_no_implementation():
    """``hpcsketch validate JOB [-n 4]`` on every job, ``--keys`` and the README's generated blocks."""
    got = _run(f"""
        codes = {{}}
        for path in {[str(p) for p in JOBS]!r}:
            codes[path] = cli("validate", path)
        codes["-n 4"] = cli("validate", {str(REPO / "jobs" / "decentralized.toml")!r}, "-n", "4")
        codes["--keys"] = cli("validate", "--keys")
        from hpcsketch.docs import render
        render(open({str(REPO / "README.md")!r}).read())
        report(codes=codes)
    """)
    codes = got["codes"]
    assert codes[str(QUICKSTART)] == codes["-n 4"] == codes["--keys"] == 0, codes
    assert set(codes.values()) <= {0, 2}, codes  # 2: a job this machine cannot run (e.g. no CIFAR-10 folder)
    assert got["heavy"] == []


def test_slurm_command_imports_no_implementation(tmp_path):
    """``hpcsketch slurm JOB`` (the script printed, nothing submitted) for a single run and a sweep."""
    got = _run(f"""
        codes = {{}}
        for path in ("jobs/quickstart.toml", "jobs/error_feedback.toml", "jobs/decentralized.toml"):
            codes[path] = cli("slurm", path, "--ntasks-per-node", "4", "--out", {str(tmp_path)!r})
        report(codes=codes)
    """)
    assert set(got["codes"].values()) == {0}, got["codes"]
    assert got["heavy"] == []


def test_help_imports_no_implementation():
    """``--help`` and the parser every rank builds: only the chosen command's module is imported
    (so not the analysis stack, pandas, for ``hpcsketch run`` or ``hpcsketch --help``)."""
    got = _run("""
        codes = [cli("--help"), cli("run", "--help"), cli("validate", "--help"), cli("slurm", "--help")]
        codes.append(cli("info", "--topology", "torus", "--nodes", "8"))
        report(codes=codes, pandas="pandas" in sys.modules)
    """)
    assert got["codes"] == [0, 0, 0, 0, 0]
    assert got["heavy"] == []
    assert got["pandas"] is False


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory) -> Path:
    """One real trace of a tiny 1-rank run (a rank: it may load everything)."""
    out = tmp_path_factory.mktemp("traces")
    cmd = [sys.executable, "-m", "hpcsketch", "run", str(QUICKSTART), "--out", str(out), "-q",
           "--set", "run.rounds=2", "--set", "run.eval_every=1", "--set", "clients.count=2"]
    env = _env()
    env.setdefault("HPCSKETCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    assert list(out.glob("*.h5"))
    return out


def test_analyze_imports_no_implementation(trace_dir, tmp_path):
    got = _run(f"""
        help_code = cli("analyze", "--help")
        code = cli("analyze", {str(trace_dir)!r}, "--out", {str(tmp_path / "report")!r})
        report(code=code, help_code=help_code)
    """)
    assert got["code"] == 0 and got["help_code"] == 0
    assert (tmp_path / "report" / "report.md").exists()
    assert got["heavy"] == []


def test_launcher_parent_imports_no_implementation(tmp_path):
    """``hpcsketch run JOB -n 2`` outside a launcher: the parent only starts mpiexec.

    ``launch.spawn`` is replaced by a recorder that reads sys.modules at the moment
    the ranks would start and returns 0.
    """
    got = _run(f"""
        from hpcsketch import launch
        seen = {{}}
        def spawn(n, rank_args, **kw):
            seen["heavy"], seen["n"] = heavy(), n
            return 0
        launch.spawn = spawn
        launch.inside_launcher = lambda: False
        code = cli("run", {str(QUICKSTART)!r}, "-n", "2", "--out", {str(tmp_path)!r}, "-q")
        report(code=code, at_spawn=seen.get("heavy"), n=seen.get("n"))
    """)
    assert got["code"] == 0 and got["n"] == 2
    assert got["at_spawn"] == []
    assert got["heavy"] == []
