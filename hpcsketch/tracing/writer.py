"""Rank 0's HDF5 trace writer: a private working copy, published whole by rename.

Rank 0 never opens the trace itself for writing. It keeps a private working copy
beside it (``.NAME.h5.wip``, which no reader opens), and every flush, checkpoint
record and finish modifies the working copy and then publishes it: copy to a
temporary file in the same directory, fsync, ``os.replace`` onto the trace, fsync
the directory. So:

- a reader (``hpcsketch analyze``, ``read_trace``, a notebook holding
  ``h5py.File(trace, "r")`` for an hour, scripts polling in loops) opens a
  complete file that nobody writes: it never sees half a flush, and it holds a
  file the writer no longer uses: it can neither block, delay nor fail a flush,
  nor stop the checkpoint a signal asks for (the writer takes no lock on the
  trace, and waits for nobody);
- a crash, a kill or a Slurm time limit loses at most the rounds since the last
  flush; the trace on disk is always the last whole flush.

The finish renames the working copy onto the trace (no copy). ``reopen``
(``--resume``) rebuilds the working copy from the trace, so one left by a dead run
is simply overwritten. Out-of-run edits (``mark_status`` from the launcher,
``append_hessian_row`` on a file) also copy, modify and replace, never in place.
Checkpoints are files of their own (``hpcsketch.tracing.checkpoint``).

h5py wheels have no parallel HDF5, so only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import h5py
import numpy as np

from hpcsketch.errors import BadInput
from hpcsketch.tracing import checkpoint as _ckpt
from hpcsketch.tracing.checkpoint import fsync_dir
from hpcsketch.tracing.schema import SCHEMA_VERSION, STATUSES, TIMING_PHASES


#: free space kept on the trace's file system: a flush that might not fit is not started (HDF5 out of
#: space mid-write leaves a file's metadata half-updated); what is left is enough to mark the trace failed
RESERVE_BYTES = 2 << 20


def free_bytes(path: str | os.PathLike[str]) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_space(path: Path, nbytes: int, copy_bytes: int = 0) -> None:
    """Raise BadInput (one line) unless ``nbytes`` more, plus a temporary copy of ``copy_bytes``
    (publishing copies the working copy), fit beside the reserve on ``path``'s file system."""
    try:
        free = free_bytes(path.parent)
    except OSError:
        return  # no statvfs here: the write itself will tell
    # HDF5 allocates whole chunks and rewrites metadata: room to spare
    need = RESERVE_BYTES + 2 * nbytes + copy_bytes
    if free < need:
        raise BadInput(f"the file system of {str(path)!r} is full ({free >> 10} KiB free, {need >> 10} KiB needed); "
                       "rounds up to the last flush are kept; free space or choose another --out", field="[run] out")


def work_path(path: str | os.PathLike[str]) -> Path:
    """The writer's private working copy of the trace at ``path`` (hidden, in the same directory)."""
    p = Path(path)
    return p.with_name(f".{p.name}.wip")


def _temp_path(path: Path, what: str) -> Path:
    # hidden, and not ending in .h5: directory globs for traces never see it
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident() % 100000}.{what}.tmp")


def _is_temp_of(path: Path, name: str) -> bool:
    return name.startswith(f".{path.name}.") and name.endswith(".tmp") and not name.startswith(f".{path.name}.ckpt-")


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def _fsync_file(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_with(source: Path, path: Path, what: str, *, exclusive: bool = False) -> None:
    """Publish a copy of ``source`` as ``path`` atomically: copy to a temporary file beside it,
    fsync, rename (``exclusive``: link, failing with FileExistsError if ``path`` exists)."""
    tmp = _temp_path(path, what)
    try:
        shutil.copyfile(source, tmp)  # sendfile / copy_file_range: in the kernel
        _fsync_file(tmp)
        _rename_into_place(tmp, path, exclusive=exclusive)
    finally:
        _unlink(tmp)
    fsync_dir(path.parent)


def _rename_into_place(tmp: Path, path: Path, *, exclusive: bool) -> None:
    if not exclusive:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic "create if absent": never replaces a trace that appeared meanwhile
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if path.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
        os.replace(tmp, path)


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


def _set_attr(obj: h5py.Group | h5py.Dataset, key: str, value: Any) -> None:
    """``obj.attrs[key] = value``, modifying an existing attribute of the same kind in place.

    Re-creating a variable-length string attribute (what ``attrs[key] = str`` does) leaves its old
    value in a 4 KiB global heap collection that HDF5 never reuses once the file is closed: the
    heartbeat alone grew a trace by 4 KiB per flush. Modifying it in place does not."""
    v = _attr(value)
    if key in obj.attrs:
        aid = obj.attrs.get_id(key)
        dt = aid.dtype
        if aid.shape == ():
            info = h5py.check_string_dtype(dt)
            if isinstance(v, str) and info is not None and info.length is None:
                obj.attrs.modify(key, v)
                return
            if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and dt.kind == "i":
                obj.attrs.modify(key, v)
                return
            if isinstance(v, (float, np.floating)) and dt.kind == "f":
                obj.attrs.modify(key, v)
                return
    obj.attrs[key] = v


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
        self.work = work_path(self.path)
        self.rows = 0
        self.timing_rows = 0
        self.memory_rows = 0
        self.hessian_rows = 0
        self._work_ready = False  # the working copy holds what the trace holds (else: rebuild it)
        self._checkpoint_file: str | None = None
        self._lock = threading.Lock()  # the failure watchdog may write the status from another thread

    # -- the working copy -----------------------------------------------------------------
    def _ensure_work(self) -> None:
        if not self._work_ready:
            shutil.copyfile(self.path, self.work)  # overwrites a stale one a dead run left
            self._work_ready = True

    @contextlib.contextmanager
    def _editing(self, *, final: bool = False, locked: bool = False) -> Iterator[h5py.File]:
        """Modify the working copy, then publish it (``final``: rename it onto the trace)."""
        with contextlib.nullcontext() if locked else self._lock:
            counters = (self.rows, self.timing_rows, self.memory_rows, self.hessian_rows)
            try:
                self._ensure_work()
                with h5py.File(self.work, "a", locking=False) as f:
                    yield f
                if final:
                    _fsync_file(self.work)
                    os.replace(self.work, self.path)
                    self._work_ready = False
                    fsync_dir(self.path.parent)
                else:
                    _replace_with(self.work, self.path, "pub")
            except BaseException as e:
                # the working copy may be half-written: the next edit rebuilds it from the trace
                self._work_ready = False
                self.rows, self.timing_rows, self.memory_rows, self.hessian_rows = counters
                if isinstance(e, OSError) and _no_space(e):
                    raise BadInput(f"cannot write {str(self.path)!r}: no space left on the device; rounds up to the "
                                   "last flush are kept; free space or choose another --out", field="[run] out") from None
                raise

    def _copy_bytes(self) -> int:
        try:
            return (self.work if self._work_ready else self.path).stat().st_size
        except OSError:
            return 0

    @classmethod
    def reopen(cls, path: str | os.PathLike[str], keep_through_step: int) -> "TraceWriter":
        """Continue an existing trace (``--resume``): rows after ``keep_through_step`` (recorded
        after the checkpoint, before the run died) are dropped, so the resumed trace equals an
        uninterrupted one. The working copy is rebuilt from the trace (a dead run's is overwritten)."""
        w = cls(path)
        w._remove_stale_temps()
        with w._editing() as f:
            for group, rows_attr in (("trace", "rows"), ("timing", "timing_rows"), ("memory", "memory_rows"),
                                     ("hessian", "hessian_rows")):
                g = f.get(group)
                if g is None or "step" not in g:
                    continue
                keep = int(np.count_nonzero(g["step"][()] <= keep_through_step))
                for ds in g.values():
                    ds.resize((keep,) + ds.shape[1:])
                setattr(w, rows_attr, keep)
            _set_attr(f, "status", "running")
            _set_attr(f, "message", "")
            _set_attr(f, "finished", "")
            _set_attr(f, "rounds_done", int(keep_through_step))
            _set_attr(f, "resumed", int(f.attrs.get("resumed", 0)) + 1)
            ck = f.attrs.get("checkpoint_file")
            w._checkpoint_file = (ck.decode() if isinstance(ck, bytes) else str(ck)) if ck else None
        # checkpoint files the trace does not name: a dead writer's, written or not yet deleted
        w._remove_checkpoint_files(keep=w._checkpoint_file)
        return w

    def _remove_stale_temps(self) -> None:
        """Temporary files a dead writer of this trace left (this writer is now the only one)."""
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        for n in names:
            if _is_temp_of(self.path, n):
                _unlink(self.path.parent / n)

    # -- creation -----------------------------------------------------------------------
    def create(self, attrs: Mapping[str, Any], env: Mapping[str, Any], *, force: bool = False) -> None:
        """Create the trace (built aside, then published whole); never replaces an existing one unless ``force``."""
        if not force and self.path.exists():
            raise BadInput(f"{str(self.path)!r} exists; traces are never overwritten (pass --force to replace it)", field="trace")
        check_space(self.path, 64 << 10)
        tmp = _temp_path(self.path, "new")
        try:
            with self._lock:
                with h5py.File(tmp, "w", locking=False) as f:
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
                _fsync_file(tmp)
                _rename_into_place(tmp, self.path, exclusive=not force)
                fsync_dir(self.path.parent)
                self._work_ready = False
        except FileExistsError:
            raise BadInput(f"{str(self.path)!r} exists; traces are never overwritten (pass --force to replace it)", field="trace") from None
        except OSError as e:
            raise BadInput(f"cannot create {str(self.path)!r}: {_oserror_text(e)}", field="[run] out") from None
        finally:
            _unlink(tmp)
        # a replaced trace's checkpoint files, a dead writer's working copy: not this run's
        self._remove_checkpoint_files(keep=None)
        self._remove_stale_temps()
        _unlink(self.work)

    def set_attrs(self, group: str | None, attrs: Mapping[str, Any]) -> None:
        """Set attributes of the root (``group`` None) or of a group (e.g. "env") and publish."""
        with self._editing() as f:
            g = f if not group else f.require_group(group)
            for k, v in attrs.items():
                _set_attr(g, k, v)

    # -- appending ----------------------------------------------------------------------
    def append(self, rows: list[Mapping[str, float]], timing: Mapping[str, np.ndarray] | None = None,
               timing_steps: np.ndarray | None = None, heartbeat_attrs: Mapping[str, Any] | None = None,
               memory: tuple[int, np.ndarray] | None = None) -> None:
        """Append metric rows (dicts keyed by metric), per-rank timing rows and a memory row
        (step, rss per rank), all in one edit of the working copy, then publish."""
        width = len(rows[0]) if rows else 0
        ranks = next(iter(timing.values())).shape[1] if timing else 0
        # whole new chunks (1024 rows x 8 bytes per dataset) may be allocated by this append;
        # publishing needs room for a second copy of the trace
        check_space(self.path, 8 * (len(rows) * width + len(timing_steps if timing_steps is not None else ()) * ranks
                                    * len(TIMING_PHASES)) + 8192 * (width + len(TIMING_PHASES) + 2),
                    copy_bytes=self._copy_bytes())
        with self._editing() as f:
            if rows:
                self._append_rows(f["trace"], rows)
            if timing and timing_steps is not None and len(timing_steps):
                self._append_timing(f["timing"], timing, timing_steps)
            if memory is not None:
                self._append_memory(f, *memory)
            _set_attr(f, "heartbeat", now_iso())
            if rows:
                _set_attr(f, "rounds_done", int(max(r["step"] for r in rows)))
            for k, v in (heartbeat_attrs or {}).items():
                _set_attr(f, k, v)

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
        with self._editing() as f:
            _hessian_row(f, row, attrs, self.hessian_rows)
            self.hessian_rows += 1

    # -- checkpoints ----------------------------------------------------------------------
    def write_checkpoint(self, step: int, runner_state: Mapping[str, Any], states: list[Mapping[str, np.ndarray]]) -> None:
        """Every rank's algorithm state and the runner's totals at ``step`` go to a new checkpoint
        file (temporary file, fsync, rename); then the trace records it (step, file name, SHA-256)
        and is published; then the previous checkpoint file is deleted. A kill at any instant
        leaves the trace naming a whole checkpoint, the previous or the new one."""
        nbytes = sum(int(np.asarray(v).nbytes) for s in states for v in s.values())
        with self._lock:
            check_space(self.path, nbytes + (64 << 10), copy_bytes=self._copy_bytes())
            name = _ckpt.checkpoint_name(self.path, step, self._checkpoint_file)
            with self._editing(locked=True) as f:
                run_id = f.attrs.get("run_id", "")
                digest = _ckpt.write_file(self.path.with_name(name), run_id=run_id.decode() if isinstance(run_id, bytes) else str(run_id),
                                          trace_name=self.path.name, step=step, runner_state=runner_state, states=states)
                if "checkpoint" in f:  # schema 1 kept it inside the trace: this run now writes files
                    del f["checkpoint"]
                _set_attr(f, "schema_version", max(int(f.attrs.get("schema_version", SCHEMA_VERSION)), SCHEMA_VERSION))
                _set_attr(f, "checkpoint_step", int(step))
                _set_attr(f, "checkpoint_file", name)
                _set_attr(f, "checkpoint_sha256", digest)
            self._checkpoint_file = name
            self._remove_checkpoint_files(keep=name)

    def _remove_checkpoint_files(self, keep: str | None) -> None:
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        for n in names:
            if n != keep and _ckpt.is_checkpoint_of(self.path, n):
                _unlink(self.path.parent / n)

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
        """Record the final status and summary; the working copy becomes the trace (renamed, not copied)."""
        assert status in STATUSES, status

        def edit(f: h5py.File) -> None:
            _set_attr(f, "status", status)
            _set_attr(f, "message", message)
            _set_attr(f, "finished", now_iso() if status != "running" else "")
            _set_attr(f, "heartbeat", now_iso())
            for k, v in (extra_attrs or {}).items():
                _set_attr(f, k, v)
            if summary:
                g = f.require_group("summary")
                for k, v in summary.items():
                    _set_attr(g, k, v)

        try:
            with self._editing(final=True) as f:
                edit(f)
        except (OSError, RuntimeError, KeyError, ValueError):
            # a working copy broken by the failure being recorded (a full disk mid-write): start
            # again from the trace, which holds the last whole flush
            with self._editing(final=True) as f:
                edit(f)


def _hessian_row(f: h5py.File, row: Mapping[str, Any], attrs: Mapping[str, Any] | None, index: int) -> None:
    g = f.require_group("hessian")
    for k, v in (attrs or {}).items():
        _set_attr(g, k, v)
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


def edit_file(path: str | os.PathLike[str], edit: Callable[[h5py.File], bool | None], *, create: bool = False) -> bool:
    """Edit the HDF5 file at ``path`` out of a run: copy it aside, ``edit`` the copy, fsync, rename
    it onto ``path`` (``create``: start from an empty file when there is none). Never in place: a
    reader holding the file keeps what it opened, and a kill leaves the old file or the new one.
    ``edit`` returning False leaves the file as it was. Returns whether the file was replaced."""
    p = Path(path)
    tmp = _temp_path(p, "edit")
    try:
        if p.exists() or not create:
            shutil.copyfile(p, tmp)
            mode = "a"
        else:
            mode = "w"
        with h5py.File(tmp, mode, locking=False) as f:
            changed = edit(f)
        if changed is False:
            return False
        _fsync_file(tmp)
        os.replace(tmp, p)
    finally:
        _unlink(tmp)
    fsync_dir(p.parent)
    return True


def append_hessian_row(path: str | os.PathLike[str], row: Mapping[str, Any], attrs: Mapping[str, Any] | None,
                       index: int, *, lock: threading.Lock | None = None) -> None:
    """Write ``row`` as row ``index`` of the /hessian group of the HDF5 file at ``path`` (created
    when absent): the file ``hpcsketch hessian`` writes, or a trace no run is writing (a live
    run's goes through its TraceWriter)."""
    with lock or contextlib.nullcontext():
        edit_file(path, lambda f: _hessian_row(f, row, attrs, index), create=True)


def mark_status(path: str | os.PathLike[str], status: str, message: str, *, only_if_running: bool = True) -> bool:
    """Set a trace's status from outside the run (the launcher, after a rank died): copy, edit,
    replace. A working copy left by the dead writer is removed. Returns True when the trace changed."""
    p = Path(path)
    state: dict[str, Any] = {}

    def edit(f: h5py.File) -> bool:
        current = f.attrs.get("status", "")
        if isinstance(current, bytes):
            current = current.decode()
        state["host"], state["pid"] = f.attrs.get("writer_host", ""), f.attrs.get("writer_pid", 0)
        if only_if_running and current != "running":
            return False
        _set_attr(f, "status", status)
        _set_attr(f, "message", message)
        _set_attr(f, "finished", now_iso())
        return True

    try:
        changed = edit_file(p, edit)
    except (OSError, KeyError, RuntimeError, ValueError):
        return False
    host = state.get("host", "")
    if _writer_gone(host.decode() if isinstance(host, bytes) else str(host), state.get("pid", 0)):
        # what the dead writer left: its working copy and temporary files (not its checkpoint files)
        _unlink(work_path(p))
        try:
            names = os.listdir(p.parent)
        except OSError:
            names = []
        for n in names:
            if _is_temp_of(p, n) or (n.startswith(f".{p.name}.ckpt-") and n.endswith(".tmp")):
                _unlink(p.parent / n)
    return changed


def _writer_gone(host: str, pid: Any) -> bool:
    """The trace's writer is a process of this host that no longer exists."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0 or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _no_space(e: OSError) -> bool:
    return getattr(e, "errno", None) == errno.ENOSPC or "errno = 28" in str(e) or "No space" in str(e)


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
