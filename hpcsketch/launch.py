"""Starting ranks: join the world we are in, or launch mpiexec ourselves.

``hpcsketch run JOB -n 4`` outside an MPI launcher starts ``mpiexec -n 4 python
-m hpcsketch run JOB ...`` and supervises it: if the ranks die without
finishing their trace (a rank was killed, the node ran out of memory), the
parent marks the trace failed so it never claims to be running.

This module must not import ``mpi4py.MPI``: the parent process is not a rank.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from hpcsketch.errors import BadInput

#: environment variables set by MPI launchers in every rank
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID", "PALS_RANKID", "MV2_COMM_WORLD_RANK")


def inside_launcher() -> bool:
    """True when this process was started by mpiexec/mpirun/srun as one of several ranks."""
    if any(v in os.environ for v in _LAUNCHER_VARS):
        return True
    # srun sets SLURM_STEP_ID in job steps; the batch script itself is not a step
    return os.environ.get("SLURM_PROCID") is not None and os.environ.get("SLURM_STEP_ID") not in (None, "", "batch", "4294967294")


def launcher_world_size() -> int | None:
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"):
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                pass
    if inside_launcher() and "SLURM_NTASKS" in os.environ:
        try:
            return int(os.environ["SLURM_NTASKS"])
        except ValueError:
            pass
    return None


def find_mpiexec() -> str:
    """The mpiexec next to this Python (the pip MPICH package puts it in the venv), else on PATH."""
    here = Path(sys.executable).parent
    for name in ("mpiexec", "mpirun"):
        cand = here / name
        if cand.exists() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if not found:
        raise BadInput(
            "no mpiexec found next to this Python or on PATH; install the mpich extra "
            "(pip install 'hpcsketch[mpich]') or load your site's MPI module",
            field="-n",
        )
    return found


def launch_command(n: int, rank_args: Sequence[str], launcher: str | None = None) -> list[str]:
    if launcher:
        base = shlex.split(launcher)
        if not base:
            raise BadInput("empty launcher command", field="--launcher")
        if not any(a in ("-n", "-np", "--ntasks") or a.startswith("--ntasks=") for a in base):
            base += ["-n", str(n)]
    else:
        base = [find_mpiexec(), "-n", str(n)]
    return base + [sys.executable, "-m", "hpcsketch", *rank_args]


def spawn(n: int, rank_args: Sequence[str], *, launcher: str | None = None, traces: Sequence[Path] = (),
          timeout: float | None = None) -> int:
    """Run the ranks and wait; returns their exit code. Marks unfinished traces failed."""
    cmd = launch_command(n, rank_args, launcher)
    env = dict(os.environ)
    env["HPCSKETCH_LAUNCHED"] = "1"
    env["HPCSKETCH_LAUNCHER_NAME"] = "hpcsketch -n" if not launcher else f"hpcsketch --launcher {launcher}"
    env.setdefault("OMP_NUM_THREADS", "1")
    if sys.stderr.isatty():
        env.setdefault("HPCSKETCH_TTY", "1")
    try:
        proc = subprocess.Popen(cmd, env=env)
    except FileNotFoundError as e:
        raise BadInput(f"cannot start {cmd[0]!r}: {e.strerror}", field="--launcher" if launcher else "-n") from None

    forwarded = {"n": 0}

    def forward(signum: int, frame: object) -> None:
        # pass the first signal on (mpiexec hands it to the ranks, which stop cleanly);
        # a second one ends the ranks for good
        forwarded["n"] += 1
        try:
            proc.send_signal(signum if forwarded["n"] == 1 else signal.SIGKILL)
        except ProcessLookupError:
            pass

    from hpcsketch.signals import take_early

    # signal.signal, not signals.install: proc.wait() must be interrupted (EINTR) for
    # Python to run ``forward`` at all; a restarted waitpid would never return to it
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}

    early = take_early()  # a signal that came before the ranks existed: they get it now
    if early:
        forward(early, None)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if rc < 0:
        rc = 128 - rc
    if rc != 0:
        from hpcsketch.tracing.writer import mark_status

        for path in traces:
            if path.exists():
                mark_status(path, "failed", f"the ranks ended with exit code {rc} before the run finished "
                            "(a rank was killed or aborted); rounds up to the last flush are kept")
    return rc
