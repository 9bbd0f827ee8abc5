"""Is a trace's writer still alive?

A trace records who writes it (``writer_host``, ``writer_pid``) and when it last
flushed (``heartbeat``). ``--resume`` and ``--force`` must never give a second
writer a file whose first writer is still running (an orphaned run whose
launcher was killed, a run in another terminal): two writers corrupt a trace.

On the writer's own host the answer is exact (the process exists and is an
hpcsketch process, which guards against a reused pid). From another host only
the heartbeat tells: a running trace that flushed within ``STALE_SECONDS`` is
taken as alive.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket
from pathlib import Path
from typing import Any

from hpcsketch.errors import BadInput

#: a running trace written on another host counts as alive while its heartbeat is younger than this
STALE_SECONDS = 600.0


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


def root_attrs(path: Path) -> dict[str, Any] | None:
    """The root attributes of an hpcsketch trace, or None when ``path`` is not one (read without locks)."""
    import h5py

    try:
        if not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r", locking=False) as f:
            if "schema_version" not in f.attrs:
                return None
            return {k: f.attrs[k] for k in ("status", "writer_host", "writer_pid", "heartbeat", "launch_token") if k in f.attrs}
    except (OSError, ValueError, RuntimeError, KeyError, TypeError):
        return None


def launch_token(path: str | os.PathLike[str]) -> str:
    """The ``launch_token`` of the launch whose ranks created or resumed the trace ('' if none)."""
    return _text((root_attrs(Path(path)) or {}).get("launch_token", ""))


def _pid_is_hpcsketch(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    except (OverflowError, ValueError):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: the pid exists, assume the worst
    return b"hpcsketch" in cmd


def live_writer(path: str | os.PathLike[str]) -> str | None:
    """A one-line description of the live process writing ``path``, or None if there is none."""
    attrs = root_attrs(Path(path))
    if not attrs or _text(attrs.get("status", "")) != "running":
        return None
    host = _text(attrs.get("writer_host", ""))
    try:
        pid = int(attrs.get("writer_pid", 0))
    except (TypeError, ValueError):
        pid = 0
    if host == socket.gethostname():
        if pid > 0 and pid != os.getpid() and _pid_is_hpcsketch(pid):
            return f"its run is still writing it (pid {pid} on this host)"
        return None
    try:
        beat = _dt.datetime.fromisoformat(_text(attrs.get("heartbeat", "")))
        age = (_dt.datetime.now(_dt.timezone.utc) - beat).total_seconds()
    except (TypeError, ValueError):
        return None
    if age < STALE_SECONDS:
        return (f"its run may still be writing it (pid {pid} on host {host!r}, last flush {age:.0f} s ago; "
                f"a trace counts as abandoned {STALE_SECONDS:.0f} s after its last flush)")
    return None


def refuse_live_writer(path: str | os.PathLike[str], action: str) -> None:
    """BadInput (one line, exit 2) when ``path`` exists and is not ours to ``action``: a live run's
    trace, or (for ``--force``) a file that is not an hpcsketch trace at all."""
    p = Path(path)
    if not p.exists():
        return
    if action.endswith("--force") and root_attrs(p) is None:
        raise BadInput("exists and is not an hpcsketch trace; --force replaces only traces: choose another --trace",
                       source=str(p))
    live = live_writer(p)
    if live:
        raise BadInput(f"{live}; refusing to {action or 'write it'}: stop that run first "
                       "(hpcsketch run -n stops its ranks when it is killed) or wait for it to end", source=str(p))
