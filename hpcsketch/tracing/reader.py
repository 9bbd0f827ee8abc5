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
from hpcsketch.tracing.schema import SCHEMA_VERSION, STATUSES


#: how long a read waits for a process that edits a trace in place (see open_for_reading)
READ_LOCK_WAIT_SECONDS = 10.0


def open_for_reading(path: str | os.PathLike[str]) -> h5py.File:
    """Open a trace for reading, under HDF5's shared file lock where the file system has locks.

    hpcsketch's writer never opens the trace it publishes: it edits a private working copy and
    replaces the trace with a whole new file at every flush (``tracing.writer``). A reader,
    however long it keeps the file open, holds the file it opened, complete, and never delays
    or fails the writer. The shared lock is kept only for files edited in place by something
    else (a run of hpcsketch before schema 2, a user's ``h5py.File(trace, "a")``): the read
    waits out such an edit for up to READ_LOCK_WAIT_SECONDS instead of seeing half of it.
    """
    try:
        return open_waiting(path, "r", READ_LOCK_WAIT_SECONDS, locking="best-effort")
    except BlockingIOError:
        raise BadInput(f"is locked for writing by another program for more than {READ_LOCK_WAIT_SECONDS:g} s; "
                       "try again", source=str(path)) from None
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


# ---------------------------------------------------------------- what a trace may hold
#
# A trace is read only after every object it is read from has been checked: hard links only (a soft
# link may dangle or point anywhere in the file, an external link into any file on the machine),
# groups where groups belong, datasets of the right rank and a numeric type, and sizes bounded
# before anything is allocated. A damaged or hand-edited header can declare a dataset of 10^12
# elements (a chunked dataset whose chunks were never written reads as its fill value, so the file
# stays small): a dataset may not hold more bytes than the file has on disk (plus SLACK_BYTES);
# a compressed one not more than MAX_INFLATION times the bytes it occupies.

#: a dataset or attribute may hold this many bytes more than the file has (small chunked datasets
#: whose chunks are not written yet read as their fill value)
SLACK_BYTES = 1 << 20
#: a compressed dataset may hold at most this many times the bytes it occupies in the file (and one
#: of its chunks at most this many times the file's size: a chunk is inflated whole)
MAX_INFLATION = 1024
#: all the arrays and attributes of one trace together: at most this many times the file's size, plus
#: the slack (a trace holds each of its numbers once; a metric that appeared late is fill up to then)
TOTAL_FACTOR = 4
#: members of one group or attributes of one object: far more than a trace has (about 40)
MAX_MEMBERS = 10_000
#: process ids are positive 32-bit integers
MAX_PID = 2**31 - 1

#: root attributes and what they must be; others (a later schema's, a user's) are read as they are
INT_ATTRS = ("schema_version", "rounds_planned", "rounds_done", "dim", "world_size", "clients", "seed",
             "writer_pid", "checkpoint_step", "resumed", "topology_period", "topology_min_degree",
             "topology_max_degree")
#: integer attributes that may be negative
SIGNED_INT_ATTRS = ("seed",)
TEXT_ATTRS = ("run_id", "status", "message", "started", "finished", "heartbeat", "job", "job_source", "name",
              "algorithm", "compressor", "problem", "model", "hpcsketch_version", "git_commit", "writer_host",
              "topology", "topology_weights", "launch_token", "checkpoint_file", "checkpoint_sha256")
JSON_ATTRS: dict[str, type] = {"job_resolved": dict, "sweep_point": dict, "sweep_point_keys": dict,
                               "job_overrides": list}
NUMBER_ATTRS = ("spectral_gap",)
#: /hessian datasets with one value per measurement, and those with one row per measurement
HESSIAN_1D = ("step", "lambda_max", "lambda_min", "trace_norm", "trace_norm_stderr", "kappa", "hvps", "seconds")
HESSIAN_2D = ("eigenvalues", "residuals", "grid", "density")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class _Checked:
    """Reads one open trace, refusing what it must not read with a BadInput that names the file."""

    def __init__(self, path: Path, f: h5py.File, file_size: int):
        self.path, self.f, self.size = path, f, file_size
        self.left = TOTAL_FACTOR * file_size + SLACK_BYTES  # bytes every read of this trace may still take

    def bad(self, what: str) -> BadInput:
        return BadInput(_printable(what), source=_printable(str(self.path)))

    # -- links and objects -----------------------------------------------------------------------
    def member(self, group: h5py.Group, name: str, where: str, kind: type) -> Any:
        """``group[name]`` when it is a hard link to a ``kind`` (h5py.Group or h5py.Dataset); None when absent."""
        try:
            link = group.get(name, getlink=True)
        except (KeyError, TypeError):  # a link class h5py does not know (user-defined links)
            raise self.bad(f"{where} is a link of an unknown kind; a trace holds its data itself") from None
        if link is None:
            return None
        if isinstance(link, h5py.SoftLink):
            raise self.bad(f"{where} is a soft link to {link.path!r}; links are not followed: a trace holds "
                           "its data itself (copy the data in, e.g. with h5copy)")
        if isinstance(link, h5py.ExternalLink):
            raise self.bad(f"{where} is an external link to {link.filename}:{link.path}; links are not "
                           "followed: a trace holds its data itself (copy the data in, e.g. with h5copy)")
        obj = group[name]
        if not isinstance(obj, kind):
            got = "a group" if isinstance(obj, h5py.Group) else "a dataset" if isinstance(obj, h5py.Dataset) else "a named type"
            want = "a group" if kind is h5py.Group else "a dataset"
            raise self.bad(f"{where} is {got}; expected {want}")
        return obj

    def names(self, group: h5py.Group, where: str) -> list[str]:
        n = len(group)
        if n > MAX_MEMBERS:
            raise self.bad(f"{where} has {n} members; a trace's groups hold at most {MAX_MEMBERS}")
        names = list(group.keys())
        for name in names:
            if not _utf8(name):
                raise self.bad(f"{where} has a member whose name is not UTF-8 ({name!r}); the file is damaged")
        return names

    # -- sizes -----------------------------------------------------------------------------------
    def charge(self, nbytes: int, where: str) -> None:
        if nbytes > self.left:
            raise self.bad(f"{where}: the trace's arrays and attributes together would take more than "
                           f"{TOTAL_FACTOR} x the file's {self.size} bytes; the file is damaged")
        self.left -= nbytes

    def dataset(self, ds: h5py.Dataset, where: str, ndim: int | tuple[int, ...], kinds: str,
                read: bool = True) -> np.ndarray | None:
        """The dataset's data, after its rank, type and size are checked (``read=False``: checked only)."""
        shape = ds.shape
        ndims = (ndim,) if isinstance(ndim, int) else ndim
        rank_words = " or ".join(f"{d}-D" for d in ndims)
        if shape is None:
            raise self.bad(f"{where} is an empty (null) dataset; expected a {rank_words} array")
        if len(shape) not in ndims:
            raise self.bad(f"{where} is {len(shape)}-D with shape {shape}; expected a {rank_words} array")
        dt = ds.dtype
        if dt.kind not in kinds or dt.fields is not None or dt.subdtype is not None:
            want = "an integer" if kinds == "iu" else "a numeric (integer or float)"
            raise self.bad(f"{where} has type {dt}; expected {want} dataset")
        n = 1
        for s in shape:
            n *= int(s)
        nbytes = n * dt.itemsize
        chunks = ds.chunks
        stored = None
        filtered = bool(ds.id.get_create_plist().get_nfilters())
        if filtered:
            stored = int(ds.id.get_storage_size())
            limit = MAX_INFLATION * stored + SLACK_BYTES
            chunk_limit = MAX_INFLATION * self.size + SLACK_BYTES
        else:
            limit = chunk_limit = self.size + SLACK_BYTES
        if nbytes > limit:
            on_disk = f"{stored} bytes compressed in" if filtered else "in"
            raise self.bad(f"{where} declares {n} elements ({nbytes} bytes) {on_disk} a file of {self.size} "
                           "bytes; the header is damaged or edited (a dataset holds at most what the file does)")
        if chunks is not None:
            c = dt.itemsize
            for s in chunks:
                c *= int(s)
            if c > chunk_limit:
                raise self.bad(f"{where} has chunks of {c} bytes in a file of {self.size} bytes; "
                               "the header is damaged or edited")
        if not read:
            return None
        self.charge(nbytes, where)
        data = ds[()]
        if not isinstance(data, np.ndarray) or data.shape != shape:
            raise self.bad(f"{where} did not read as its declared shape {shape}")
        return data

    def attrs(self, obj: Any, where: str) -> dict[str, Any]:
        """Every attribute of ``obj``, each checked for size before it is read."""
        am = obj.attrs
        n = len(am)
        if n > MAX_MEMBERS:
            raise self.bad(f"{where} has {n} attributes; a trace's objects have at most {MAX_MEMBERS}")
        out = {}
        for name in am.keys():
            aid = am.get_id(name)
            shape = aid.shape
            count = 1
            for s in shape or ():
                count *= int(s)
            nbytes = count * max(aid.dtype.itemsize, 1)
            label = f"{where.rstrip('/')}/@{name}" if where != "/" else f"attribute {name}"
            if nbytes > self.size + SLACK_BYTES:
                raise self.bad(f"{label} declares {count} values ({nbytes} bytes) in a file of {self.size} "
                               "bytes; the file is damaged")
            self.charge(nbytes, label)
            if not _utf8(name):
                raise self.bad(f"{where} has an attribute whose name is not UTF-8 ({name!r}); the file is damaged")
            v = am[name]
            try:
                v = _s(v)
            except UnicodeDecodeError:
                v = None
            if v is None or not _utf8(v):
                raise self.bad(f"{label} is not UTF-8 text; the file is damaged")
            out[name] = v
        return out

    # -- the parts of a trace ----------------------------------------------------------------------
    def root_attrs(self) -> dict[str, Any]:
        attrs = self.attrs(self.f, "/")
        if "schema_version" not in attrs:
            raise self.bad("is an HDF5 file but not an hpcsketch trace (no schema_version attribute)")
        v = attrs["schema_version"]
        if not _is_int(v):
            raise self.bad(f"schema_version is {_describe(v)}; expected a scalar integer (1..{SCHEMA_VERSION})")
        if v > SCHEMA_VERSION:
            raise self.bad(f"has trace schema version {v}, newer than this hpcsketch reads ({SCHEMA_VERSION}); "
                           "upgrade hpcsketch to read it")
        if v < 1:
            raise self.bad(f"has unknown trace schema version {v}; expected 1..{SCHEMA_VERSION}")
        for k in INT_ATTRS:
            if k in attrs and k != "schema_version":
                v = attrs[k]
                if not _is_int(v):
                    raise self.bad(f"attribute {k} is {_describe(v)}; expected an integer")
                if v < 0 and k not in SIGNED_INT_ATTRS:
                    raise self.bad(f"attribute {k} is {v}; expected an integer >= 0")
        if attrs.get("writer_pid", 0) > MAX_PID:
            raise self.bad(f"attribute writer_pid is {attrs['writer_pid']}; expected a process id (< 2^31)")
        for k in TEXT_ATTRS:
            if k in attrs and not isinstance(attrs[k], str):
                raise self.bad(f"attribute {k} is {_describe(attrs[k])}; expected text")
        if "status" in attrs and attrs["status"] not in STATUSES:
            raise self.bad(f"attribute status is {attrs['status']!r}; expected one of {', '.join(STATUSES)}")
        for k in NUMBER_ATTRS:
            if k in attrs and not _is_number(attrs[k]):
                raise self.bad(f"attribute {k} is {_describe(attrs[k])}; expected a number")
        for k, want in JSON_ATTRS.items():
            if k in attrs:
                _json_attr(self, attrs, k, want)
        resolved = attrs.get("_parsed_job_resolved")
        if resolved is not None:
            for sec, keys in resolved.items():
                if not isinstance(keys, dict):
                    raise self.bad(f"attribute job_resolved: section {sec!r} is {_describe(keys)}; expected a JSON "
                                   "object of the section's keys")
        overrides = attrs.get("_parsed_job_overrides")
        if overrides is not None and not all(isinstance(o, str) for o in overrides):
            raise self.bad("attribute job_overrides holds something other than text; expected a JSON list of "
                           "'section.key=value' strings")
        for k in list(attrs):
            if k.startswith("_parsed_"):
                del attrs[k]
        return attrs

    def group(self, name: str) -> h5py.Group | None:
        return self.member(self.f, name, f"/{name}", h5py.Group)

    def metrics(self) -> dict[str, np.ndarray]:
        g = self.group("trace")
        if g is None:
            return {}
        names = self.names(g, "/trace")
        if not names:
            return {}
        if "step" not in names:
            raise self.bad("/trace has metrics but no /trace/step; expected /trace/step (int64, the round of each row)")
        dsets = {k: self.member(g, k, f"/trace/{k}", h5py.Dataset) for k in names}
        self.dataset(dsets["step"], "/trace/step", 1, "iu", read=False)
        steps = dsets["step"].shape[0]
        for k, ds in dsets.items():
            self.dataset(ds, f"/trace/{k}", 1, "iu" if k == "step" else "iufb", read=False)
            if ds.shape[0] > steps:
                raise self.bad(f"/trace/{k} has {ds.shape[0]} rows but /trace/step has {steps}; expected at most "
                               "one value per recorded step (the same length)")
        return {k: self.dataset(ds, f"/trace/{k}", 1, "iu" if k == "step" else "iufb") for k, ds in dsets.items()}

    def timing(self) -> dict[str, np.ndarray]:
        g = self.group("timing")
        if g is None:
            return {}
        out = {}
        for k in self.names(g, "/timing"):
            ds = self.member(g, k, f"/timing/{k}", h5py.Dataset)
            if k == "step":
                out[k] = self.dataset(ds, "/timing/step", 1, "iu")
            else:
                out[k] = self.dataset(ds, f"/timing/{k}", 2, "iuf")
        return out

    def memory(self) -> None:
        """/memory is not read for analysis, but ``--resume`` truncates it: checked, not read."""
        g = self.group("memory")
        if g is None:
            return
        for k in self.names(g, "/memory"):
            ds = self.member(g, k, f"/memory/{k}", h5py.Dataset)
            self.dataset(ds, f"/memory/{k}", 1 if k == "step" else 2, "iu" if k == "step" else "iuf", read=False)

    def summary(self) -> dict[str, Any]:
        g = self.group("summary")
        return self.attrs(g, "/summary") if g is not None else {}

    def env(self) -> dict[str, Any]:
        g = self.group("env")
        return self.attrs(g, "/env") if g is not None else {}

    def hessian(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        g = self.group("hessian")
        if g is None:
            return {}, {}
        attrs = self.attrs(g, "/hessian")
        if "dim" in attrs and not _is_number(attrs["dim"]):
            raise self.bad(f"/hessian/@dim is {_describe(attrs['dim'])}; expected a number (the model dimension)")
        dsets = {k: self.member(g, k, f"/hessian/{k}", h5py.Dataset) for k in self.names(g, "/hessian")}
        if not dsets:
            return {}, attrs
        if "step" not in dsets:
            raise self.bad("/hessian has measurements but no /hessian/step; expected /hessian/step (int64, the "
                           "round of each measurement)")
        self.dataset(dsets["step"], "/hessian/step", 1, "iu", read=False)
        m = dsets["step"].shape[0]
        for k, ds in dsets.items():
            where = f"/hessian/{k}"
            ndim = 1 if k in HESSIAN_1D else 2 if k in HESSIAN_2D else (1, 2)
            self.dataset(ds, where, ndim, "iu" if k == "step" else "iuf", read=False)
            if ds.shape[0] != m:
                raise self.bad(f"{where} has {ds.shape[0]} rows but /hessian/step has {m}; expected one row per "
                               "measurement")
        if ("grid" in dsets) != ("density" in dsets):
            has, lacks = ("grid", "density") if "grid" in dsets else ("density", "grid")
            raise self.bad(f"/hessian has {has} but no {lacks}; expected both (the density at each grid point)")
        if "grid" in dsets and dsets["grid"].shape != dsets["density"].shape:
            raise self.bad(f"/hessian/grid has shape {dsets['grid'].shape} but /hessian/density "
                           f"{dsets['density'].shape}; expected the same (a density value at each grid point)")
        rows = {k: self.dataset(ds, f"/hessian/{k}", ds.ndim, "iu" if k == "step" else "iuf") for k, ds in dsets.items()}
        return rows, attrs


def _printable(text: str) -> str:
    """``text`` with what is not UTF-8 (names h5py decoded with surrogates) escaped: the message goes
    into report.md and the terminal."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8(v: Any) -> bool:
    """Whether text (or every text in a list) is valid UTF-8: h5py hands undecodable bytes on as
    lone surrogates, which nothing downstream can write."""
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(v, list):
        return all(_utf8(x) for x in v)
    return True


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _describe(v: Any) -> str:
    """What a value is, for an error message (short)."""
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape} ({v.dtype})"
    if isinstance(v, list):
        return f"a list of {_plural(len(v), 'value')}"
    if isinstance(v, str):
        return f"the text {v[:40]!r}" + ("..." if len(v) > 40 else "")
    if isinstance(v, dict):
        return "a JSON object"
    if v is None or isinstance(v, h5py.Empty):
        return "empty"
    return f"{type(v).__name__} {v!r}"[:60]


def _json_attr(c: _Checked, attrs: dict[str, Any], name: str, want: type) -> None:
    text = attrs[name]
    words = "a JSON object ({...})" if want is dict else "a JSON list ([...])"
    if not isinstance(text, str):
        raise c.bad(f"attribute {name} is {_describe(text)}; expected text holding {words}")
    if text == "":
        attrs[f"_parsed_{name}"] = want()
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise c.bad(f"attribute {name} is not JSON ({text[:40]!r}{'...' if len(text) > 40 else ''}); "
                    f"expected {words}") from None
    if not isinstance(value, want):
        raise c.bad(f"attribute {name} is JSON {_describe(value)}; expected {words}")
    attrs[f"_parsed_{name}"] = value


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
        if not _is_int(pid) or not 0 < int(pid) <= MAX_PID:
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError, ValueError):
            return False
        return False

    @property
    def job_resolved(self) -> dict[str, Any]:
        """The resolved job (read_trace has checked that it is a JSON object of sections)."""
        return json.loads(self.attrs.get("job_resolved", "{}") or "{}")

    @property
    def sweep_point(self) -> dict[str, Any]:
        return json.loads(self.attrs.get("sweep_point", "{}") or "{}")

    def metric(self, name: str) -> np.ndarray:
        return self.metrics[name]


#: the root groups a trace's reader knows (others are listed in Trace.extra, unread)
KNOWN_GROUPS = ("env", "trace", "timing", "summary", "checkpoint", "hessian", "memory")


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """A trace, every part of it checked before it is read.

    Raises BadInput with one line naming the file, what is wrong and what would be right for a
    file that is missing, not HDF5, damaged, of a newer schema, or hand-edited into something the
    writer never writes (see :class:`_Checked`). Never allocates more than a few times the file's
    size, whatever its header declares.
    """
    p = Path(path)
    if not p.exists():
        raise BadInput("no such file", source=str(p))
    if not p.is_file():
        raise BadInput("is not a regular file; expected an HDF5 trace", source=str(p))
    try:
        size = p.stat().st_size
        if not h5py.is_hdf5(p):
            raise BadInput("is not an HDF5 file (truncated, corrupt, or not a trace)", source=str(p))
    except OSError as e:
        raise BadInput(f"cannot be read ({e.strerror or e})", source=str(p)) from None
    try:
        with open_for_reading(p) as f:
            c = _Checked(p, f, size)
            attrs = c.root_attrs()
            env = c.env()
            metrics = c.metrics()
            timing = c.timing()
            summary = c.summary()
            c.memory()
            hessian, hessian_attrs = c.hessian()
            extra = {}
            for name in c.names(f, "/"):
                if name not in KNOWN_GROUPS:
                    extra[name] = name
    except BadInput:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError, IndexError,
            OverflowError, SystemError) as e:  # h5py's errors on damaged metadata (RuntimeError, TypeError, ...)
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(_printable(f"cannot be read as a trace (truncated or corrupt HDF5: {text})"),
                       source=_printable(str(p))) from None
    except MemoryError:  # HDF5 itself, on a damaged header the checks above cannot see into
        raise BadInput("cannot be read as a trace (damaged: reading it ran out of memory)", source=str(p)) from None
    # rows past the last flush of a metric that appeared late are NaN-filled by the writer
    return Trace(p, attrs, env, metrics, timing, summary, extra, hessian, hessian_attrs)


def read_hessian(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The /hessian group of a trace or of a file ``hpcsketch hessian`` wrote (empty when absent),
    checked as read_trace checks a trace's."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open_for_reading(p) as f:
            return _Checked(p, f, size).hessian()
    except BadInput:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError, IndexError,
            OverflowError, SystemError, MemoryError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(f"cannot be read ({text})", source=str(path)) from None


@dataclass
class Checkpoint:
    step: int
    world_size: int
    runner_state: dict[str, Any]
    state: dict[str, np.ndarray]  # this rank's algorithm state


def read_checkpoint(path: str | os.PathLike[str], rank: int, *, resuming: bool = True) -> Checkpoint:
    """One rank's checkpoint of a trace, verified before anything is returned, refusing what
    cannot be resumed (``resuming``: for ``--resume``; otherwise any trace with a checkpoint,
    e.g. to measure its model).

    Schema 2: the checkpoint file the trace names (``checkpoint_file``) must have the SHA-256
    the trace records, belong to the trace's run and step, and every array and the runner state
    must match their checksums (``tracing.checkpoint.read_verified``). Schema 1 kept the
    checkpoint in /checkpoint inside the trace, without checksums: still read, unverified.
    """
    from hpcsketch.tracing import checkpoint as _ckpt

    p = Path(path)
    for attempt in range(3):
        t = read_trace(p)  # schema and integrity checks first
        if resuming and t.status == "completed":
            raise BadInput("the run completed: there is nothing to resume", source=str(p))
        if t.attrs.get("checkpoint_file"):
            try:
                step, world, runner_state, state = _ckpt.read_verified(p, t.attrs, rank)
            except BadInput:
                # a live run replaced its checkpoint between the two reads: read the trace again
                if attempt < 2 and read_trace(p).attrs.get("checkpoint_file") != t.attrs.get("checkpoint_file"):
                    continue
                raise
            return Checkpoint(step, world, runner_state, state)
        break
    try:
        with open_for_reading(p) as f:
            if "checkpoint" not in f:
                raise BadInput(
                    f"has no checkpoint (status {t.status}); runs write one when stopped by a signal "
                    "and every [run] checkpoint_every rounds",
                    source=str(p),
                )
            g = f["checkpoint"]
            rg = g.get(f"rank{rank}")
            state = {k.replace("|", "/"): ds[()] for k, ds in rg.items()} if rg is not None else {}
            return Checkpoint(int(g.attrs["step"]), int(g.attrs["world_size"]), json.loads(_s(g.attrs["runner_state"])), state)
    except BadInput:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BadInput(f"its checkpoint cannot be read ({text})", source=str(p)) from None
