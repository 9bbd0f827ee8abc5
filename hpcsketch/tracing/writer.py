"""Rank 0's HDF5 trace writer.

The file is opened, appended to and closed at every flush, so between flushes
it is a complete, consistent HDF5 file on disk: a crash, a kill or a Slurm time
limit loses at most the rows since the last flush, and other programs can read
a live run's trace. h5py wheels have no parallel HDF5, so only rank 0 writes.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import threading
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from hpcsketch.errors import BadInput
from hpcsketch.tracing.locking import open_waiting
from hpcsketch.tracing.schema import SCHEMA_VERSION, STATUSES, TIMING_PHASES


#: how long a flush waits for a reader that holds the file's lock before giving up
LOCK_WAIT_SECONDS = 30.0

#: free space kept on the trace's file system: HDF5 that runs out of space mid-write leaves its
#: metadata half-updated (rows already flushed become unreadable), so a flush that might not fit
#: is not started; what is left is enough to mark the trace failed
RESERVE_BYTES = 2 << 20


def free_bytes(path: str | os.PathLike[str]) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_space(path: Path, nbytes: int) -> None:
    """Raise BadInput (one line) unless ``nbytes`` more fit beside the reserve on ``path``'s file system."""
    try:
        free = free_bytes(path.parent)
    except OSError:
        return  # no statvfs here: the write itself will tell
    need = RESERVE_BYTES + 2 * nbytes  # HDF5 allocates whole chunks and rewrites metadata: room to spare
    if free < need:
        raise BadInput(f"the file system of {str(path)!r} is full ({free >> 10} KiB free, {need >> 10} KiB needed); "
                       "rounds up to the last flush are kept; free space or choose another --out", field="[run] out")


def open_for_append(path: str | os.PathLike[str], mode: str = "a") -> h5py.File:
    """Open for writing, waiting out a reader that holds HDF5's file lock at this moment.

    Readers of a live trace (``hpcsketch analyze``, a user's script) hold the file for
    milliseconds; a flush must not fail because of them.
    """
    return open_waiting(path, mode, LOCK_WAIT_SECONDS)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _attr(v: Any) -> Any:
    """HDF5 attributes take scalars, strings and arrays; anything else goes in as JSON."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, str, np.integer, np.floating)):
        return v
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, str) for x in v):
        return np.array(v, dtype=h5py.string_dtype())
    if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v) and v:
        return np.asarray(v)
    return json.dumps(v, default=str)


def prepare_out_dir(out: str | os.PathLike[str]) -> Path:
    """Create the output directory, or fail with one line saying why."""
    p = Path(out)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise BadInput(f"{str(p)!r} exists and is not a directory", field="[run] out") from None
    except PermissionError:
        raise BadInput(f"cannot create directory {str(p)!r} (permission denied); choose a writable --out", field="[run] out") from None
    except OSError as e:
        raise BadInput(f"cannot create directory {str(p)!r} ({e.strerror or e})", field="[run] out") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise BadInput(f"directory {str(p)!r} is not writable; choose a writable --out", field="[run] out")
    return p


class TraceWriter:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.rows = 0
        self.timing_rows = 0
        self.memory_rows = 0
        self.hessian_rows = 0
        self._lock = threading.Lock()  # the failure watchdog may write the status from another thread

    @classmethod
    def reopen(cls, path: str | os.PathLike[str], keep_through_step: int) -> "TraceWriter":
        """Continue an existing trace (``--resume``): rows after ``keep_through_step`` (recorded
        after the checkpoint, before the run died) are dropped, so the resumed trace equals an
        uninterrupted one."""
        w = cls(path)
        with w._lock, open_for_append(w.path, "a") as f:
            for group, rows_attr in (("trace", "rows"), ("timing", "timing_rows"), ("memory", "memory_rows"),
                                     ("hessian", "hessian_rows")):
                g = f.get(group)
                if g is None or "step" not in g:
                    continue
                keep = int(np.count_nonzero(g["step"][()] <= keep_through_step))
                for ds in g.values():
                    ds.resize((keep,) + ds.shape[1:])
                setattr(w, rows_attr, keep)
            f.attrs["status"] = "running"
            f.attrs["message"] = ""
            f.attrs["finished"] = ""
            f.attrs["rounds_done"] = int(keep_through_step)
            f.attrs["resumed"] = int(f.attrs.get("resumed", 0)) + 1
        return w

    # -- creation -----------------------------------------------------------------------
    def create(self, attrs: Mapping[str, Any], env: Mapping[str, Any], *, force: bool = False) -> None:
        """Create the file; never replaces an existing one unless ``force``."""
        mode = "w" if force else "w-"
        if not force and self.path.exists():
            raise BadInput(f"{str(self.path)!r} exists; traces are never overwritten (pass --force to replace it)", field="trace")
        check_space(self.path, 64 << 10)
        try:
            with self._lock, open_for_append(self.path, mode) as f:
                f.attrs["schema_version"] = SCHEMA_VERSION
                f.attrs["status"] = "running"
                f.attrs["message"] = ""
                f.attrs["started"] = now_iso()
                f.attrs["finished"] = ""
                f.attrs["heartbeat"] = f.attrs["started"]
                f.attrs["rounds_done"] = 0
                for k, v in attrs.items():
                    f.attrs[k] = _attr(v)
                g = f.create_group("env")
                for k, v in env.items():
                    g.attrs[k] = _attr(v)
                f.create_group("trace")
                f.create_group("timing")
                f.create_group("summary")
        except FileExistsError:
            raise BadInput(f"{str(self.path)!r} exists; traces are never overwritten (pass --force to replace it)", field="trace") from None
        except OSError as e:
            raise BadInput(f"cannot create {str(self.path)!r}: {_oserror_text(e)}", field="[run] out") from None

    # -- appending ----------------------------------------------------------------------
    def append(self, rows: list[Mapping[str, float]], timing: Mapping[str, np.ndarray] | None = None,
               timing_steps: np.ndarray | None = None, heartbeat_attrs: Mapping[str, Any] | None = None,
               memory: tuple[int, np.ndarray] | None = None) -> None:
        """Append metric rows (dicts keyed by metric), per-rank timing rows and a memory row
        (step, rss per rank), all in one open of the file: opening is most of a flush's cost."""
        width = len(rows[0]) if rows else 0
        ranks = next(iter(timing.values())).shape[1] if timing else 0
        # whole new chunks (1024 rows x 8 bytes per dataset) may be allocated by this append
        check_space(self.path, 8 * (len(rows) * width + len(timing_steps if timing_steps is not None else ()) * ranks
                                    * len(TIMING_PHASES)) + 8192 * (width + len(TIMING_PHASES) + 2))
        with self._lock, open_for_append(self.path, "a") as f:
            if rows:
                self._append_rows(f["trace"], rows)
            if timing and timing_steps is not None and len(timing_steps):
                self._append_timing(f["timing"], timing, timing_steps)
            if memory is not None:
                self._append_memory(f, *memory)
            f.attrs["heartbeat"] = now_iso()
            if rows:
                f.attrs["rounds_done"] = int(max(r["step"] for r in rows))
            for k, v in (heartbeat_attrs or {}).items():
                f.attrs[k] = _attr(v)

    def _append_rows(self, g: h5py.Group, rows: list[Mapping[str, float]]) -> None:
        n0, n = self.rows, len(rows)
        names = set().union(*(r.keys() for r in rows)) | set(g.keys())
        for name in sorted(names):
            if name == "step":
                col = np.array([r["step"] for r in rows], dtype=np.int64)
            else:
                col = np.array([r.get(name, np.nan) for r in rows], dtype=np.float64)
            if name not in g:
                dt = np.int64 if name == "step" else np.float64
                ds = g.create_dataset(name, shape=(n0,), maxshape=(None,), dtype=dt, chunks=(1024,),
                                      fillvalue=-1 if name == "step" else np.nan)
            else:
                ds = g[name]
            ds.resize((n0 + n,))
            ds[n0:] = col
        self.rows = n0 + n

    def _append_memory(self, f: h5py.File, step: int, rss_mb: np.ndarray) -> None:
        """Resident memory of every rank at a flush (one row per flush)."""
        g = f.require_group("memory")
        if "step" not in g:
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(256,))
            g.create_dataset("rss_mb", shape=(0, len(rss_mb)), maxshape=(None, len(rss_mb)), dtype=np.float64,
                             chunks=(256, len(rss_mb)))
        n = self.memory_rows
        g["step"].resize((n + 1,))
        g["step"][n] = step
        g["rss_mb"].resize((n + 1, len(rss_mb)))
        g["rss_mb"][n] = rss_mb
        self.memory_rows = n + 1

    def append_hessian(self, row: Mapping[str, Any], attrs: Mapping[str, Any] | None = None) -> None:
        """One Hessian measurement into /hessian: every value (a scalar or an array) becomes a row
        of the dataset of its name; ``attrs`` (the settings) go on the group."""
        append_hessian_row(self.path, row, attrs, self.hessian_rows, lock=self._lock)
        self.hessian_rows += 1

    def write_checkpoint(self, step: int, runner_state: Mapping[str, Any], states: list[Mapping[str, np.ndarray]]) -> None:
        """Replace /checkpoint with every rank's algorithm state and the runner's totals at ``step``."""
        check_space(self.path, sum(int(np.asarray(v).nbytes) for s in states for v in s.values()))
        with self._lock, open_for_append(self.path, "a") as f:
            if "checkpoint" in f:
                del f["checkpoint"]
            g = f.create_group("checkpoint")
            g.attrs["step"] = int(step)
            g.attrs["world_size"] = len(states)
            g.attrs["runner_state"] = json.dumps(runner_state)
            g.attrs["written"] = now_iso()
            for r, state in enumerate(states):
                rg = g.create_group(f"rank{r}")
                for k, v in state.items():
                    rg.create_dataset(k.replace("/", "|"), data=v)
            f.attrs["checkpoint_step"] = int(step)

    def _append_timing(self, g: h5py.Group, timing: Mapping[str, np.ndarray], steps: np.ndarray) -> None:
        n0, n = self.timing_rows, len(steps)
        width = next(iter(timing.values())).shape[1]
        if "step" not in g:
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
        g["step"].resize((n0 + n,))
        g["step"][n0:] = steps
        for phase in TIMING_PHASES:
            arr = timing.get(phase)
            if arr is None:
                arr = np.zeros((n, width))
            if phase not in g:
                g.create_dataset(phase, shape=(0, width), maxshape=(None, width), dtype=np.float64,
                                 chunks=(max(1, min(1024, 65536 // max(width, 1))), width))
            ds = g[phase]
            ds.resize((n0 + n, width))
            ds[n0:] = arr
        self.timing_rows = n0 + n

    # -- the end ----------------------------------------------------------------------------
    def finish(self, status: str, message: str = "", summary: Mapping[str, Any] | None = None,
               extra_attrs: Mapping[str, Any] | None = None) -> None:
        assert status in STATUSES, status
        with self._lock, open_for_append(self.path, "a") as f:
            f.attrs["status"] = status
            f.attrs["message"] = message
            f.attrs["finished"] = now_iso() if status != "running" else ""
            f.attrs["heartbeat"] = now_iso()
            for k, v in (extra_attrs or {}).items():
                f.attrs[k] = _attr(v)
            if summary:
                g = f.require_group("summary")
                for k, v in summary.items():
                    g.attrs[k] = _attr(v)


def append_hessian_row(path: str | os.PathLike[str], row: Mapping[str, Any], attrs: Mapping[str, Any] | None,
                       index: int, *, lock: threading.Lock | None = None) -> None:
    """Write ``row`` as row ``index`` of the /hessian group of the HDF5 file at ``path`` (created
    when absent): a trace, or the file ``hpcsketch hessian`` writes."""
    with lock or threading.Lock(), open_for_append(path, "a") as f:
        g = f.require_group("hessian")
        for k, v in (attrs or {}).items():
            g.attrs[k] = _attr(v)
        for name, value in row.items():
            a = np.asarray(value)
            dt = np.int64 if name in ("step", "hvps") else np.float64
            if name not in g:
                g.create_dataset(name, shape=(0, *a.shape), maxshape=(None, *a.shape), dtype=dt,
                                 chunks=(16, *a.shape))
            ds = g[name]
            if ds.shape[1:] != a.shape:
                raise ValueError(f"/hessian/{name} holds rows of shape {ds.shape[1:]}, not {a.shape}")
            ds.resize((index + 1, *a.shape))
            ds[index] = a


def mark_status(path: str | os.PathLike[str], status: str, message: str, *, only_if_running: bool = True) -> bool:
    """Set a trace's status from outside the run (the launcher, after a rank died).

    Returns True when the file was changed.
    """
    try:
        with open_for_append(path, "a") as f:
            current = f.attrs.get("status", "")
            if isinstance(current, bytes):
                current = current.decode()
            if only_if_running and current != "running":
                return False
            f.attrs["status"] = status
            f.attrs["message"] = message
            f.attrs["finished"] = now_iso()
            return True
    except (OSError, KeyError):
        return False


def _oserror_text(e: OSError) -> str:
    if getattr(e, "errno", None) == errno.ENOSPC:
        return "no space left on the device"
    if getattr(e, "errno", None) == errno.EACCES:
        return "permission denied"
    text = str(e)
    if "errno = 28" in text or "No space" in text:
        return "no space left on the device"
    if "errno = 13" in text or "Permission denied" in text:
        return "permission denied"
    return e.strerror or text.splitlines()[0]
