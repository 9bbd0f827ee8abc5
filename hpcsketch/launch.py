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
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from hpcsketch import launchers
from hpcsketch.errors import BadInput

def check_ranks(ranks: int | None) -> None:
    """``-n``: at least one rank (BadInput, one line, otherwise)."""
    if ranks is not None and ranks < 1:
        raise BadInput(f"expected a number of ranks >= 1, got {ranks}", field="-n")


def inside_launcher() -> bool:
    """True when this process was started by mpiexec/mpirun/srun as one of several ranks."""
    return launchers.inside_launcher()


def launcher_world_size() -> int | None:
    return launchers.world_size()


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


def _own_session_with_parent_death_signal(parent: int) -> None:
    """In the child, before exec: a session of its own (a terminal's Ctrl-C and hang-up reach only
    the launcher, which stops the ranks cleanly, instead of tearing mpiexec and Hydra's proxies
    apart), and SIGTERM when the launcher dies by any means, SIGKILL included (Linux)."""
    os.setsid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the launcher died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def process_start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (clock ticks since boot; '' without /proc): with the pid it
    names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


#: signals the launcher turns into a clean stop of the ranks (SIGTERM to mpiexec, which hands it on);
#: SIGUSR1 (Slurm's time-limit warning) is handed on as it is
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def spawn(n: int, rank_args: Sequence[str], *, launcher: str | None = None, traces: Sequence[Path] = (),
          timeout: float | None = None) -> int:
    """Run the ranks and wait; returns their exit code. Marks this launch's unfinished traces failed.

    The ranks run in a session of their own. The first Ctrl-C, SIGTERM or SIGHUP reaching the
    launcher stops them cleanly (they all stop at the same round, flush, checkpoint: exit 3); a
    second one kills them (exit 130, trace marked failed). If the launcher itself is killed,
    mpiexec gets SIGTERM from the kernel (parent-death signal) and the ranks stop as for SIGTERM;
    ranks on this host also watch the launcher's pid (hpcsketch.launch.watch_launcher).
    """
    cmd = launch_command(n, rank_args, launcher)
    token = os.urandom(8).hex()
    env = dict(os.environ)
    env["HPCSKETCH_LAUNCHED"] = "1"
    env["HPCSKETCH_LAUNCHER_NAME"] = "hpcsketch -n" if not launcher else f"hpcsketch --launcher {launcher}"
    env["HPCSKETCH_LAUNCH_TOKEN"] = token
    env["HPCSKETCH_LAUNCHER_PID"] = str(os.getpid())
    env["HPCSKETCH_LAUNCHER_START"] = process_start_time(os.getpid())
    env["HPCSKETCH_LAUNCHER_HOST"] = socket.gethostname()
    env.setdefault("OMP_NUM_THREADS", "1")
    if sys.stderr.isatty():
        env.setdefault("HPCSKETCH_TTY", "1")
    parent = os.getpid()
    try:
        # the ranks' output comes through the launcher, which owns the terminal: once that is gone
        # (SIGHUP) the output is dropped instead of failing mpiexec's writes
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: _own_session_with_parent_death_signal(parent))
    except FileNotFoundError as e:
        raise BadInput(f"cannot start {cmd[0]!r}: {e.strerror}", field="--launcher" if launcher else "-n") from None

    state = {"stops": 0, "aborted": False}

    def forward(signum: int, frame: object) -> None:
        if signum == signal.SIGUSR1:  # a time-limit warning: the ranks act on it themselves
            _send(proc, signal.SIGUSR1)
            return
        state["stops"] += 1
        if state["stops"] == 1:
            if signum == signal.SIGINT:
                _say("\nhpcsketch: stopping: the ranks finish this round, flush and checkpoint "
                     "(press Ctrl-C again to abort)")
            _send(proc, signal.SIGTERM)
        else:  # a second stop request: end the ranks now, every process of their session
            state["aborted"] = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                _send(proc, signal.SIGKILL)

    relays = [_relay(proc.stdout, 1), _relay(proc.stderr, 2)]

    from hpcsketch.signals import take_early

    # signal.signal, not signals.install: proc.wait() must be interrupted (EINTR) for
    # Python to run ``forward`` at all; a restarted waitpid would never return to it
    old = {s: signal.signal(s, forward) for s in (*_STOP_SIGNALS, signal.SIGUSR1)}

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
        for t in relays:
            t.join(timeout=5)  # a rank that outlives mpiexec may hold the pipe: do not wait for it
    if state["aborted"]:
        _mark_failed(traces, token, "aborted by a second interrupt before the ranks finished stopping; "
                     "rounds up to the last flush are kept")
        _say("hpcsketch: error: aborted; the trace is marked failed (rounds up to the last flush are kept)")
        return 130
    return _exit_code(rc, traces, token)


def _relay(pipe: Any, fd: int) -> threading.Thread:
    """Copy the ranks' output to this process's ``fd`` as it comes; drop it once ``fd`` fails."""

    def copy() -> None:
        ok = True
        while True:
            data = os.read(pipe.fileno(), 65536)
            if not data:
                break
            while ok and data:
                try:
                    data = data[os.write(fd, data):]
                except OSError:
                    ok = False
        pipe.close()

    t = threading.Thread(target=copy, name=f"hpcsketch-relay-{fd}", daemon=True)
    t.start()
    return t


def _say(line: str) -> None:
    """A line on stderr; a closed terminal (SIGHUP) must not turn a clean stop into a crash."""
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


def _send(proc: subprocess.Popen, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass


def _exit_code(rc: int, traces: Sequence[Path], token: str) -> int:
    """The run's exit code: the ranks' own 0 (completed or diverged), 1 (failure), 2 (bad input) or
    3 (interrupted); anything else (a rank killed by a signal: MPICH reports 9 or 137) is a failure, 1."""
    if rc in (0, 2, 3):
        if rc != 0:  # a refused run (2) created nothing of this launch; an interrupted one marked itself
            _mark_failed(traces, token, f"the ranks ended with exit code {rc} before the run finished")
        return rc
    how = f"exit code {rc}"
    if rc < 0 or rc > 128 or rc in (6, 9, 15):
        sig = -rc if rc < 0 else (rc - 128 if rc > 128 else rc)
        try:
            how += f" (signal {sig}, {signal.Signals(sig).name})"
        except ValueError:
            pass
    if rc != 1:
        _say(f"hpcsketch: error: a rank ended with {how} before the run finished (killed? out of memory?); "
             "the trace is marked failed")
    _mark_failed(traces, token, f"the ranks ended with {how} before the run finished "
                 "(a rank was killed or aborted); rounds up to the last flush are kept")
    return 1


def _mark_failed(traces: Sequence[Path], token: str, message: str) -> None:
    """Mark ``failed`` the traces this launch's ranks created or resumed (their ``launch_token`` is
    ours) and left ``running``; a file another run owns is never touched."""
    from hpcsketch.tracing.liveness import launch_token
    from hpcsketch.tracing.writer import mark_status

    for path in traces:
        if path.exists() and launch_token(path) == token:
            mark_status(path, "failed", message)


def watch_launcher(on_gone: Callable[[], None], period: float = 0.5) -> threading.Thread | None:
    """In a rank on the launcher's host: call ``on_gone`` once the ``hpcsketch run -n`` process that
    started this rank is gone (a second line of defence behind mpiexec's parent-death signal)."""
    try:
        pid = int(os.environ.get("HPCSKETCH_LAUNCHER_PID", "0"))
    except ValueError:
        return None
    if pid <= 0 or os.environ.get("HPCSKETCH_LAUNCHER_HOST") != socket.gethostname():
        return None
    start = os.environ.get("HPCSKETCH_LAUNCHER_START", "")

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not start or process_start_time(pid) in ("", start)

    def watch() -> None:
        while alive():
            time.sleep(period)
        on_gone()

    t = threading.Thread(target=watch, name="hpcsketch-launcher-watch", daemon=True)
    t.start()
    return t
