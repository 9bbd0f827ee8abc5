"""Checkpoint files: atomic, one at a time, verified before anything is loaded.

A checkpoint lives in a file of its own beside the trace, ``NAME.h5.ckpt-STEP``
(never ``*.h5``: globs for traces do not pick it up). It is written to a hidden
temporary file, fsynced and renamed into place, and only then does the trace
record it (root attributes ``checkpoint_step``, ``checkpoint_file``,
``checkpoint_sha256``: the SHA-256 of the whole file); the previous checkpoint
file is deleted after that. A kill at any instant therefore leaves the trace
naming either the previous checkpoint or the new one, whole; the trace itself
never holds checkpoint data, so its size does not grow with checkpoints.

Inside the file, every array carries the SHA-256 of its dtype, shape and bytes
(attribute ``sha256``) and the runner state (JSON) its own. ``read_verified``
checks the file's digest against the trace, then the run id, the step and every
checksum of what it loads, before returning anything: a corrupt, modified or
swapped checkpoint is refused with one line (BadInput, exit 2).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import numpy as np

from hpcsketch.errors import BadInput

#: the checkpoint file's own format marker and version (independent of the trace schema version)
FORMAT = "hpcsketch-checkpoint"
FORMAT_VERSION = 1

_CHUNK = 1 << 20


def checkpoint_name(trace: Path, step: int, current: str | None = None) -> str:
    """The file name of a checkpoint at ``step`` of ``trace``: never the one the trace names now
    (re-writing a step must not replace the file the trace still points to)."""
    name = f"{trace.name}.ckpt-{int(step)}"
    return name + ".1" if name == current else name


def is_checkpoint_of(trace: Path, name: str) -> bool:
    """Whether ``name`` (a file in the trace's directory) is a checkpoint file or a temporary one of ``trace``."""
    return name.startswith(f"{trace.name}.ckpt-") or (name.startswith(f".{trace.name}.ckpt-") and name.endswith(".tmp"))


def array_digest(a: Any) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    if a.size:
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: str | os.PathLike[str], *, fsync: bool = False) -> str:
    """SHA-256 of a file's bytes (``fsync``: and make them durable on the way)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(_CHUNK)
            if not block:
                break
            h.update(block)
        if fsync:
            os.fsync(f.fileno())
    return h.hexdigest()


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file(path: Path, *, run_id: str, trace_name: str, step: int, runner_state: Mapping[str, Any],
               states: Sequence[Mapping[str, Any]]) -> str:
    """Write a checkpoint file atomically (temporary file, fsync, rename); returns its SHA-256."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w", locking=False) as f:
            rs = json.dumps(runner_state)
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["run_id"] = run_id
            f.attrs["trace"] = trace_name
            f.attrs["step"] = int(step)
            f.attrs["world_size"] = len(states)
            f.attrs["written"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            f.attrs["runner_state"] = rs
            f.attrs["runner_state_sha256"] = text_digest(rs)
            for r, state in enumerate(states):
                g = f.create_group(f"rank{r}")
                for k, v in state.items():
                    a = np.asarray(v)
                    ds = g.create_dataset(k.replace("/", "|"), data=a)
                    ds.attrs["sha256"] = array_digest(a)
        digest = file_digest(tmp, fsync=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return digest


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_verified(trace: Path, attrs: Mapping[str, Any], rank: int) -> tuple[int, int, dict[str, Any], dict[str, np.ndarray]]:
    """(step, world size, runner state, rank ``rank``'s arrays) of the checkpoint the trace names,
    after checking the file's SHA-256 against the trace's record, the run id, the step and the
    checksum of the runner state and of every array returned. BadInput (one line) otherwise."""
    src = str(trace)
    name = str(_s(attrs.get("checkpoint_file", "")))
    if not name or Path(name).name != name or name in (".", ".."):
        raise BadInput(f"records a checkpoint file name that is not a plain file name ({name!r}); it cannot be resumed",
                       source=src)
    path = trace.parent / name
    if not path.is_file():
        raise BadInput(f"its checkpoint file {name} is missing (it must stay in the trace's directory); "
                       "it cannot be resumed", source=src)
    recorded = str(_s(attrs.get("checkpoint_sha256", "")))
    try:
        actual = file_digest(path)
    except OSError as e:
        raise BadInput(f"its checkpoint file {name} cannot be read ({e.strerror or e})", source=src) from None
    if actual != recorded:
        raise BadInput(f"its checkpoint file {name} does not match the SHA-256 the trace records (corrupt, "
                       "modified, or another run's checkpoint); refusing to resume from it", source=src)
    try:
        step = int(attrs.get("checkpoint_step", -1))
    except (TypeError, ValueError):
        raise BadInput("attribute checkpoint_step is not an integer; it cannot be resumed", source=src) from None
    try:
        with h5py.File(path, "r", locking=False) as f:
            fa = {k: _s(v) for k, v in f.attrs.items()}
            if fa.get("format") != FORMAT:
                raise BadInput(f"its checkpoint file {name} is not an hpcsketch checkpoint", source=src)
            if int(fa.get("format_version", 0)) > FORMAT_VERSION:
                raise BadInput(f"its checkpoint file {name} has format version {fa.get('format_version')}, newer than "
                               f"this hpcsketch reads ({FORMAT_VERSION}); upgrade hpcsketch", source=src)
            run_id = _s(attrs.get("run_id", ""))
            if run_id and fa.get("run_id") != run_id:
                raise BadInput(f"its checkpoint file {name} belongs to run {fa.get('run_id')!r}, not {run_id!r}; "
                               "refusing to resume from it", source=src)
            if int(fa.get("step", -2)) != step:
                raise BadInput(f"its checkpoint file {name} holds round {fa.get('step')}, the trace records {step}; "
                               "refusing to resume from it", source=src)
            rs = str(fa.get("runner_state", ""))
            if text_digest(rs) != fa.get("runner_state_sha256"):
                raise BadInput(f"the runner state in its checkpoint file {name} fails its checksum; "
                               "refusing to resume from it", source=src)
            world = int(fa.get("world_size", 0))
            missing = [r for r in range(world) if f"rank{r}" not in f]
            if world < 1 or missing:
                raise BadInput(f"its checkpoint file {name} lacks the state of rank(s) {missing or '(none)'}", source=src)
            state: dict[str, np.ndarray] = {}
            g = f.get(f"rank{rank}")
            for k, ds in (g.items() if g is not None else ()):
                a = ds[()]
                if array_digest(a) != _s(ds.attrs.get("sha256", "")):
                    raise BadInput(f"rank{rank}/{k} in its checkpoint file {name} fails its checksum (corrupt or "
                                   "modified); refusing to resume from it", source=src)
                state[k.replace("|", "/")] = np.asarray(a)
            return step, world, json.loads(rs), state
    except BadInput:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise BadInput(f"its checkpoint file {name} cannot be read ({str(e).splitlines()[0] if str(e) else type(e).__name__})",
                       source=src) from None
