"""Reading traces back, refusing what this version cannot read, with one clear line."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hpcsketch.errors import BadInput
from hpcsketch.tracing.locking import open_waiting
from hpcsketch.tracing.schema import SCHEMA_VERSION


#: how long a read waits for a live run's flush (the writer holds the file's lock meanwhile)
READ_LOCK_WAIT_SECONDS = 10.0


def open_for_reading(path: str | os.PathLike[str]) -> h5py.File:
    """Open under HDF5's shared file lock, waiting out a flush in progress.

    A live run's writer holds the exclusive lock for the milliseconds a flush
    takes; reading without the lock could land in the middle of one and see
    half-written metadata (h5py errors, and a segfault inside HDF5 was seen
    here). The writer in turn waits out readers (``writer.open_for_append``).
    On file systems without locks (some NFS mounts) 'best-effort' reads without.
    """
    try:
        return open_waiting(path, "r", READ_LOCK_WAIT_SECONDS, locking="best-effort")
    except BlockingIOError:
        raise BadInput(f"is locked by its writer for more than {READ_LOCK_WAIT_SECONDS:g} s; try again",
                       source=str(path)) from None
    except (TypeError, ValueError):  # an h5py without the locking option: HDF5's default
        return h5py.File(path, "r")


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return [x.decode() if isinstance(x, bytes) else x for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass
class Trace:
    path: Path
    attrs: dict[str, Any]
    env: dict[str, Any]
    metrics: dict[str, np.ndarray]
    timing: dict[str, np.ndarray]
    summary: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    #: /hessian: dataset name -> rows (one per measurement; empty when none), and the group's attributes
    hessian: dict[str, np.ndarray] = field(default_factory=dict)
    hessian_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The recorded status; a 'running' trace whose writer is gone reads as 'failed'."""
        st = self.attrs.get("status", "")
        if st == "running" and self.writer_dead():
            return "failed"
        return st

    def writer_dead(self) -> bool:
        host, pid = self.attrs.get("writer_host"), self.attrs.get("writer_pid")
        if not host or not pid or host != socket.gethostname():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    @property
    def job_resolved(self) -> dict[str, Any]:
        return json.loads(self.attrs.get("job_resolved", "{}") or "{}")

    @property
    def sweep_point(self) -> dict[str, Any]:
        return json.loads(self.attrs.get("sweep_point", "{}") or "{}")

    def metric(self, name: str) -> np.ndarray:
        return self.metrics[name]


def read_trace(path: str | os.PathLike[str]) -> Trace:
    p = Path(path)
    if not p.exists():
        raise BadInput("no such file", source=str(p))
    try:
        if not h5py.is_hdf5(p):
            raise BadInput("is not an HDF5 file (truncated, corrupt, or not a trace)", source=str(p))
    except OSError as e:
        raise BadInput(f"cannot be read ({e.strerror or e})", source=str(p)) from None
    try:
        with open_for_reading(p) as f:
            attrs = {k: _s(v) for k, v in f.attrs.items()}
            if "schema_version" not in attrs:
                raise BadInput("is an HDF5 file but not an hpcsketch trace (no schema_version attribute)", source=str(p))
            version = int(attrs["schema_version"])
            if version > SCHEMA_VERSION:
                raise BadInput(
                    f"has trace schema version {version}, newer than this hpcsketch reads ({SCHEMA_VERSION}); "
                    "upgrade hpcsketch to read it",
                    source=str(p),
                )
            if version < 1:
                raise BadInput(f"has unknown trace schema version {version}; expected 1..{SCHEMA_VERSION}", source=str(p))
            env = {k: _s(v) for k, v in f["env"].attrs.items()} if "env" in f else {}
            metrics = {k: ds[()] for k, ds in f["trace"].items()} if "trace" in f else {}
            timing = {k: ds[()] for k, ds in f["timing"].items()} if "timing" in f else {}
            summary = {k: _s(v) for k, v in f["summary"].attrs.items()} if "summary" in f else {}
            hessian, hessian_attrs = _hessian_group(f)
            extra = {}
            for name in f.keys():
                if name not in ("env", "trace", "timing", "summary", "checkpoint", "hessian"):
                    extra[name] = name
    except BadInput:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as e:  # h5py's RuntimeError: damaged metadata
        raise BadInput(f"cannot be read as a trace (truncated or corrupt HDF5: {str(e).splitlines()[0]})", source=str(p)) from None
    # rows past the last flush of a metric that appeared late are NaN-filled by the writer
    return Trace(p, attrs, env, metrics, timing, summary, extra, hessian, hessian_attrs)


def _hessian_group(f: h5py.File) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    g = f.get("hessian")
    if g is None:
        return {}, {}
    return {k: ds[()] for k, ds in g.items()}, {k: _s(v) for k, v in g.attrs.items()}


def read_hessian(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The /hessian group of a trace or of a file ``hpcsketch hessian`` wrote (empty when absent)."""
    try:
        with open_for_reading(path) as f:
            return _hessian_group(f)
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise BadInput(f"cannot be read ({str(e).splitlines()[0]})", source=str(path)) from None


@dataclass
class Checkpoint:
    step: int
    world_size: int
    runner_state: dict[str, Any]
    state: dict[str, np.ndarray]  # this rank's algorithm state


def read_checkpoint(path: str | os.PathLike[str], rank: int, *, resuming: bool = True) -> Checkpoint:
    """One rank's checkpoint from a trace, refusing what cannot be resumed (``resuming``: for
    ``--resume``; otherwise any trace with a checkpoint, e.g. to measure its model)."""
    t = read_trace(path)  # schema and integrity checks first
    if resuming and t.status == "completed":
        raise BadInput("the run completed: there is nothing to resume", source=str(path))
    try:
        with open_for_reading(path) as f:
            if "checkpoint" not in f:
                raise BadInput(
                    f"has no checkpoint (status {t.status}); runs write one when stopped by a signal "
                    "and every [run] checkpoint_every rounds",
                    source=str(path),
                )
            g = f["checkpoint"]
            rg = g.get(f"rank{rank}")
            state = {k.replace("|", "/"): ds[()] for k, ds in rg.items()} if rg is not None else {}
            return Checkpoint(int(g.attrs["step"]), int(g.attrs["world_size"]), json.loads(_s(g.attrs["runner_state"])), state)
    except BadInput:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise BadInput(f"its checkpoint cannot be read ({str(e).splitlines()[0]})", source=str(path)) from None
