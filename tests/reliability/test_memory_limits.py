"""Memory: sizes the node cannot hold are refused by validation with one line before anything is
allocated (never the kernel's OOM killer: exit 9, no trace), and a MemoryError that still happens
on a rank ends the run as ``failed`` with a message (exit 2), never a SIGKILL.

Real processes throughout: ``hpcsketch validate`` / ``run`` as subprocesses (each with a timeout),
a real address-space limit (RLIMIT_AS, set in the child before it starts) for the MemoryError.
``HPCSKETCH_MEMORY_AVAILABLE`` pins the node's memory where a test needs the answer not to depend
on the machine it runs on.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpcsketch.tracing.reader import read_trace

TIMEOUT = 240
ROOT = Path(__file__).resolve().parents[2]

COUNT_SKETCH = """
[problem]
kind = "mnist1d"
[algorithm]
kind = "compressed_sgd"
[compressor]
kind = "count_sketch"
rows = 32
cols = 134217728
"""

QUADRATIC = """
[run]
progress = false
[problem]
kind = "quadratic"
dim = 32768
hessian_heterogeneity = 0
"""


def _cli(args: list[str], env: dict[str, str] | None = None, timeout: float = TIMEOUT, **kw) -> subprocess.CompletedProcess:
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "hpcsketch", *args], capture_output=True, text=True, env=e,
                          timeout=timeout, start_new_session=True, **kw)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hpcsketch: error: "), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    return lines[0]


def test_a_count_sketch_beyond_the_nodes_memory_is_refused_naming_cols(tmp_path):
    job = _write(tmp_path, "cs.toml", COUNT_SKETCH)
    res = _cli(["validate", str(job), "-n", "4"], env={"HPCSKETCH_MEMORY_AVAILABLE": "22.9e9"})
    assert res.returncode == 2, res.stdout + res.stderr
    line = _one_error_line(res)
    assert f"{job}: [compressor] cols = 134217728: needs about" in line, line
    # 32 x 2^27 float32 = 17.2 GB a table: the payload and MPI's copy of it on several ranks
    assert "34.9 GB per rank" in line and "22.9 GB available" in line and "for 4 ranks" in line, line
    assert "use fewer cols or rows" in line and "memory_check = false" in line, line


def test_the_quadratic_the_validator_suggested_is_refused_by_run_before_it_allocates(tmp_path):
    job = _write(tmp_path, "q.toml", QUADRATIC)
    res = _cli(["validate", str(job)], env={"HPCSKETCH_MEMORY_AVAILABLE": "22.9e9"})
    assert res.returncode == 2
    line = _one_error_line(res)
    assert "[problem] dim = 32768: needs about" in line and "use a smaller dim" in line, line
    # run refuses it too, at once, with nothing allocated and no trace written (the node's real memory
    # decides here: 8 d^2 = 8.6 GB for the mean Hessian alone, 47 GB with generation's temporaries)
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", PEAK_RSS, "run", str(job), "--out", str(tmp_path / "out"), "-q"],
                         capture_output=True, text=True, timeout=TIMEOUT, start_new_session=True)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "[problem] dim = 32768: needs about" in _one_error_line(res)
    assert time.monotonic() - t0 < 120
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.h5"))
    peak_kb = int(res.stdout.split()[-1])
    assert peak_kb < 1 << 20, f"the refused run reached {peak_kb} kB of RSS"


#: the CLI in-process, then its peak RSS (kB) on stdout: VmHWM, not getrusage's ru_maxrss, which on Linux
#: carries the forking parent's peak across exec (pytest's, after a thousand tests: over 1 GB)
PEAK_RSS = ("import sys\n"
            "from hpcsketch.cli import main\n"
            "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))\n"
            "sys.exit(rc)\n")


def test_the_ranks_of_a_node_share_its_memory(tmp_path):
    # psgd on a 4000^2 quadratic: about 0.7 GB per rank with generation's temporaries
    job = _write(tmp_path, "q.toml", QUADRATIC.replace("32768", "4000"))
    env = {"HPCSKETCH_MEMORY_AVAILABLE": "4e9"}
    assert _cli(["validate", str(job), "-n", "2"], env=env).returncode == 0
    res = _cli(["validate", str(job), "-n", "8"], env=env)
    assert res.returncode == 2 and "for 8 ranks" in _one_error_line(res)
    # inside a launcher the ranks on this node are the launcher's local size, not the world size
    inside = {**env, "PMI_RANK": "0", "PMI_SIZE": "64"}
    assert _cli(["validate", str(job)], env={**inside, "MPI_LOCALNRANKS": "2"}).returncode == 0
    res = _cli(["validate", str(job)], env={**inside, "MPI_LOCALNRANKS": "8"})
    assert res.returncode == 2 and "for 8 ranks" in _one_error_line(res)


def test_users_who_know_better_can_turn_the_check_off(tmp_path):
    job = _write(tmp_path, "cs.toml", COUNT_SKETCH)
    env = {"HPCSKETCH_MEMORY_AVAILABLE": "1e9"}
    assert _cli(["validate", str(job), "-n", "4"], env=env).returncode == 2
    res = _cli(["validate", str(job), "-n", "4", "--set", "run.memory_check=false"], env=env)
    assert res.returncode == 0 and "valid" in res.stdout, res.stderr
    res = _cli(["validate", str(job), "-n", "4"], env={**env, "HPCSKETCH_MEMORY_CHECK": "0"})
    assert res.returncode == 0 and "valid" in res.stdout, res.stderr


def test_signal_grace_is_bounded(tmp_path):
    job = _write(tmp_path, "q.toml", QUADRATIC.replace("32768", "10"))
    res = _cli(["validate", str(job), "--set", "run.signal_grace=1e300"])
    assert res.returncode == 2
    assert "[run] signal_grace = 1e+300" in _one_error_line(res) and "<= 3600" in res.stderr
    assert _cli(["validate", str(job), "--set", "run.signal_grace=3600"]).returncode == 0


def test_validate_refuses_the_cifar10_job_without_its_data_as_run_does(tmp_path):
    job = ROOT / "jobs" / "hessian_cifar10.toml"
    res = _cli(["validate", str(job)])
    assert res.returncode == 2
    assert "[problem] data_path: required for kind = \"cifar10\"" in _one_error_line(res)
    res = _cli(["validate", str(job), "--set", f"problem.data_path=\"{tmp_path / 'nowhere'}\""])
    assert res.returncode == 2 and "not a directory" in _one_error_line(res)


# -- a MemoryError during the run ----------------------------------------------------------------

#: EF21 keeps g_i (4.2 MB: an MLP of 1.05M parameters) for every client once it has taken part:
#: 200 new clients a round at first, so the ranks outgrow a 3 GiB address space within a few rounds
GROWING = """
[run]
name = "oom"
rounds = 12
eval_every = 0
flush_every = 1
progress = false
memory_check = false
[problem]
kind = "mnist1d"
model = "mlp"
hidden = 1000
[clients]
count = 1000
participation = 0.2
[algorithm]
kind = "ef21"
lr = 0.01
[compressor]
kind = "topk"
k = 0.001
"""
ADDRESS_SPACE = 3 << 30


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_memory_error_during_the_run_ends_it_failed_with_a_message(tmp_path, ranks):
    job = _write(tmp_path, "oom.toml", GROWING)
    res = _cli(["run", str(job), "-n", str(ranks), "--out", str(tmp_path / "out"), "-q"], preexec_fn=_limit_address_space)
    out = res.stdout + res.stderr
    assert res.returncode == 2, out  # not 9 or 137: no rank was SIGKILLed
    assert "Traceback" not in out and "Killed" not in out, out
    errors = [line for line in res.stderr.splitlines() if line.startswith("hpcsketch: error: ")]
    assert errors and all("out of memory" in line for line in errors), out
    traces = list((tmp_path / "out").glob("oom*.h5"))
    assert len(traces) == 1, traces
    t = read_trace(traces[0])
    assert t.status == "failed" and "out of memory" in t.attrs["message"], t.attrs["message"]
    assert 0 < t.metrics["step"][-1] < 12  # it ran, and it stopped early, with its rounds kept
