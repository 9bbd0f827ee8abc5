"""``hpcsketch slurm``: the rendered scripts, bad input, the batch shell's signal hand-on,
packaging, and jobs run end to end on a real single-node Slurm (slurmctld + slurmd
started here, installed with apt-get when absent). Every subprocess has a timeout."""

from __future__ import annotations

import importlib.metadata
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from string import Template

import pytest

from hpcsketch.cli import main
from hpcsketch.errors import BadInput
from hpcsketch.slurm import template_text
from hpcsketch.tracing.reader import read_trace

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "jobs" / "quickstart.toml"
TEMPLATES = ("single.sbatch", "gpu.sbatch", "array.sbatch")

TINY = """
[run]
name = "tiny"
rounds = {rounds}
eval_every = {eval_every}
progress = false
[problem]
kind = "least_squares"
dim = 32
rows = 20
batch_size = 4
[clients]
count = 4
[algorithm]
kind = "psgd"
lr = 0.05
"""
SWEEP = '[sweep]\n"algorithm.lr" = [0.05, 0.1]\n'
#: runs far longer than any test: only a signal ends it
LONG = TINY.format(rounds=10_000_000, eval_every=0)


def _job(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def _render(capsys, *args: str) -> str:
    code = main(["slurm", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _sbatch_lines(script: str) -> dict[str, str]:
    return dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", script, re.M))


def _bash_syntax_ok(script: str, tmp_path: Path) -> None:
    path = tmp_path / "check.sbatch"
    path.write_text(script)
    res = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr


def _pip_mpich() -> bool:
    try:
        importlib.metadata.version("mpich")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


# ---------------------------------------------------------------- rendering (no Slurm needed)


def test_templates_are_package_data_and_match_the_slurm_directory():
    for name in TEMPLATES:
        assert template_text(name) == (REPO / "slurm" / name).read_text()


def test_single_run_script(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = _render(capsys, str(QUICKSTART), "--set", "run.rounds=20", "--ntasks-per-node", "2",
                     "--time", "00:10:00", "--out", "res")
    lines = _sbatch_lines(script)
    assert lines["job-name"] == "quickstart" and lines["nodes"] == "1" and lines["ntasks-per-node"] == "2"
    assert lines["time"] == "00:10:00" and lines["signal"] == "USR1@120"
    # unset options leave Slurm's defaults: their lines are dropped
    assert not {"partition", "account", "cpus-per-task", "gpus-per-node", "array"} & set(lines)
    # absolute paths: the job runs from any directory, with this Python environment
    assert lines["chdir"] == str(tmp_path) and lines["output"] == f"{tmp_path}/res/%x-%j.out"
    assert f"PY={shlex.quote(sys.executable)}\n" in script
    assert f"run {QUICKSTART} --set run.rounds=20 --out {tmp_path}/res --run-id \"$RUN_ID\"" in script
    assert 'RUN_ID="slurm-${SLURM_JOB_ID}"' in script
    assert (tmp_path / "res").is_dir()  # Slurm does not create the log's directory
    _bash_syntax_ok(script, tmp_path)


def test_no_placeholder_is_left_in_any_template(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = _job(tmp_path, "sweep", TINY.format(rounds=5, eval_every=5) + SWEEP)
    scripts = {
        "single.sbatch": _render(capsys, str(QUICKSTART), "--out", "o"),
        "gpu.sbatch": _render(capsys, str(QUICKSTART), "--gpus-per-node", "4", "--out", "o"),
        "array.sbatch": _render(capsys, str(sweep), "--gpus-per-node", "2", "--out", "o"),
    }
    for name, script in scripts.items():
        identifiers = Template(template_text(name)).get_identifiers()
        assert {"name", "signal", "run_args", "python", "launcher"} <= set(identifiers)
        for ident in identifiers:
            assert "${" + ident + "}" not in script and not re.search(rf"\${ident}\b", script), (name, ident)
        _bash_syntax_ok(script, tmp_path)


@pytest.mark.parametrize("values, throttle, tasks", [
    ('[sweep]\n"algorithm.lr" = [0.05, 0.1, 0.2]\n', None, "0-2"),
    ('[sweep]\n"algorithm.lr" = [0.05, 0.1]\n"run.seed" = [0, 1]\n', "2", "0-3%2"),
    ('[sweep]\n"algorithm.lr" = [0.05]\n', None, "0-0"),
])
def test_a_sweep_is_an_array_with_one_task_per_grid_point(capsys, tmp_path, monkeypatch, values, throttle, tasks):
    monkeypatch.chdir(tmp_path)
    job = _job(tmp_path, "sweep", TINY.format(rounds=5, eval_every=5) + values)
    from hpcsketch.config.job import load_job

    assert int(tasks.split("-")[1].split("%")[0]) + 1 == len(load_job(job).points())
    script = _render(capsys, str(job), *(["--throttle", throttle] if throttle else []), "--out", "o")
    lines = _sbatch_lines(script)
    assert lines["array"] == tasks and lines["output"].endswith("/o/%x-%A_%a.out")
    assert '--point "$SLURM_ARRAY_TASK_ID" --skip-finished' in script
    assert 'RUN_ID="slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"' in script


def test_gpu_script_runs_one_rank_per_gpu(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = _render(capsys, str(QUICKSTART), "--nodes", "2", "--gpus-per-node", "4", "--cpus-per-task", "8",
                     "--partition", "gpu", "--account", "proj-1", "--out", "o")
    lines = _sbatch_lines(script)
    assert (lines["nodes"], lines["ntasks-per-node"], lines["gpus-per-node"]) == ("2", "4", "4")
    assert (lines["cpus-per-task"], lines["partition"], lines["account"]) == ("8", "gpu", "proj-1")
    assert "CUDA-aware" in script


def test_launcher_decides_who_gets_the_signal(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = _render(capsys, str(QUICKSTART), "--signal-seconds", "300", "--out", "o")
    expected = "'srun --mpi=pmi2'" if _pip_mpich() else "srun"
    assert f"LAUNCHER={expected}\n" in script
    # srun's tasks (the ranks) are a job step: --signal without B: reaches them
    assert _sbatch_lines(script)["signal"] == "USR1@300"
    # mpiexec runs inside the batch step: only B: reaches it, through the shell's trap
    script = _render(capsys, str(QUICKSTART), "--launcher", "mpiexec", "--out", "o")
    assert _sbatch_lines(script)["signal"] == "B:USR1@120" and "LAUNCHER=mpiexec\n" in script


def test_script_file_is_written_and_stdout_stays_empty(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "job.sbatch"
    assert main(["slurm", str(QUICKSTART), "--script", str(path), "--out", "o"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and f"wrote {path} (single.sbatch)" in out.err
    assert path.read_text().startswith("#!/bin/bash\n") and os.access(path, os.X_OK)


BAD = {
    "time without hours": (["--time", "1:00"], "--time: expected HH:MM:SS or D-HH:MM:SS"),
    "time minutes 60": (["--time", "01:60:00"], "--time: expected"),
    "time days only": (["--time", "1-2"], "--time: expected"),
    "time words": (["--time", "one hour"], "--time: expected"),
    "time zero": (["--time", "00:00:00"], "--time: a time limit of zero"),
    "ntasks 0": (["--ntasks-per-node", "0"], "--ntasks-per-node: expected a number >= 1, got 0"),
    "nodes -1": (["--nodes", "-1"], "--nodes: expected a number >= 1"),
    "signal after start": (["--time", "00:01:00", "--signal-seconds", "60"], "--signal-seconds: the warning 60 s"),
    "signal too large": (["--signal-seconds", "70000"], "at most 65535"),
    "gpus vs ntasks": (["--gpus-per-node", "4", "--ntasks-per-node", "2"], "one rank per GPU"),
    "throttle without sweep": (["--throttle", "2"], "--throttle: "),
    "partition with a space": (["--partition", "a b"], "--partition: 'a b' cannot go into an #SBATCH line"),
    "empty launcher": (["--launcher", " "], "--launcher: empty launcher command"),
    "unbalanced quote": (["--launcher", "srun '--mpi"], "--launcher: cannot split"),
    "bad override": (["--set", "algorithm.lr=fast"], "algorithm.lr"),
    "resume and a job": (["--resume", "x.h5"], "--resume: takes the job"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    args, expected = BAD[case]
    code = main(["slurm", str(QUICKSTART), "--out", "o", *args])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_bad_job_file_and_missing_sbatch_through_the_real_cli(tmp_path):
    bad = _job(tmp_path, "bad", TINY.format(rounds=5, eval_every=5).replace("lr = 0.05", "lr = 0.05\nrate = 1"))
    empty = tmp_path / "bin"
    empty.mkdir()
    cases = [
        ([str(bad)], f"{bad}: [algorithm] rate"),
        ([str(tmp_path / "none.toml")], "no such file"),
        ([str(QUICKSTART), "--submit"], "--submit: sbatch is not on PATH"),
        ([str(QUICKSTART), "--wait"], "--submit: sbatch is not on PATH"),
        ([], "give a job file"),
    ]
    for args, expected in cases:
        res = subprocess.run([sys.executable, "-m", "hpcsketch", "slurm", *args, "--out", str(tmp_path / "o")],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "PATH": str(empty)})
        assert res.returncode == 2 and res.stdout == "", (args, res.stdout, res.stderr)
        assert expected in res.stderr and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)


def _interrupted_trace(tmp_path: Path) -> Path:
    """A real one-rank run stopped by SIGTERM at round 5: interrupted, with a checkpoint."""
    job = _job(tmp_path, "tiny", TINY.format(rounds=40, eval_every=10))
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "run", str(job), "--out", str(tmp_path / "runs"), "-q",
                          "--inject-fault", "rank=0,round=5,kind=term"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stdout + res.stderr
    (trace,) = (tmp_path / "runs").glob("tiny-*.h5")
    return trace


def test_resume_script_continues_the_trace_on_its_rank_count(capsys, tmp_path, monkeypatch):
    trace = _interrupted_trace(tmp_path)
    monkeypatch.chdir(tmp_path)
    script = _render(capsys, "--resume", str(trace.relative_to(tmp_path)), "--time", "01:00:00")
    lines = _sbatch_lines(script)
    assert lines["ntasks-per-node"] == "1" and lines["output"] == f"{trace.parent}/%x-%j.out"
    assert f'run --resume {trace} -n "$SLURM_NTASKS"' in script and "--run-id" not in script
    assert f"hpcsketch slurm --resume $trace --nodes 1 --ntasks-per-node 1 --time 01:00:00" in script
    # checkpointed on 1 rank: 2 would not hold the clients' state
    assert main(["slurm", "--resume", str(trace), "--ntasks-per-node", "2"]) == 2
    assert "checkpointed on 1 ranks; resume it on 1" in capsys.readouterr().err


@pytest.mark.slow
def test_the_batch_shell_hands_a_B_signal_to_the_ranks(capsys, tmp_path):
    """With a launcher that is not srun, Slurm signals only the batch shell (B:): its trap
    must reach the ranks. Real bash, real mpiexec, the variables Slurm sets; no Slurm."""
    job = _job(tmp_path, "long", LONG)
    out = tmp_path / "out"
    script = tmp_path / "job.sbatch"
    assert main(["slurm", str(job), "--ntasks-per-node", "2", "--launcher", "mpiexec", "--out", str(out),
                 "--script", str(script)]) == 0
    elsewhere = tmp_path / "elsewhere"  # bash ignores #SBATCH --chdir: absolute paths must suffice
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PMI_", "PMIX_", "OMPI_"))}
    env.update(SLURM_NTASKS="2", SLURM_JOB_ID="4242")
    proc = subprocess.Popen(["bash", str(script)], cwd=elsewhere, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        trace = out / "tiny-slurm-4242.h5"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the ranks run rounds
            try:
                if trace.exists() and read_trace(trace).attrs.get("rounds_done", 0) > 20:
                    break
            except BadInput:
                pass  # caught mid-write
            time.sleep(0.5)
        proc.send_signal(signal.SIGUSR1)  # to bash only, as B: does
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 3, output
    t = read_trace(trace)
    assert t.status == "interrupted" and int(t.attrs["checkpoint_step"]) == t.metrics["step"][-1] > 20
    assert "time-limit warning" in output and f"hpcsketch slurm --resume {trace}" in output


@pytest.mark.slow
def test_an_installed_wheel_finds_the_templates(tmp_path):
    """A regular (non-editable) install ships slurm/ as hpcsketch/slurm_templates."""
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, timeout=60, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, src / f)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("hpcsketch-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    check = ("import hpcsketch, hpcsketch.slurm as s; assert hpcsketch.__file__.startswith(%r), hpcsketch.__file__; "
             "print(sorted(len(s.template_text(n)) for n in %r))" % (str(tmp_path / "site"), TEMPLATES))
    res = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(sorted(len(template_text(n)) for n in TEMPLATES))


# ---------------------------------------------------------------- a real Slurm


def _tail(path: Path, n: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return "(no log)"


def _ensure_slurm_installed() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "sinfo", "scontrol", "scancel")):
        return
    if not shutil.which("apt-get"):
        pytest.skip("Slurm is not installed and there is no apt-get to install it")
    if os.geteuid() != 0:
        pytest.skip("Slurm is not installed and installing it needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "slurmctld", "slurmd", "slurm-client"]
    res = None
    for before in ([], [["apt-get", "update"]]):  # package lists may be missing or stale
        try:
            for c in before:
                subprocess.run(c, capture_output=True, text=True, timeout=180, env=env)
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        except subprocess.TimeoutExpired:
            continue
        if res.returncode == 0:
            return
    detail = (res.stdout + res.stderr).strip().splitlines()[-1:] if res is not None else ["timed out"]
    pytest.skip(f"cannot install Slurm with apt-get (no network to the Debian mirror?): {' '.join(detail)}")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


SLURM_CONF = """\
ClusterName=hpcsketchtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
# cores only: without memory on the node, every job would take all of it and array tasks would queue
SelectTypeParameters=CR_Core
MpiDefault=none
SlurmUser=root
SlurmdUser=root
ReturnToService=2
KillWait=5
MinJobAge=600
# job ids that no earlier test run used: MPICH under srun names its shared-memory segments
# after the job and step, and a segment a killed job left in /dev/shm under the same name
# garbles the next MPI_Init ("failed to unpack address", "message truncated")
FirstJobId={first_job_id}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
NodeName=localhost NodeHostname={host} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _stop_daemon(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A single-node Slurm of our own (its own ports, state and logs), stopped at the end even on failure.
    Yields the environment for the commands that talk to it."""
    _ensure_slurm_installed()
    if os.geteuid() != 0:
        pytest.skip("slurmd runs jobs as their users and needs root")
    d = tmp_path_factory.mktemp("slurm")
    (d / "state").mkdir()
    (d / "spool").mkdir()
    ctld_port, d_port = _free_ports(2)
    conf = d / "slurm.conf"
    conf.write_text(SLURM_CONF.format(d=d, ctld_port=ctld_port, d_port=d_port, host=socket.gethostname().split(".")[0],
                                      first_job_id=random.SystemRandom().randrange(1000, 60_000_000)))
    # pytest may itself run inside a Slurm job or under mpiexec: none of that may leak into ours
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "PMI_", "PMIX_", "OMPI_"))}
    env["SLURM_CONF"] = str(conf)
    try:
        for daemon in ("slurmctld", "slurmd"):
            res = subprocess.run([daemon, "-f", str(conf)], capture_output=True, text=True, timeout=60, env=env)
            if res.returncode != 0:
                pytest.skip(f"{daemon} does not start here: {(res.stdout + res.stderr).strip()} {_tail(d / f'{daemon}.log')}")
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30, env=env)
            state = res.stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            pytest.skip(f"the Slurm node did not become idle (state {state!r}): {_tail(d / 'slurmd.log')} "
                        f"{_tail(d / 'slurmctld.log')}")
        yield env
    finally:
        _quiet(["scancel", "--full", "--user", "root"], env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # let running jobs end before their slurmd goes
            if not _quiet(["squeue", "-h"], env):
                break
            time.sleep(0.5)
        _stop_daemon(d / "slurmd.pid")
        _stop_daemon(d / "slurmctld.pid")


def _quiet(cmd: list[str], env: dict[str, str]) -> str:
    """Clean-up commands: their output, or '' when the controller is gone (nothing left to wait for)."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=env)
    except (subprocess.TimeoutExpired, OSError):
        return ""
    return res.stdout.strip() if res.returncode == 0 else ""


def _submit(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """Start `hpcsketch slurm ... --submit --wait` from ``cwd``; _finish collects it."""
    return subprocess.Popen([sys.executable, "-m", "hpcsketch", "slurm", *args, "--submit", "--wait"], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(proc: subprocess.Popen[str], deadline: float) -> tuple[int, str, str]:
    """Exit code, job id and all output of a _submit; killed (and failed) past the deadline."""
    try:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"hpcsketch slurm --wait did not return in time: {out}{err}")
    job_id = out.strip().splitlines()[0] if out.strip() else ""
    assert job_id.isdigit(), out + err
    return proc.returncode, job_id, out + err


def _job_record(env: dict[str, str], job_id: str) -> dict[str, str]:
    res = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, timeout=30, env=env)
    return dict(re.findall(r"(\w+)=(\S+)", res.stdout))


@pytest.mark.slow
def test_jobs_run_on_a_real_slurm(slurm, tmp_path):
    env = slurm
    cwd = tmp_path / "somewhere"  # sbatch runs from an unrelated directory
    cwd.mkdir()

    # All three are submitted at once and wait in Slurm's queue (2 CPUs): the test then waits
    # once for sbatch --wait's polling, not three times.
    quick_out, sweep_out, limit_out = tmp_path / "quick", tmp_path / "sweep", tmp_path / "limit"
    sweep = _job(tmp_path, "tiny", TINY.format(rounds=20, eval_every=10) + SWEEP)
    long = _job(tmp_path, "long", LONG)
    deadline = time.monotonic() + 400
    procs = [
        # (1) the quickstart job, shortened, on 2 ranks started by srun
        _submit(env, cwd, str(QUICKSTART), "--set", "run.rounds=20", "--ntasks-per-node", "2", "--time", "00:05:00",
                "--out", str(quick_out)),
        # (2) a two-point sweep as an array job: task I runs grid point I into its own trace
        _submit(env, cwd, str(sweep), "--out", str(sweep_out)),
        # (3) a time limit: the USR1 warning reaches the ranks, which stop together, flush and
        # checkpoint. The limit is in whole minutes and Slurm checks it every 30 s: the
        # warning comes 30 to 60 s after the job starts.
        _submit(env, cwd, str(long), "--ntasks-per-node", "2", "--time", "00:02:00", "--signal-seconds", "60",
                "--out", str(limit_out)),
    ]
    (code, job_id, output), sweep_result, limit_result = (_finish(p, deadline) for p in procs)

    assert code == 0, output + _tail(quick_out / f"quickstart-{job_id}.out", 20)
    t = read_trace(quick_out / f"quickstart-slurm-{job_id}.h5")
    assert t.status == "completed" and t.attrs["rounds_done"] == 20 and t.metrics["step"][-1] == 20
    assert t.env["world_size"] == 2 and "--launcher srun" in t.env["launcher"]
    assert "completed" in (quick_out / f"quickstart-{job_id}.out").read_text()

    code, job_id, output = sweep_result
    assert code == 0, output
    traces = sorted(sweep_out.glob(f"*-slurm-{job_id}_*.h5"))
    assert [p.name for p in traces] == [f"tiny__algorithm.lr=0.05-slurm-{job_id}_0.h5",
                                        f"tiny__algorithm.lr=0.1-slurm-{job_id}_1.h5"]
    for task, (path, lr) in enumerate(zip(traces, (0.05, 0.1))):
        t = read_trace(path)
        assert t.status == "completed" and t.attrs["rounds_done"] == 20, path
        assert t.attrs["sweep_point"] == f'{{"algorithm.lr": {lr}}}' and t.attrs["run_id"] == f"slurm-{job_id}_{task}"
        assert (sweep_out / f"tiny-{job_id}_{task}.out").exists()

    code, job_id, output = limit_result
    log = (limit_out / f"tiny-{job_id}.out").read_text()
    assert code == 3, output + log
    trace = limit_out / f"tiny-slurm-{job_id}.h5"
    t = read_trace(trace)
    assert t.status == "interrupted" and "--resume" in t.attrs["message"]
    assert int(t.attrs["checkpoint_step"]) == t.metrics["step"][-1] > 0
    # it ended on the warning, before the limit (not TIMEOUT: SIGTERM at the limit would also interrupt it)
    record = _job_record(env, job_id)
    assert record["JobState"] == "FAILED" and record["ExitCode"] == "3:0", record
    minutes, seconds = map(int, record["RunTime"].split(":")[-2:])
    assert minutes * 60 + seconds < 120, record["RunTime"]
    assert f"hpcsketch slurm --resume {trace} --nodes 1 --ntasks-per-node 2" in log
    # and the resume job it suggests renders for the same 2 ranks
    res = subprocess.run([sys.executable, "-m", "hpcsketch", "slurm", "--resume", str(trace)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "#SBATCH --ntasks-per-node=2" in res.stdout, res.stderr
